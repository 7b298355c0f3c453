// The synthetic pretraining corpus and the cold-start SFT examples.
#include "data/corpus.h"

#include <algorithm>
#include <functional>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "data/countdown_trace.h"
#include "data/prompt_template.h"
#include "data/rng.h"

namespace aha::data {
namespace {

// The lines of one trace before assembly. `failed` attempts are optional and are dropped,
// first ones first, when the entry would exceed max_length.
struct TracePlan {
  std::string restatement;  // the problem restated, before the tries
  std::vector<std::string> failed;
  std::string reflection_before;  // a caught slip or a noticed miss, before the final line
  std::string final_line;
  std::string reflection_after;  // a verification, after the final line
  std::string answer;
  bool broken_format = false;
  int broken_variant = 0;
  bool reflective_failed = false;  // a line of `failed` contains a reflection (search style)
};

// "the numbers are 3, 5 and 7 and the target is 22.\n": the careful traces' first line.
std::string RestateLine(const CountdownProblem& problem) {
  return absl::StrCat("the numbers are ", ListText(problem.nums), " and the target is ",
                      problem.target, ".\n");
}

// A miss noticed after a pause: "3 + 5 = 8. 8 * 7 = 56.\nwait, 56 is not 22, try again.\n".
std::string NoticedMissLine(const Chain& chain, int64_t target) {
  return absl::StrCat(StepsText(chain.steps), ".\nwait, ", chain.value.ToString(), " is not ",
                      target, ", try again.\n");
}

std::string FailedLine(const Chain& chain, int64_t target) {
  return absl::StrCat(StepsText(chain.steps), ", not ", target, ".\n");
}

// The chain written as if its last step gave the target: an arithmetic slip.
std::string SlipLine(const Chain& chain, int64_t target) {
  std::vector<CountdownStep> steps = chain.steps;
  steps.back().result = Rational::Integer(target);
  return absl::StrCat(StepsText(steps), ", got it.\n");
}

// Plans a trace: the final attempt and answer, an optional reflection and the failed tries.
TracePlan PlanTrace(const CorpusOptions& options, const CountdownProblem& problem,
                    const CountdownSolution& solution, SplitMix64& rng) {
  const int64_t target = problem.target;
  bool want_correct = rng.Bernoulli(options.correct_fraction);
  const bool want_reflection = rng.Bernoulli(options.reflection_fraction);
  TracePlan plan;
  plan.broken_format = rng.Bernoulli(options.broken_format_fraction);
  plan.broken_variant = static_cast<int>(rng.UniformInt(0, 2));

  const int64_t failed_count = rng.UniformInt(0, options.max_failed_attempts);
  for (int64_t i = 0; i < failed_count; ++i) {
    std::optional<Chain> chain = RandomWrongChain(problem.nums, target, rng);
    if (chain) plan.failed.push_back(FailedLine(*chain, target));
  }

  std::optional<Chain> wrong = RandomWrongChain(problem.nums, target, rng);
  if (!wrong) want_correct = true;  // every random chain hits the target: nothing wrong to say
  if (want_correct) {
    plan.final_line = absl::StrCat(StepsText(solution.steps), ", got it.\n");
    plan.answer = solution.expression;
  } else if (rng.Bernoulli(0.5)) {
    plan.final_line = SlipLine(*wrong, target);
    plan.answer = wrong->expression;
  } else {
    plan.final_line = absl::StrCat(StepsText(wrong->steps), ", close enough.\n");
    plan.answer = wrong->expression;
  }

  if (want_reflection) {
    // Verification only makes sense after a right answer.
    const int variants = want_correct ? 3 : 2;
    const int64_t variant = rng.UniformInt(0, variants - 1);
    std::optional<Chain> other = RandomWrongChain(problem.nums, target, rng);
    if (variant == 2) {
      plan.reflection_after = absl::StrCat("verify: ", StepsText(solution.steps), ". correct.\n");
    } else if (other && variant == 0) {
      plan.reflection_before =
          absl::StrCat(SlipLine(*other, target), "wait, check: ", StepText(other->steps.back()),
                       ", not ", target, ". a mistake.\n");
    } else if (other) {
      plan.reflection_before = NoticedMissLine(*other, target);
    }
  }
  return plan;
}

std::string GiveUpLine(const Chain& chain) {
  return absl::StrCat(StepsText(chain.steps), ", close enough.\n");
}

// A missed try, sometimes written with a reflection: a slip that is then caught, or a miss
// noticed after a pause. Sets `reflective` when it wrote one.
std::string MissLine(const CorpusOptions& options, const Chain& chain, int64_t target,
                     SplitMix64& rng, bool* reflective) {
  if (!rng.Bernoulli(options.reflection_fraction)) return FailedLine(chain, target);
  *reflective = true;
  if (rng.Bernoulli(0.5)) {
    return absl::StrCat(SlipLine(chain, target), "wait, check: ", StepText(chain.steps.back()),
                        ", not ", target, ". a mistake.\n");
  }
  return NoticedMissLine(chain, target);
}

std::string Closing(const TracePlan& plan);
std::string ThinkOpening(const std::string& prompt);

// Plans a search trace: random tries until one hits the target, the trace gives up, or the
// next try would not fit in max_length (then the last try that fits becomes the give-up).
absl::StatusOr<TracePlan> PlanSearchTrace(const CorpusOptions& options,
                                          const CountdownProblem& problem,
                                          const std::string& prompt, SplitMix64& rng) {
  const int64_t target = problem.target;
  const bool persistent = rng.Bernoulli(options.persistent_fraction);
  TracePlan plan;
  plan.broken_format = rng.Bernoulli(options.broken_format_fraction);
  plan.broken_variant = static_cast<int>(rng.UniformInt(0, 2));
  const bool careful = persistent && options.careful_persistence;
  if (careful) plan.restatement = RestateLine(problem);
  // The fixed characters around the tries: the think opening, the restatement, the closing
  // and the marker.
  const size_t fixed = prompt.size() + ThinkOpening(prompt).size() + plan.restatement.size() +
                       options.end_marker.size();
  std::vector<Chain> missed;  // the chains behind plan.failed, for turning one into a give-up
  std::vector<bool> missed_reflective;
  size_t failed_length = 0;
  auto fits = [&](const std::string& final_line, const std::string& answer) {
    TracePlan probe = plan;
    probe.answer = answer;
    const size_t length = fixed + failed_length + final_line.size() + Closing(probe).size();
    return static_cast<int64_t>(length) <= options.max_length;
  };
  std::set<std::string> tried;  // careful traces: the tries written so far
  // Careful traces in systematic order take their tries from this list, then random new ones.
  std::vector<Chain> ordered;
  if (careful && options.careful_order == "systematic") ordered = SystematicChains(problem.nums);
  size_t next_ordered = 0;
  for (;;) {
    std::optional<Chain> chain;
    if (next_ordered < ordered.size()) {
      chain = ordered[next_ordered++];
    } else {
      chain = RandomChain(problem.nums, rng);
    }
    if (!chain) return absl::InternalError("corpus: a problem has no way to combine its numbers");
    // A careful trace draws again until the try is new. A problem with few distinct tries,
    // such as [1, 1, 1], can run out of new ones, and then repeats one after 200 draws.
    if (careful) {
      for (int redraw = 0; redraw < 200 && tried.count(StepsText(chain->steps)) > 0; ++redraw) {
        chain = RandomChain(problem.nums, rng);
      }
      tried.insert(StepsText(chain->steps));
    }
    const bool hit = chain->value == Rational::Integer(target);
    const bool give_up = !hit && !persistent && rng.Bernoulli(options.give_up_probability);
    const std::string final_line =
        hit ? absl::StrCat(StepsText(chain->steps), ", got it.\n") : GiveUpLine(*chain);
    if (!fits(final_line, chain->expression)) {
      // Too long: the previous miss, written as a give-up, ends the trace instead.
      while (!missed.empty()) {
        Chain last = missed.back();
        failed_length -= plan.failed.back().size();
        plan.failed.pop_back();
        missed.pop_back();
        missed_reflective.pop_back();
        if (fits(GiveUpLine(last), last.expression)) {
          plan.final_line = GiveUpLine(last);
          plan.answer = last.expression;
          break;
        }
      }
      if (plan.final_line.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "corpus: a single try for problem ", ListText(problem.nums), " -> ", target,
            " does not fit in max_length ", options.max_length, "; raise max_length"));
      }
      break;
    }
    if (hit || give_up) {
      plan.final_line = final_line;
      plan.answer = chain->expression;
      break;
    }
    bool reflective = false;
    plan.failed.push_back(MissLine(options, *chain, target, rng, &reflective));
    failed_length += plan.failed.back().size();
    missed.push_back(*chain);
    missed_reflective.push_back(reflective);
  }
  for (bool r : missed_reflective) plan.reflective_failed = plan.reflective_failed || r;
  return plan;
}

std::string Closing(const TracePlan& plan) {
  if (!plan.broken_format) return absl::StrCat("</think>\n<answer> ", plan.answer, " </answer>");
  switch (plan.broken_variant) {
    case 0:
      return absl::StrCat("<answer> ", plan.answer, " </answer>");  // no </think>
    case 1:
      return absl::StrCat("</think>\nanswer: ", plan.answer);  // no answer tags
    default:
      return absl::StrCat("</think>\n<answer> ", plan.answer);  // unclosed answer
  }
}

// Templates that end in "<think>" have opened the think block for the model.
std::string ThinkOpening(const std::string& prompt) {
  const std::string open = "<think>";
  const bool opened = prompt.size() >= open.size() &&
                      prompt.compare(prompt.size() - open.size(), open.size(), open) == 0;
  return opened ? "\n" : " <think>\n";
}

bool AnswerSolves(const std::string& answer, const CountdownProblem& problem) {
  absl::StatusOr<EvaluatedExpression> e = EvaluateExpression(answer);
  if (!e.ok() || e->value != Rational::Integer(problem.target)) return false;
  std::vector<int64_t> used = e->numbers, given = problem.nums;
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  return used == given;
}

absl::Status TooLong(const char* key, int64_t max_length, size_t length,
                     const Example& example) {
  return absl::InvalidArgumentError(absl::StrCat(
      "corpus: the shortest entry for problem ", example.fields.dump(), " needs ", length,
      " characters but ", key, " is ", max_length, "; raise ", key,
      " or use a shorter prompt_template (e.g. countdown-short)"));
}

// Joins the plan into the completion, dropping failed attempts and then the reflection while
// the entry is longer than max_length.
absl::StatusOr<CorpusEntry> Assemble(const CorpusOptions& options, TracePlan plan,
                                     CorpusEntry entry) {
  const std::string opening = ThinkOpening(entry.prompt);
  for (;;) {
    std::string completion =
        absl::StrCat(opening, plan.restatement, absl::StrJoin(plan.failed, ""),
                     plan.reflection_before, plan.final_line, plan.reflection_after,
                     Closing(plan), options.end_marker);
    const size_t length = entry.prompt.size() + completion.size();
    if (static_cast<int64_t>(length) <= options.max_length) {
      entry.completion = std::move(completion);
      entry.reflection = !plan.reflection_before.empty() || !plan.reflection_after.empty() ||
                         plan.reflective_failed;
      break;
    }
    if (!plan.failed.empty()) {
      plan.failed.erase(plan.failed.begin());
    } else if (!plan.reflection_before.empty() || !plan.reflection_after.empty()) {
      plan.reflection_before.clear();
      plan.reflection_after.clear();
    } else {
      return TooLong("max_length", options.max_length, length, entry.example);
    }
  }
  entry.answer = plan.answer;
  entry.broken_format = plan.broken_format;
  return entry;
}

absl::StatusOr<std::vector<CountdownProblem>> CorpusProblems(const CorpusOptions& options) {
  const CountdownOptions& p = options.problems;
  ASSIGN_OR_RETURN(
      std::vector<CountdownProblem> test,
      GenerateCountdownProblems(p, DeriveSeed(p.seed, kCountdownTestStream), p.test_size));
  std::vector<std::string> test_keys;
  for (const CountdownProblem& problem : test) test_keys.push_back(CountdownProblemKey(problem));
  // Problems may repeat, each time with a fresh trace: the demo ranges hold only about 2400
  // distinct problems outside the test split.
  return GenerateCountdownProblems(p, DeriveSeed(p.seed, kCountdownCorpusStream), options.size,
                                   test_keys, /*distinct=*/false);
}

absl::Status CheckFraction(const char* name, double value) {
  if (value >= 0.0 && value <= 1.0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("corpus: ", name, " must be between 0 and 1, got ", value));
}

// A corpus problem with its solution, Example and rendered prompt.
struct SolvedProblem {
  CountdownProblem problem;
  CountdownSolution solution;
  Example example;
  std::string prompt;
};

// Validates the options, then calls `visit` on each corpus problem in order.
absl::Status ForEachProblem(const CorpusOptions& options,
                            const std::function<absl::Status(const SolvedProblem&)>& visit) {
  RETURN_IF_ERROR(ValidateCorpusOptions(options));
  ASSIGN_OR_RETURN(PromptTemplate prompt_template, PromptTemplate::Resolve(options.prompt_template));
  ASSIGN_OR_RETURN(std::vector<CountdownProblem> problems, CorpusProblems(options));
  for (size_t i = 0; i < problems.size(); ++i) {
    SolvedProblem solved;
    solved.problem = problems[i];
    std::optional<CountdownSolution> solution = SolveCountdown(
        solved.problem.nums, solved.problem.target, options.problems.integer_intermediates);
    if (!solution) return absl::InternalError("corpus: a generated problem has no solution");
    solved.solution = *std::move(solution);
    solved.example = MakeCountdownExample(static_cast<int64_t>(i), solved.problem);
    ASSIGN_OR_RETURN(solved.prompt, prompt_template.Render(solved.example));
    RETURN_IF_ERROR(visit(solved));
  }
  return absl::OkStatus();
}

}  // namespace

CountdownOptions CorpusOptions::DemoCountdownOptions() {
  CountdownOptions o;
  o.min_count = 3;
  o.max_count = 3;
  o.min_number = 1;
  o.max_number = 10;
  o.min_target = 1;
  o.max_target = 50;
  o.integer_intermediates = true;
  o.train_size = 1500;  // of about 1900 distinct problems outside the test split
  o.test_size = 500;
  return o;
}

absl::Status ValidateCorpusOptions(const CorpusOptions& options) {
  RETURN_IF_ERROR(ValidateCountdownOptions(options.problems));
  RETURN_IF_ERROR(CheckFraction("correct_fraction", options.correct_fraction));
  RETURN_IF_ERROR(CheckFraction("reflection_fraction", options.reflection_fraction));
  RETURN_IF_ERROR(CheckFraction("broken_format_fraction", options.broken_format_fraction));
  RETURN_IF_ERROR(CheckFraction("persistent_fraction", options.persistent_fraction));
  RETURN_IF_ERROR(CheckFraction("give_up_probability", options.give_up_probability));
  if (options.style != "guided" && options.style != "search") {
    return absl::InvalidArgumentError(absl::StrCat(
        "corpus: style must be \"guided\" or \"search\", got \"", options.style, "\""));
  }
  if (options.careful_persistence && options.style != "search") {
    return absl::InvalidArgumentError(
        "corpus: careful_persistence applies to style \"search\" only; set style: search or "
        "remove careful_persistence");
  }
  if (options.careful_order != "random" && options.careful_order != "systematic") {
    return absl::InvalidArgumentError(absl::StrCat(
        "corpus: careful_order must be \"random\" or \"systematic\", got \"",
        options.careful_order, "\""));
  }
  if (options.careful_order == "systematic" && !options.careful_persistence) {
    return absl::InvalidArgumentError(
        "corpus: careful_order applies to careful traces only; set careful_persistence: true or "
        "remove careful_order");
  }
  if (options.size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("corpus: size must not be negative, got ", options.size));
  }
  if (options.max_failed_attempts < 0 || options.max_failed_attempts > 10) {
    return absl::InvalidArgumentError(absl::StrCat(
        "corpus: max_failed_attempts must be between 0 and 10, got ", options.max_failed_attempts));
  }
  if (options.end_marker.empty()) {
    return absl::InvalidArgumentError("corpus: end_marker must not be empty");
  }
  if (options.max_length < 1 || options.cold_start_max_length < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("corpus: max_length and cold_start_max_length must be positive, got ",
                     options.max_length, " and ", options.cold_start_max_length));
  }
  return PromptTemplate::Resolve(options.prompt_template).status();
}

absl::StatusOr<std::vector<CorpusEntry>> GenerateCorpus(const CorpusOptions& options) {
  SplitMix64 rng(DeriveSeed(options.seed, 0));
  std::vector<CorpusEntry> entries;
  RETURN_IF_ERROR(ForEachProblem(options, [&](const SolvedProblem& solved) -> absl::Status {
    CorpusEntry entry;
    entry.example = solved.example;
    entry.prompt = solved.prompt;
    TracePlan plan;
    if (options.style == "search") {
      ASSIGN_OR_RETURN(plan, PlanSearchTrace(options, solved.problem, solved.prompt, rng));
    } else {
      plan = PlanTrace(options, solved.problem, solved.solution, rng);
    }
    ASSIGN_OR_RETURN(entry, Assemble(options, std::move(plan), std::move(entry)));
    entry.correct = AnswerSolves(entry.answer, solved.problem);
    entries.push_back(std::move(entry));
    return absl::OkStatus();
  }));
  return entries;
}

nlohmann::json CorpusEntryToJson(const CorpusEntry& entry) {
  nlohmann::json row = entry.example.fields;
  row["id"] = entry.example.id;
  row["text"] = entry.Text();
  row["prompt"] = entry.prompt;
  row["completion"] = entry.completion;
  row["answer"] = entry.answer;
  row["correct"] = entry.correct;
  row["reflection"] = entry.reflection;
  row["broken_format"] = entry.broken_format;
  return row;
}

absl::StatusOr<std::vector<SftExample>> GenerateColdStart(const CorpusOptions& options) {
  SplitMix64 rng(DeriveSeed(options.seed, 1));
  std::vector<SftExample> examples;
  RETURN_IF_ERROR(ForEachProblem(options, [&](const SolvedProblem& solved) -> absl::Status {
    const CountdownProblem& problem = solved.problem;
    SftExample example;
    example.id = solved.example.id;
    example.prompt = solved.prompt;

    // The misses before the final try, oldest first, and the try that reaches the target.
    std::vector<std::string> tries;
    std::vector<CountdownStep> hit_steps = solved.solution.steps;
    std::string hit_expression = solved.solution.expression;
    if (options.style == "search") {
      // Random tries until one hits. The demo ranges hit about once in 13 tries; a problem
      // whose random tries keep missing ends with the solver's solution after 64 of them.
      for (int k = 0; k < 64; ++k) {
        std::optional<Chain> chain = RandomChain(problem.nums, rng);
        if (!chain) {
          return absl::InternalError("corpus: a problem has no way to combine its numbers");
        }
        if (chain->value == Rational::Integer(problem.target)) {
          hit_steps = chain->steps;
          hit_expression = chain->expression;
          break;
        }
        tries.push_back(NoticedMissLine(*chain, problem.target));
      }
    } else {
      const int64_t failed_count = rng.UniformInt(0, options.max_failed_attempts);
      for (int64_t k = 0; k < failed_count; ++k) {
        std::optional<Chain> chain = RandomWrongChain(problem.nums, problem.target, rng);
        if (chain) tries.push_back(absl::StrCat("try ", FailedLine(*chain, problem.target)));
      }
    }
    std::vector<std::string> checks;
    for (const CountdownStep& step : hit_steps) {
      checks.push_back(absl::StrCat(StepText(step), " right"));
    }
    const std::string try_word = options.style == "search" ? "" : "try ";
    const std::string careful = absl::StrCat(
        try_word, StepsText(hit_steps), ", got it.\nverify: ", absl::StrJoin(checks, ". "),
        ".\nthe answer uses ", ListText(problem.nums), " once each.\n</think>\n<answer> ",
        hit_expression, " </answer>", options.end_marker);
    const std::string opening =
        absl::StrCat(ThinkOpening(example.prompt), RestateLine(problem));
    for (;;) {
      example.response = absl::StrCat(opening, absl::StrJoin(tries, ""), careful);
      const size_t length = example.prompt.size() + example.response.size();
      if (static_cast<int64_t>(length) <= options.cold_start_max_length) break;
      if (tries.empty()) {
        return TooLong("cold_start_max_length", options.cold_start_max_length, length,
                       solved.example);
      }
      tries.erase(tries.begin());
    }
    examples.push_back(std::move(example));
    return absl::OkStatus();
  }));
  return examples;
}

}  // namespace aha::data
