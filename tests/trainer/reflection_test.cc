// Tests of the reflection keyword counter: each matching rule of trainer/reflection.h, the
// per-response rates and the batch summary.
#include "trainer/reflection.h"

#include <gtest/gtest.h>

namespace aha {
namespace {

ReflectionCounter DefaultCounter() {
  absl::StatusOr<ReflectionCounter> counter = ReflectionCounter::Create(DefaultReflectionSets());
  EXPECT_TRUE(counter.ok()) << counter.status();
  return *std::move(counter);
}

int64_t R1Count(const std::string& text) { return DefaultCounter().Count(text, 100).counts[0]; }
int64_t OatCount(const std::string& text) { return DefaultCounter().Count(text, 100).counts[1]; }

TEST(ReflectionTest, BuiltInSetsHaveListedKeywords) {
  EXPECT_EQ(R1ReflectionWords().keywords.size(), 10u);
  EXPECT_EQ(OatReflectionPhrases().keywords.size(), 8u);
  ASSERT_TRUE(BuiltInReflectionSet("oat").ok());
  EXPECT_EQ(BuiltInReflectionSet("oat")->name, "oat");
  EXPECT_EQ(BuiltInReflectionSet("r2").status().code(), absl::StatusCode::kNotFound);
}

TEST(ReflectionTest, EveryR1WordCountsOnce) {
  for (const std::string& word : R1ReflectionWords().keywords) {
    EXPECT_EQ(R1Count("so " + word + " then"), 1) << word;
  }
}

TEST(ReflectionTest, EveryOatPhraseCountsOnce) {
  for (const std::string& phrase : OatReflectionPhrases().keywords) {
    EXPECT_EQ(OatCount("so " + phrase + " then"), 1) << phrase;
  }
}

TEST(ReflectionTest, WholeWordsOnly) {
  EXPECT_EQ(R1Count("but"), 1);
  EXPECT_EQ(R1Count("butter"), 0);
  EXPECT_EQ(R1Count("rebut"), 0);
  EXPECT_EQ(R1Count("checking the checks"), 0);
  EXPECT_EQ(R1Count("errors"), 0);
  EXPECT_EQ(R1Count("wait2"), 0);
  EXPECT_EQ(R1Count("wait_for"), 0);
}

TEST(ReflectionTest, CaseInsensitiveAndPunctuationBounded) {
  EXPECT_EQ(R1Count("Wait,"), 1);
  EXPECT_EQ(R1Count("WAIT!"), 1);
  EXPECT_EQ(R1Count("(verify)"), 1);
  EXPECT_EQ(R1Count("\"Check\"."), 1);
  EXPECT_EQ(R1Count("<think>wait</think>"), 1);
  EXPECT_EQ(OatCount("Try Again."), 1);
}

TEST(ReflectionTest, RepeatedWordsCountEachTime) {
  EXPECT_EQ(R1Count("wait, wait, WAIT"), 3);
  EXPECT_EQ(R1Count("But wait, that is wrong. Let me check."), 4);
}

TEST(ReflectionTest, PhrasesMatchAcrossWhitespace) {
  EXPECT_EQ(OatCount("try again"), 1);
  EXPECT_EQ(OatCount("try\nagain"), 1);
  EXPECT_EQ(OatCount("try\tagain"), 1);
  EXPECT_EQ(OatCount("try  \n again"), 1);
  EXPECT_EQ(OatCount("check\r\nagain"), 1);
}

TEST(ReflectionTest, PhrasesDoNotMatchAcrossPunctuation) {
  EXPECT_EQ(OatCount("try, again"), 0);
  EXPECT_EQ(OatCount("try. Again"), 0);
  EXPECT_EQ(OatCount("try-again"), 0);
  EXPECT_EQ(OatCount("retry again"), 0);
  EXPECT_EQ(OatCount("try"), 0);
  EXPECT_EQ(OatCount("again try"), 0);
}

TEST(ReflectionTest, HyphenatedFormsAsListed) {
  EXPECT_EQ(OatCount("re-evaluate"), 1);
  EXPECT_EQ(OatCount("reevaluate"), 1);
  EXPECT_EQ(OatCount("Re-examine"), 1);
  EXPECT_EQ(OatCount("reexamine"), 0);
  EXPECT_EQ(OatCount("re evaluate"), 0);
  // "re-evaluate" is one word, so R1's "evaluate" does not count inside it.
  EXPECT_EQ(R1Count("re-evaluate"), 0);
  // A hyphen at a word's edge is punctuation.
  EXPECT_EQ(R1Count("wait- no"), 1);
  EXPECT_EQ(R1Count("-check"), 1);
  EXPECT_EQ(R1Count("double-check"), 0);
}

TEST(ReflectionTest, NonAsciiBytesSeparateWords) {
  EXPECT_EQ(R1Count("wait\xE2\x80\x94no"), 1);  // em dash
  EXPECT_EQ(R1Count("\xE5\xA5\xBD" "wait"), 1);
}

TEST(ReflectionTest, EmptyTextHasNoReflection) {
  ResponseReflection r = DefaultCounter().Count("", 0);
  ASSERT_EQ(r.counts.size(), 2u);
  EXPECT_EQ(r.counts[0], 0);
  EXPECT_EQ(r.per_1k_tokens[0], 0.0);
  EXPECT_FALSE(r.has_reflection);
}

TEST(ReflectionTest, PerThousandTokens) {
  ResponseReflection r = DefaultCounter().Count("Wait, let me check again.", 8);
  ASSERT_EQ(r.counts.size(), 2u);
  EXPECT_EQ(r.counts[0], 2);  // wait, check
  EXPECT_EQ(r.counts[1], 1);  // check again
  EXPECT_DOUBLE_EQ(r.per_1k_tokens[0], 250.0);
  EXPECT_DOUBLE_EQ(r.per_1k_tokens[1], 125.0);
  EXPECT_TRUE(r.has_reflection);
  EXPECT_EQ(DefaultCounter().Count("wait", 0).per_1k_tokens[0], 0.0);
}

TEST(ReflectionTest, CountKeywordsPerKeyword) {
  std::vector<int64_t> counts = DefaultCounter().CountKeywords("wait but wait", 0);
  ASSERT_EQ(counts.size(), 10u);
  EXPECT_EQ(counts[0], 2);  // wait
  EXPECT_EQ(counts[3], 1);  // but
  EXPECT_EQ(counts[1], 0);  // mistake
}

TEST(ReflectionTest, CustomSetCounts) {
  absl::StatusOr<ReflectionCounter> counter =
      ReflectionCounter::Create({{"mine", {"Hmm", "let me see"}}});
  ASSERT_TRUE(counter.ok()) << counter.status();
  ResponseReflection r = counter->Count("hmm. Let me\nsee; HMM", 10);
  ASSERT_EQ(r.counts.size(), 1u);
  EXPECT_EQ(r.counts[0], 3);
}

TEST(ReflectionTest, CreateRejectsInvalidSets) {
  EXPECT_FALSE(ReflectionCounter::Create({{"", {"wait"}}}).ok());
  EXPECT_FALSE(ReflectionCounter::Create({{"a", {}}}).ok());
  EXPECT_FALSE(ReflectionCounter::Create({{"a", {"wait"}}, {"a", {"check"}}}).ok());
  EXPECT_FALSE(ReflectionCounter::Create({{"a", {"wait!"}}}).ok());
  EXPECT_FALSE(ReflectionCounter::Create({{"a", {"try  again"}}}).ok());
  EXPECT_FALSE(ReflectionCounter::Create({{"a", {" wait"}}}).ok());
  EXPECT_FALSE(ReflectionCounter::Create({{"a", {""}}}).ok());
  absl::Status status = ReflectionCounter::Create({{"mine", {"wait?"}}}).status();
  EXPECT_NE(status.message().find("'wait?'"), std::string::npos) << status;
  EXPECT_NE(status.message().find("'mine'"), std::string::npos) << status;
}

TEST(ReflectionTest, LengthStatsInterpolate) {
  LengthStats stats = ComputeLengthStats({40, 10, 30, 20, 100});
  EXPECT_DOUBLE_EQ(stats.mean, 40.0);
  EXPECT_DOUBLE_EQ(stats.p50, 30.0);
  // numpy.percentile([10, 20, 30, 40, 100], 90) = 40 + 0.6 * 60 = 76.
  EXPECT_DOUBLE_EQ(stats.p90, 76.0);
  EXPECT_DOUBLE_EQ(stats.max, 100.0);
  LengthStats one = ComputeLengthStats({7});
  EXPECT_DOUBLE_EQ(one.p50, 7.0);
  EXPECT_DOUBLE_EQ(one.p90, 7.0);
  LengthStats none = ComputeLengthStats({});
  EXPECT_DOUBLE_EQ(none.max, 0.0);
}

TEST(ReflectionTest, SummarizeBatch) {
  // Two responses reflect (one correct) and two do not (one correct).
  std::vector<ResponseInput> responses = {
      {"Wait, 3 + 4 = 7. Let me check again.", 10, true},
      {"but no", 20, false},
      {"3 + 4 = 7", 30, true},
      {"2 + 2 = 5", 40, false},
  };
  BatchReflectionStats stats = DefaultCounter().Summarize(responses);
  ASSERT_EQ(stats.sets.size(), 2u);
  EXPECT_EQ(stats.sets[0].name, "r1");
  EXPECT_DOUBLE_EQ(stats.sets[0].fraction, 0.5);
  EXPECT_DOUBLE_EQ(stats.sets[0].mean_count, 3.0 / 4.0);    // wait, check, but
  EXPECT_DOUBLE_EQ(stats.sets[0].per_1k_tokens, 3000.0 / 100.0);
  EXPECT_EQ(stats.sets[1].name, "oat");
  EXPECT_DOUBLE_EQ(stats.sets[1].fraction, 0.25);
  EXPECT_DOUBLE_EQ(stats.sets[1].mean_count, 0.25);
  EXPECT_DOUBLE_EQ(stats.any_fraction, 0.5);
  ASSERT_TRUE(stats.accuracy_with_reflection.has_value());
  EXPECT_DOUBLE_EQ(*stats.accuracy_with_reflection, 0.5);
  ASSERT_TRUE(stats.accuracy_without_reflection.has_value());
  EXPECT_DOUBLE_EQ(*stats.accuracy_without_reflection, 0.5);
  EXPECT_DOUBLE_EQ(stats.length.mean, 25.0);
  EXPECT_DOUBLE_EQ(stats.length.p50, 25.0);
  EXPECT_DOUBLE_EQ(stats.length.max, 40.0);
}

TEST(ReflectionTest, MetricValuesNamedPerSet) {
  std::vector<ResponseInput> responses = {{"wait", 4, true}, {"fine", 4, false}};
  std::map<std::string, double> values =
      ReflectionMetricValues(DefaultCounter().Summarize(responses));
  EXPECT_EQ(values.size(), 7u);
  EXPECT_DOUBLE_EQ(values["r1_fraction"], 0.5);
  EXPECT_DOUBLE_EQ(values["r1_mean_count"], 0.5);
  EXPECT_DOUBLE_EQ(values["r1_per_1k_tokens"], 125.0);
  EXPECT_DOUBLE_EQ(values["oat_fraction"], 0.0);
  EXPECT_DOUBLE_EQ(values["any_fraction"], 0.5);
}

TEST(ReflectionTest, SummarizeLeavesMissingAccuracyEmpty) {
  BatchReflectionStats stats = DefaultCounter().Summarize({{"no keywords here", 5, true}});
  EXPECT_FALSE(stats.accuracy_with_reflection.has_value());
  ASSERT_TRUE(stats.accuracy_without_reflection.has_value());
  EXPECT_DOUBLE_EQ(*stats.accuracy_without_reflection, 1.0);
  BatchReflectionStats empty = DefaultCounter().Summarize({});
  EXPECT_DOUBLE_EQ(empty.any_fraction, 0.0);
  EXPECT_FALSE(empty.accuracy_without_reflection.has_value());
}

}  // namespace
}  // namespace aha
