// Tests the Countdown solver and generator: solvability, seeds, disjoint splits.
#include "data/countdown.h"

#include <set>

#include <gtest/gtest.h>

#include "data/arithmetic.h"

namespace aha::data {
namespace {

// Checks `expression` against the problem with exact arithmetic: value and numbers used.
void ExpectSolves(const std::string& expression, const CountdownProblem& problem) {
  absl::StatusOr<EvaluatedExpression> e = EvaluateExpression(expression);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->value, Rational::Integer(problem.target)) << expression;
  std::vector<int64_t> used = e->numbers, given = problem.nums;
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  EXPECT_EQ(used, given) << expression;
}

CountdownOptions SmallOptions() {
  CountdownOptions o;
  o.train_size = 400;
  o.test_size = 100;
  return o;
}

TEST(CountdownTest, SolverFindsKnownSolution) {
  std::optional<CountdownSolution> s = SolveCountdown({50, 10, 4}, 10);
  ASSERT_TRUE(s.has_value());
  ExpectSolves(s->expression, {{50, 10, 4}, 10});
  ASSERT_EQ(s->steps.size(), 2u);
  EXPECT_EQ(s->steps.back().result, Rational::Integer(10));
}

TEST(CountdownTest, SolverNeedsFractions) {
  // 24 from {1, 3, 4, 6} needs 6 / (1 - 3 / 4); it has no integer-only solution.
  std::optional<CountdownSolution> s = SolveCountdown({1, 3, 4, 6}, 24);
  ASSERT_TRUE(s.has_value());
  ExpectSolves(s->expression, {{1, 3, 4, 6}, 24});
  EXPECT_FALSE(SolveCountdown({1, 3, 4, 6}, 24, /*integer_intermediates=*/true).has_value());
}

TEST(CountdownTest, SolverReportsUnreachable) {
  EXPECT_FALSE(SolveCountdown({1, 1}, 5).has_value());
  EXPECT_FALSE(SolveCountdown({2, 3, 5}, 1000).has_value());
}

TEST(CountdownTest, ReachableTargetsOfTwoNumbers) {
  // 6 + 3, 6 - 3, 3 - 6, 6 * 3, 6 / 3 and 3 / 6: integers 2, 3, 9, 18 in [1, 100].
  EXPECT_EQ(ReachableTargets({6, 3}, 1, 100), (std::vector<int64_t>{2, 3, 9, 18}));
  EXPECT_EQ(ReachableTargets({6, 3}, -10, 100), (std::vector<int64_t>{-3, 2, 3, 9, 18}));
}

TEST(CountdownTest, EveryProblemSolvable) {
  absl::StatusOr<CountdownSplits> splits = GenerateCountdown(SmallOptions());
  ASSERT_TRUE(splits.ok()) << splits.status();
  ASSERT_EQ(splits->train.size(), 400u);
  ASSERT_EQ(splits->test.size(), 100u);
  for (const auto* split : {&splits->train, &splits->test}) {
    for (const Example& example : *split) {
      absl::StatusOr<CountdownProblem> p = CountdownProblemFromFields(example.fields);
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_GE(p->nums.size(), 3u);
      EXPECT_LE(p->nums.size(), 4u);
      for (int64_t n : p->nums) {
        EXPECT_GE(n, 1);
        EXPECT_LE(n, 100);
      }
      EXPECT_GE(p->target, 1);
      EXPECT_LE(p->target, 100);
      EXPECT_EQ(example.ground_truth, std::to_string(p->target));
      std::optional<CountdownSolution> s = SolveCountdown(p->nums, p->target);
      ASSERT_TRUE(s.has_value()) << CountdownProblemKey(*p);
      ExpectSolves(s->expression, *p);
    }
  }
}

TEST(CountdownTest, FieldsHoldExactlyNumsAndTarget) {
  Example e = MakeCountdownExample(7, {{3, 5, 7}, 22});
  EXPECT_EQ(e.id, 7);
  EXPECT_EQ(e.fields.size(), 2u);
  EXPECT_EQ(e.fields["nums"], nlohmann::json::array({3, 5, 7}));
  EXPECT_EQ(e.fields["target"], 22);
  EXPECT_EQ(e.ground_truth, "22");
  EXPECT_EQ(e.question,
            "Using the numbers [3, 5, 7], create an equation that equals 22. You can use basic "
            "arithmetic operations (+, -, *, /) and each number can only be used once");
}

TEST(CountdownTest, SameSeedSameProblems) {
  absl::StatusOr<CountdownSplits> a = GenerateCountdown(SmallOptions());
  absl::StatusOr<CountdownSplits> b = GenerateCountdown(SmallOptions());
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(a->train.size(), b->train.size());
  for (size_t i = 0; i < a->train.size(); ++i) {
    EXPECT_EQ(a->train[i].fields, b->train[i].fields);
  }
  CountdownOptions other = SmallOptions();
  other.seed = 43;
  absl::StatusOr<CountdownSplits> c = GenerateCountdown(other);
  ASSERT_TRUE(c.ok());
  int same = 0;
  for (size_t i = 0; i < a->train.size(); ++i) same += a->train[i].fields == c->train[i].fields;
  EXPECT_LT(same, 10);
}

// Pins the generator's output, so a change in the PRNG or the enumeration order, on any
// platform, shows up here.
TEST(CountdownTest, GoldenFirstProblems) {
  CountdownOptions o = SmallOptions();
  o.train_size = 3;
  o.test_size = 2;
  absl::StatusOr<CountdownSplits> s = GenerateCountdown(o);
  ASSERT_TRUE(s.ok());
  std::vector<std::string> keys;
  for (const Example& e : s->test) keys.push_back(e.fields.dump());
  for (const Example& e : s->train) keys.push_back(e.fields.dump());
  const std::vector<std::string> expected = {
      R"({"nums":[80,64,32],"target":40})", R"({"nums":[22,40,21,97],"target":94})",
      R"({"nums":[13,98,40,94],"target":33})", R"({"nums":[48,15,33,98],"target":46})",
      R"({"nums":[89,51,65,48],"target":53})"};
  EXPECT_EQ(keys, expected);
}

TEST(CountdownTest, SplitsDisjointAndUnique) {
  CountdownOptions o;
  o.min_count = o.max_count = 3;
  o.max_number = 10;
  o.max_target = 20;
  o.train_size = 1000;  // of about 1700 distinct problems in these ranges
  o.test_size = 300;
  o.integer_intermediates = true;
  absl::StatusOr<CountdownSplits> splits = GenerateCountdown(o);
  ASSERT_TRUE(splits.ok()) << splits.status();
  std::set<std::string> train_keys, test_keys;
  for (const Example& e : splits->train) {
    train_keys.insert(CountdownProblemKey(*CountdownProblemFromFields(e.fields)));
  }
  for (const Example& e : splits->test) {
    test_keys.insert(CountdownProblemKey(*CountdownProblemFromFields(e.fields)));
  }
  EXPECT_EQ(train_keys.size(), 1000u);
  EXPECT_EQ(test_keys.size(), 300u);
  for (const std::string& k : test_keys) EXPECT_EQ(train_keys.count(k), 0u) << k;
}

TEST(CountdownTest, TestSplitIndependentOfTrainSize) {
  CountdownOptions a = SmallOptions();
  CountdownOptions b = SmallOptions();
  b.train_size = 50;
  absl::StatusOr<CountdownSplits> sa = GenerateCountdown(a);
  absl::StatusOr<CountdownSplits> sb = GenerateCountdown(b);
  ASSERT_TRUE(sa.ok());
  ASSERT_TRUE(sb.ok());
  ASSERT_EQ(sa->test.size(), sb->test.size());
  for (size_t i = 0; i < sa->test.size(); ++i) EXPECT_EQ(sa->test[i].fields, sb->test[i].fields);
}

TEST(CountdownTest, IntegerIntermediatesHonoured) {
  CountdownOptions o = SmallOptions();
  o.integer_intermediates = true;
  absl::StatusOr<CountdownSplits> splits = GenerateCountdown(o);
  ASSERT_TRUE(splits.ok());
  for (const Example& e : splits->train) {
    CountdownProblem p = *CountdownProblemFromFields(e.fields);
    std::optional<CountdownSolution> s = SolveCountdown(p.nums, p.target, true);
    ASSERT_TRUE(s.has_value());
    for (const CountdownStep& step : s->steps) EXPECT_TRUE(step.result.IsInteger());
  }
}

TEST(CountdownTest, ExhaustedRangeIsError) {
  CountdownOptions o;
  o.min_count = o.max_count = 2;
  o.min_number = o.max_number = 2;
  o.train_size = 10;
  o.test_size = 0;
  // {2, 2} reaches only 1 and 4 in [1, 100].
  absl::StatusOr<CountdownSplits> splits = GenerateCountdown(o);
  EXPECT_EQ(splits.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(CountdownTest, InvalidOptionsNamed) {
  CountdownOptions o;
  o.max_count = 6;
  EXPECT_NE(GenerateCountdown(o).status().message().find("max_count"), std::string::npos);
  o = CountdownOptions{};
  o.min_target = 50;
  o.max_target = 10;
  EXPECT_NE(GenerateCountdown(o).status().message().find("min_target"), std::string::npos);
}

TEST(CountdownTest, FieldsParseErrors) {
  EXPECT_FALSE(CountdownProblemFromFields(nlohmann::json::object()).ok());
  EXPECT_FALSE(CountdownProblemFromFields({{"nums", {1, 2.5}}, {"target", 3}}).ok());
  EXPECT_FALSE(CountdownProblemFromFields({{"nums", {1, 2}}, {"target", "3"}}).ok());
}

}  // namespace
}  // namespace aha::data
