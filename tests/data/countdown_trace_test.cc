// Tests for data/countdown_trace.h: the systematic order of tries.
#include "data/countdown_trace.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "data/arithmetic.h"
#include "data/countdown.h"

namespace aha::data {
namespace {

TEST(SystematicChainsTest, FollowsTheOperatorOrderThenThePairs) {
  const std::vector<Chain> chains = SystematicChains({2, 3, 8});
  ASSERT_GE(chains.size(), 6u);
  // + then -: (2, 3) then 8, (2, 8) then 3, (3, 8) then 2. - writes the larger value first.
  EXPECT_EQ(StepsText(chains[0].steps), "2 + 3 = 5. 8 - 5 = 3");
  EXPECT_EQ(chains[0].expression, "8 - (2 + 3)");
  EXPECT_EQ(StepsText(chains[1].steps), "2 + 8 = 10. 10 - 3 = 7");
  EXPECT_EQ(chains[1].expression, "(2 + 8) - 3");
  EXPECT_EQ(StepsText(chains[2].steps), "3 + 8 = 11. 11 - 2 = 9");
  // - then *.
  EXPECT_EQ(StepsText(chains[3].steps), "3 - 2 = 1. 1 * 8 = 8");
  EXPECT_EQ(chains[3].expression, "(3 - 2) * 8");
  EXPECT_EQ(StepsText(chains[4].steps), "8 - 2 = 6. 6 * 3 = 18");
  EXPECT_EQ(StepsText(chains[5].steps), "8 - 3 = 5. 5 * 2 = 10");
}

TEST(SystematicChainsTest, DividesExactlyAndNeverRepeats) {
  // 9 + 1 and 1 + 9 are one try. 9 / 9 and 9 / 1 divide, and nothing else is a fraction.
  const std::vector<Chain> chains = SystematicChains({9, 1, 9});
  std::set<std::string> keys;
  for (const Chain& chain : chains) {
    std::string key;
    for (const CountdownStep& step : chain.steps) {
      ASSERT_TRUE(step.result.IsInteger()) << StepsText(chain.steps);
      Rational a = step.left, b = step.right;
      if ((step.op == '+' || step.op == '*') && b < a) std::swap(a, b);
      key += a.ToString() + step.op + b.ToString() + ";";
    }
    EXPECT_TRUE(keys.insert(key).second) << "repeated: " << StepsText(chain.steps);
  }
  int divisions = 0;
  for (const Chain& chain : chains) {
    for (const CountdownStep& step : chain.steps) divisions += step.op == '/';
  }
  EXPECT_GT(divisions, 0);
  EXPECT_EQ(StepsText(chains[0].steps), "9 + 1 = 10. 10 - 9 = 1");
  EXPECT_EQ(StepsText(chains[1].steps), "9 + 9 = 18. 18 - 1 = 17");  // (1, 9) then 9 repeats
}

// Every expression uses the numbers once each and evaluates to the chain's value, and every
// target that the solver can reach with integer steps is the value of some chain.
TEST(SystematicChainsTest, CoversEveryReachableDemoTarget) {
  for (int64_t a = 1; a <= 10; ++a) {
    for (int64_t b = 1; b <= 10; ++b) {
      for (int64_t c = 1; c <= 10; ++c) {
        const std::vector<int64_t> nums = {a, b, c};
        std::set<int64_t> values;
        for (const Chain& chain : SystematicChains(nums)) {
          absl::StatusOr<EvaluatedExpression> e = EvaluateExpression(chain.expression);
          ASSERT_TRUE(e.ok()) << chain.expression;
          EXPECT_EQ(e->value, chain.value) << chain.expression;
          std::vector<int64_t> used = e->numbers, given = nums;
          std::sort(used.begin(), used.end());
          std::sort(given.begin(), given.end());
          EXPECT_EQ(used, given) << chain.expression;
          values.insert(chain.value.num);
        }
        for (int64_t target : ReachableTargets(nums, 1, 50, /*integer_intermediates=*/true)) {
          EXPECT_EQ(values.count(target), 1u) << a << ", " << b << ", " << c << " -> " << target;
        }
      }
    }
  }
}

TEST(SystematicChainsTest, OnlyThreeNumbers) {
  EXPECT_TRUE(SystematicChains({3, 4}).empty());
  EXPECT_TRUE(SystematicChains({1, 2, 3, 4}).empty());
}

}  // namespace
}  // namespace aha::data
