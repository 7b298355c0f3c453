// Tests the pretraining corpus and cold-start examples: format, length, mix fractions.
#include "data/corpus.h"

#include <set>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "data/arithmetic.h"
#include "data/countdown_trace.h"
#include "data/prompt_template.h"

namespace aha::data {
namespace {

CorpusOptions SmallCorpus(int64_t size) {
  CorpusOptions o;
  o.size = size;
  return o;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Returns the text between the last "<answer>" and the following "</answer>", or nullopt.
std::optional<std::string> AnswerOf(const std::string& completion) {
  const size_t open = completion.rfind("<answer>");
  if (open == std::string::npos) return std::nullopt;
  const size_t close = completion.find("</answer>", open);
  if (close == std::string::npos) return std::nullopt;
  std::string inner = completion.substr(open + 8, close - open - 8);
  return inner.substr(1, inner.size() - 2);  // the spaces inside the tags
}

// Checks the answer independently of the generator's own flag.
bool Solves(const std::string& answer, const nlohmann::json& fields) {
  absl::StatusOr<EvaluatedExpression> e = EvaluateExpression(answer);
  if (!e.ok()) return false;
  std::vector<int64_t> used = e->numbers;
  std::vector<int64_t> given = fields["nums"].get<std::vector<int64_t>>();
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  return used == given && e->value == Rational::Integer(fields["target"].get<int64_t>());
}

bool HasReflectionWord(const std::string& text) {
  for (const char* word : {"wait", "check", "verify", "mistake"}) {
    if (text.find(word) != std::string::npos) return true;
  }
  return false;
}

TEST(CorpusTest, EntriesRenderPromptAndEndWithMarker) {
  const CorpusOptions o = SmallCorpus(500);
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  ASSERT_EQ(corpus->size(), 500u);
  absl::StatusOr<PromptTemplate> t = PromptTemplate::Named("countdown-short");
  ASSERT_TRUE(t.ok());
  for (const CorpusEntry& e : *corpus) {
    EXPECT_EQ(e.prompt, *t->Render(e.example));
    EXPECT_TRUE(EndsWith(e.completion, "<|endoftext|>")) << e.completion;
    EXPECT_LE(static_cast<int64_t>(e.Text().size()), o.max_length);
    EXPECT_EQ(e.example.fields["nums"].size(), 3u);
    if (!e.broken_format) {
      EXPECT_NE(e.completion.find("</think>\n<answer> "), std::string::npos) << e.completion;
      std::optional<std::string> answer = AnswerOf(e.completion);
      ASSERT_TRUE(answer.has_value()) << e.completion;
      EXPECT_EQ(*answer, e.answer);
      EXPECT_EQ(Solves(*answer, e.example.fields), e.correct) << *answer;
    }
  }
}

TEST(CorpusTest, JsonLinesParse) {
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(SmallCorpus(50));
  ASSERT_TRUE(corpus.ok());
  for (const CorpusEntry& e : *corpus) {
    const std::string line = CorpusEntryToJson(e).dump();
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(row.is_discarded());
    EXPECT_TRUE(EndsWith(row["text"].get<std::string>(), "<|endoftext|>"));
    EXPECT_EQ(row["text"], e.prompt + e.completion);
    EXPECT_EQ(row["correct"], e.correct);
    EXPECT_EQ(row["target"], e.example.fields["target"]);
  }
}

TEST(CorpusTest, FractionsMatchOptions) {
  CorpusOptions o = SmallCorpus(4000);
  o.correct_fraction = 0.3;
  o.reflection_fraction = 0.2;
  o.broken_format_fraction = 0.1;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  int correct = 0, reflection = 0, broken = 0, reflection_words = 0, well_formed_correct = 0;
  for (const CorpusEntry& e : *corpus) {
    correct += e.correct;
    reflection += e.reflection;
    broken += e.broken_format;
    reflection_words += HasReflectionWord(e.completion);
    std::optional<std::string> answer = AnswerOf(e.completion);
    if (answer && Solves(*answer, e.example.fields)) ++well_formed_correct;
  }
  const double n = 4000.0;
  // Three standard deviations of a binomial at n = 4000 are at most 0.024.
  EXPECT_NEAR(correct / n, 0.3, 0.025);
  EXPECT_NEAR(reflection / n, 0.2, 0.025);
  EXPECT_NEAR(broken / n, 0.1, 0.025);
  // The flag and the text agree: only reflective traces use the reflection words.
  EXPECT_EQ(reflection_words, reflection);
  // Answers that a strict <answer> parser sees as correct: correct and not broken in a way
  // that hides the answer (two of the three broken variants).
  EXPECT_NEAR(well_formed_correct / n, 0.3 * (1 - 0.1 * 2.0 / 3.0), 0.025);
}

TEST(CorpusTest, ExtremeFractions) {
  CorpusOptions o = SmallCorpus(300);
  o.correct_fraction = 1.0;
  o.reflection_fraction = 0.0;
  o.broken_format_fraction = 0.0;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok());
  for (const CorpusEntry& e : *corpus) {
    EXPECT_TRUE(e.correct) << e.completion;
    EXPECT_FALSE(HasReflectionWord(e.completion)) << e.completion;
  }
  o.correct_fraction = 0.0;
  corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok());
  for (const CorpusEntry& e : *corpus) EXPECT_FALSE(e.correct) << e.completion;
}

TEST(CorpusTest, SameOptionsSameCorpus) {
  absl::StatusOr<std::vector<CorpusEntry>> a = GenerateCorpus(SmallCorpus(200));
  absl::StatusOr<std::vector<CorpusEntry>> b = GenerateCorpus(SmallCorpus(200));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].Text(), (*b)[i].Text());
}

TEST(CorpusTest, AvoidsTestSplit) {
  CorpusOptions o = SmallCorpus(3000);
  absl::StatusOr<CountdownSplits> splits = GenerateCountdown(o.problems);
  ASSERT_TRUE(splits.ok());
  std::set<std::string> test_keys;
  for (const Example& e : splits->test) {
    test_keys.insert(CountdownProblemKey(*CountdownProblemFromFields(e.fields)));
  }
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok());
  for (const CorpusEntry& e : *corpus) {
    const std::string key = CountdownProblemKey(*CountdownProblemFromFields(e.example.fields));
    EXPECT_EQ(test_keys.count(key), 0u) << key;
  }
}

TEST(CorpusTest, TightMaxLengthDropsAttempts) {
  CorpusOptions o = SmallCorpus(200);
  o.max_length = 200;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  for (const CorpusEntry& e : *corpus) EXPECT_LE(e.Text().size(), 200u);
}

TEST(CorpusTest, TooLongTemplateIsError) {
  CorpusOptions o = SmallCorpus(10);
  o.prompt_template = "tinyzero-countdown";
  absl::Status s = GenerateCorpus(o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("max_length"), std::string::npos) << s;
  o.max_length = 800;
  EXPECT_TRUE(GenerateCorpus(o).ok());
}

TEST(CorpusTest, R1TemplateOpensThink) {
  CorpusOptions o = SmallCorpus(20);
  o.prompt_template = "r1-zero";
  o.max_length = 800;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok());
  for (const CorpusEntry& e : *corpus) {
    EXPECT_EQ(e.completion.rfind(" <think>\n", 0), 0u) << e.completion;
  }
}

TEST(CorpusTest, InvalidOptionsNamed) {
  CorpusOptions o = SmallCorpus(10);
  o.correct_fraction = 1.5;
  EXPECT_NE(GenerateCorpus(o).status().message().find("correct_fraction"), std::string::npos);
  o = SmallCorpus(10);
  o.prompt_template = "nope";
  EXPECT_FALSE(GenerateCorpus(o).ok());
  o = SmallCorpus(10);
  o.end_marker = "";
  EXPECT_FALSE(GenerateCorpus(o).ok());
}

CorpusOptions SearchCorpus(int64_t size) {
  CorpusOptions o = SmallCorpus(size);
  o.style = "search";
  o.max_length = 448;
  o.reflection_fraction = 0.0;
  o.broken_format_fraction = 0.0;
  return o;
}

// The lines of the think block: the text between the prompt and "</think>".
std::vector<std::string> ThinkLines(const CorpusEntry& e) {
  const std::string think = e.completion.substr(0, e.completion.find("</think>"));
  std::vector<std::string> lines = absl::StrSplit(think, '\n', absl::SkipEmpty());
  return lines;
}

// Splits "3 + 4 = 7. 7 * 2 = 14, not 12." into its computed value and its tail ("not 12."),
// checking the arithmetic of every step. Returns nullopt when a step is miscomputed.
std::optional<std::pair<int64_t, std::string>> CheckTry(const std::string& line) {
  const size_t comma = line.rfind(", ");
  if (comma == std::string::npos) return std::nullopt;
  int64_t value = 0;
  for (absl::string_view step : absl::StrSplit(line.substr(0, comma), ". ")) {
    std::vector<std::string> sides = absl::StrSplit(step, " = ");
    if (sides.size() != 2) return std::nullopt;
    absl::StatusOr<EvaluatedExpression> left = EvaluateExpression(sides[0]);
    if (!left.ok() || !absl::SimpleAtoi(sides[1], &value)) return std::nullopt;
    if (left->value != Rational::Integer(value)) return std::nullopt;
  }
  return std::make_pair(value, line.substr(comma + 2));
}

TEST(SearchCorpusTest, TriesStopAtFirstHit) {
  CorpusOptions o = SearchCorpus(1000);
  o.persistent_fraction = 0.5;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  int correct = 0;
  for (const CorpusEntry& e : *corpus) {
    EXPECT_LE(static_cast<int64_t>(e.Text().size()), o.max_length);
    const int64_t target = e.example.fields["target"].get<int64_t>();
    const std::vector<std::string> lines = ThinkLines(e);
    ASSERT_FALSE(lines.empty()) << e.completion;
    for (size_t i = 0; i < lines.size(); ++i) {
      std::optional<std::pair<int64_t, std::string>> tried = CheckTry(lines[i]);
      ASSERT_TRUE(tried.has_value()) << lines[i];
      const bool last = i + 1 == lines.size();
      if (!last) {
        EXPECT_NE(tried->first, target) << e.completion;
        EXPECT_EQ(tried->second, absl::StrCat("not ", target, ".")) << e.completion;
      } else if (tried->first == target) {
        EXPECT_EQ(tried->second, "got it.") << e.completion;
      } else {
        EXPECT_EQ(tried->second, "close enough.") << e.completion;
      }
    }
    std::optional<std::string> answer = AnswerOf(e.completion);
    ASSERT_TRUE(answer.has_value()) << e.completion;
    EXPECT_EQ(Solves(*answer, e.example.fields), e.correct) << e.completion;
    EXPECT_EQ(e.correct, CheckTry(lines.back())->first == target) << e.completion;
    correct += e.correct;
  }
  // Half the traces search until they hit or run out of room, so more than the single-try
  // hit rate (about 8% in the demo ranges) succeed.
  EXPECT_GT(correct, 200);
}

TEST(SearchCorpusTest, GiveUpAndPersistence) {
  CorpusOptions o = SearchCorpus(500);
  o.persistent_fraction = 0.0;
  o.give_up_probability = 1.0;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  for (const CorpusEntry& e : *corpus) EXPECT_EQ(ThinkLines(e).size(), 1u) << e.completion;

  o.persistent_fraction = 1.0;
  corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  int gave_up = 0;
  for (const CorpusEntry& e : *corpus) {
    if (e.correct) continue;
    ++gave_up;
    // A persistent trace stops without a hit only when one more try would not fit. The
    // longest try of two steps with the demo ranges, plus its tail, is under 60 characters.
    EXPECT_GT(static_cast<int64_t>(e.Text().size()) + 60, o.max_length) << e.completion;
  }
  EXPECT_LT(gave_up, 300);
}

// "the numbers are 3, 5 and 7 and the target is 22." for the entry's problem.
std::string Restatement(const nlohmann::json& fields) {
  std::vector<std::string> nums;
  for (int64_t n : fields["nums"].get<std::vector<int64_t>>()) nums.push_back(absl::StrCat(n));
  const std::string last = nums.back();
  nums.pop_back();
  return absl::StrCat("the numbers are ", absl::StrJoin(nums, ", "), " and ", last,
                      " and the target is ", fields["target"].get<int64_t>(), ".");
}

TEST(SearchCorpusTest, OnlyCarefulTracesRestateAndNeverRepeat) {
  CorpusOptions o = SearchCorpus(600);
  o.persistent_fraction = 0.3;
  o.give_up_probability = 1.0;  // the other traces stop after their first try
  o.careful_persistence = true;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  int restated = 0, restated_correct = 0, plain_correct = 0;
  for (const CorpusEntry& e : *corpus) {
    EXPECT_LE(static_cast<int64_t>(e.Text().size()), o.max_length);
    std::vector<std::string> lines = ThinkLines(e);
    ASSERT_FALSE(lines.empty());
    if (lines[0] != Restatement(e.example.fields)) {
      EXPECT_EQ(lines.size(), 1u) << e.completion;
      EXPECT_EQ(e.completion.find("the numbers are"), std::string::npos) << e.completion;
      plain_correct += e.correct;
      continue;
    }
    ++restated;
    restated_correct += e.correct;
    lines.erase(lines.begin());
    ASSERT_FALSE(lines.empty()) << e.completion;
    std::set<std::string> tries;
    for (const std::string& line : lines) {
      EXPECT_TRUE(CheckTry(line).has_value()) << line;
      EXPECT_TRUE(tries.insert(line.substr(0, line.rfind(", "))).second)
          << "a careful trace repeats a try: " << e.completion;
    }
  }
  EXPECT_GT(restated, 130);
  EXPECT_LT(restated, 230);
  // Searching on is what makes the restated traces succeed more often.
  EXPECT_GT(restated_correct * 1.0 / restated, 2.0 * plain_correct / (600 - restated));

  o.careful_persistence = false;
  corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  for (const CorpusEntry& e : *corpus) {
    EXPECT_EQ(e.completion.find("the numbers are"), std::string::npos) << e.completion;
  }
}

TEST(SearchCorpusTest, SystematicCarefulTracesFollowTheFixedOrder) {
  CorpusOptions o = SearchCorpus(400);
  o.persistent_fraction = 0.5;
  o.give_up_probability = 1.0;
  o.careful_persistence = true;
  o.careful_order = "systematic";
  o.max_length = 600;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  int restated = 0, restated_correct = 0;
  for (const CorpusEntry& e : *corpus) {
    std::vector<std::string> lines = ThinkLines(e);
    ASSERT_FALSE(lines.empty());
    if (lines[0] != Restatement(e.example.fields)) continue;
    ++restated;
    restated_correct += e.correct;
    lines.erase(lines.begin());
    const std::vector<Chain> order =
        SystematicChains(e.example.fields["nums"].get<std::vector<int64_t>>());
    ASSERT_FALSE(order.empty());
    for (size_t k = 0; k < lines.size() && k < order.size(); ++k) {
      EXPECT_EQ(lines[k].substr(0, lines[k].rfind(", ")), StepsText(order[k].steps))
          << "try " << k << " of " << e.completion;
    }
  }
  EXPECT_GT(restated, 150);
  // The fixed order finds the target more often than random tries within the same length
  // (0.535 measured with random order and max_length 576, docs/data.md).
  EXPECT_GT(restated_correct * 1.0 / restated, 0.6);

  o.careful_order = "sorted";
  EXPECT_NE(GenerateCorpus(o).status().message().find("careful_order"), std::string::npos);
  o.careful_order = "systematic";
  o.careful_persistence = false;
  EXPECT_NE(GenerateCorpus(o).status().message().find("careful_persistence: true"),
            std::string::npos);
}

TEST(SearchCorpusTest, ReflectionsCatchSlipsAndMisses) {
  CorpusOptions o = SearchCorpus(300);
  o.persistent_fraction = 1.0;
  o.reflection_fraction = 1.0;
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  int slips = 0, misses = 0;
  for (const CorpusEntry& e : *corpus) {
    const std::vector<std::string> lines = ThinkLines(e);
    EXPECT_EQ(e.reflection, lines.size() > 1) << e.completion;
    for (const std::string& line : lines) {
      slips += absl::StartsWith(line, "wait, check: ") && absl::EndsWith(line, ". a mistake.");
      misses += absl::StartsWith(line, "wait, ") && absl::EndsWith(line, ", try again.");
    }
  }
  EXPECT_GT(slips, 50);
  EXPECT_GT(misses, 50);
}

TEST(SearchCorpusTest, UnknownStyleIsNamed) {
  CorpusOptions o = SearchCorpus(10);
  o.style = "random";
  absl::Status s = GenerateCorpus(o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("style"), std::string::npos) << s;
  o = SmallCorpus(10);  // the guided style
  o.careful_persistence = true;
  EXPECT_NE(GenerateCorpus(o).status().message().find("careful_persistence"), std::string::npos);
  o = SearchCorpus(10);
  o.give_up_probability = -0.1;
  EXPECT_NE(GenerateCorpus(o).status().message().find("give_up_probability"), std::string::npos);
}

TEST(ColdStartTest, CarefulCorrectTraces) {
  CorpusOptions o = SmallCorpus(300);
  absl::StatusOr<std::vector<SftExample>> examples = GenerateColdStart(o);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 300u);
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);  // same problems
  ASSERT_TRUE(corpus.ok());
  for (size_t i = 0; i < examples->size(); ++i) {
    const SftExample& e = (*examples)[i];
    EXPECT_EQ(e.prompt, (*corpus)[i].prompt);
    EXPECT_NE(e.response.find("\nverify: "), std::string::npos);
    EXPECT_TRUE(EndsWith(e.response, "</answer><|endoftext|>")) << e.response;
    EXPECT_LE(static_cast<int64_t>(e.prompt.size() + e.response.size()), o.cold_start_max_length);
    std::optional<std::string> answer = AnswerOf(e.response);
    ASSERT_TRUE(answer.has_value());
    EXPECT_TRUE(Solves(*answer, (*corpus)[i].example.fields)) << e.response;
  }
}

TEST(ColdStartTest, SearchStyleTriesUntilAHitAndVerifies) {
  CorpusOptions o = SearchCorpus(300);
  o.cold_start_max_length = 512;
  absl::StatusOr<std::vector<SftExample>> examples = GenerateColdStart(o);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 300u);
  absl::StatusOr<std::vector<CorpusEntry>> corpus = GenerateCorpus(o);  // same problems
  ASSERT_TRUE(corpus.ok());
  int misses = 0;
  for (size_t i = 0; i < examples->size(); ++i) {
    const SftExample& e = (*examples)[i];
    const nlohmann::json& fields = (*corpus)[i].example.fields;
    const int64_t target = fields["target"].get<int64_t>();
    EXPECT_LE(static_cast<int64_t>(e.prompt.size() + e.response.size()), o.cold_start_max_length);
    const std::string think = e.response.substr(0, e.response.find("</think>"));
    std::vector<std::string> lines = absl::StrSplit(think, '\n', absl::SkipEmpty());
    ASSERT_GE(lines.size(), 4u) << e.response;
    EXPECT_EQ(lines[0], Restatement(fields));
    // Each miss is a try line and then "wait, V is not T, try again."
    size_t k = 1;
    for (; k + 1 < lines.size() && absl::StartsWith(lines[k + 1], "wait, "); k += 2) {
      ++misses;
      absl::StatusOr<EvaluatedExpression> value = EvaluateExpression(
          lines[k].substr(lines[k].rfind(" = ") + 3, lines[k].size() - lines[k].rfind(" = ") - 4));
      ASSERT_TRUE(value.ok()) << lines[k];
      EXPECT_EQ(lines[k + 1], absl::StrCat("wait, ", value->value.ToString(), " is not ", target,
                                           ", try again."));
    }
    ASSERT_EQ(lines.size(), k + 3) << e.response;
    std::optional<std::pair<int64_t, std::string>> hit = CheckTry(lines[k]);
    ASSERT_TRUE(hit.has_value()) << lines[k];
    EXPECT_EQ(hit->first, target);
    EXPECT_EQ(hit->second, "got it.");
    EXPECT_TRUE(absl::StartsWith(lines[k + 1], "verify: ")) << e.response;
    std::optional<std::string> answer = AnswerOf(e.response);
    ASSERT_TRUE(answer.has_value()) << e.response;
    EXPECT_TRUE(Solves(*answer, fields)) << e.response;
  }
  // About 12 misses per hit in the demo ranges, trimmed to fit: most examples search.
  EXPECT_GT(misses, 600);
}

}  // namespace
}  // namespace aha::data
