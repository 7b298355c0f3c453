// Tests of the `countdown` reward and its exact arithmetic parser.
#include "rewards/countdown_reward.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

TEST(ParseArithmeticTest, EvaluatesWithPrecedence) {
  auto parsed = ParseArithmetic("2 + 3 * (4 - 1)");
  ASSERT_TRUE(parsed.has_value());
  ASSERT_TRUE(parsed->value.has_value());
  EXPECT_EQ(parsed->value->num, 11);
  EXPECT_EQ(parsed->value->den, 1);
  EXPECT_EQ(parsed->numbers, (std::vector<int64_t>{2, 3, 4, 1}));
}

TEST(ParseArithmeticTest, KeepsFractionsExact) {
  // 1/3 * 3 is 1 exactly; floating point would give 0.9999999999999999 in some orders.
  auto parsed = ParseArithmetic("(1 / 3) * 3 - 10 / 4");
  ASSERT_TRUE(parsed && parsed->value);
  EXPECT_EQ(parsed->value->num, -3);
  EXPECT_EQ(parsed->value->den, 2);
}

TEST(ParseArithmeticTest, DivisionByZeroHasNoValue) {
  auto parsed = ParseArithmetic("5 / (3 - 3)");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->value.has_value());
}

TEST(ParseArithmeticTest, OverflowHasNoValue) {
  auto parsed = ParseArithmetic("9999999999 * 9999999999 * 9999999999");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->value.has_value());
}

TEST(ParseArithmeticTest, RejectsOutsideGrammar) {
  for (const char* text : {"", "-3 + 4", "3.5 + 1", "2 ** 3", "(1 + 2", "1 + 2)", "x + 1",
                           "1 2", "import os", "2 +"}) {
    EXPECT_FALSE(ParseArithmetic(text).has_value()) << text;
  }
}

TEST(ParseArithmeticTest, DeepNestingDoesNotCrash) {
  std::string deep(100000, '(');
  EXPECT_FALSE(ParseArithmetic(deep + "1").has_value());
}

TEST(JudgeCountdownTest, CorrectAnswer) {
  EXPECT_EQ(JudgeCountdown("<think>..</think><answer>(25 - 1) * 3</answer>", {3, 25, 1}, 72),
            CountdownVerdict::kCorrect);
}

TEST(JudgeCountdownTest, TrailingEqualsTarget) {
  EXPECT_EQ(JudgeCountdown("<answer>(25 - 1) * 3 = 72</answer>", {3, 25, 1}, 72),
            CountdownVerdict::kCorrect);
  EXPECT_EQ(JudgeCountdown("<answer>(25 - 1) * 3 = 71</answer>", {3, 25, 1}, 72),
            CountdownVerdict::kWrong);
  EXPECT_EQ(JudgeCountdown("<answer>(25 - 1) * 3 = x</answer>", {3, 25, 1}, 72),
            CountdownVerdict::kNoAnswer);
}

TEST(JudgeCountdownTest, EachNumberExactlyOnce) {
  EXPECT_EQ(JudgeCountdown("<answer>25 * 3 - 3</answer>", {3, 25, 1}, 72),
            CountdownVerdict::kWrong);
  EXPECT_EQ(JudgeCountdown("<answer>25 * 3 - 3</answer>", {3, 25, 3}, 72),
            CountdownVerdict::kCorrect);
  EXPECT_EQ(JudgeCountdown("<answer>24 * 3</answer>", {3, 24, 1}, 72), CountdownVerdict::kWrong);
}

TEST(JudgeCountdownTest, WrongValueAndDivisionByZero) {
  EXPECT_EQ(JudgeCountdown("<answer>25 + 3 + 1</answer>", {3, 25, 1}, 72),
            CountdownVerdict::kWrong);
  EXPECT_EQ(JudgeCountdown("<answer>25 / (1 - 1) + 3</answer>", {3, 25, 1, 1}, 72),
            CountdownVerdict::kWrong);
}

TEST(JudgeCountdownTest, NonIntegerResultIsWrong) {
  EXPECT_EQ(JudgeCountdown("<answer>7 / 2</answer>", {7, 2}, 3), CountdownVerdict::kWrong);
}

TEST(JudgeCountdownTest, LastAnswerBlockCounts) {
  EXPECT_EQ(JudgeCountdown("<answer>x</answer> then <answer>8 * 9</answer>", {8, 9}, 72),
            CountdownVerdict::kCorrect);
}

TEST(JudgeCountdownTest, MissingOrUnparsableAnswer) {
  EXPECT_EQ(JudgeCountdown("72", {8, 9}, 72), CountdownVerdict::kNoAnswer);
  EXPECT_EQ(JudgeCountdown("<answer>eight times nine</answer>", {8, 9}, 72),
            CountdownVerdict::kNoAnswer);
}

class CountdownRewardTest : public ::testing::Test {
 protected:
  std::unique_ptr<Reward> Make(const std::string& yaml) {
    RewardOptions options(YAML::Load(yaml), "test.yaml", "countdown");
    options.GetNode("name");
    auto reward = MakeCountdownReward(options);
    EXPECT_TRUE(reward.ok()) << reward.status();
    EXPECT_TRUE(options.CheckNoUnreadKeys().ok());
    return reward.ok() ? *std::move(reward) : nullptr;
  }

  static RewardSample Sample(const std::string& completion) {
    RewardSample sample;
    sample.completion = completion;
    sample.fields = {{"nums", {8, 9}}, {"target", 72}};
    return sample;
  }
};

TEST_F(CountdownRewardTest, ScoresCorrectWrongAndMissing) {
  auto reward = Make("{name: countdown, wrong_answer_score: 0.25}");
  ASSERT_NE(reward, nullptr);
  std::vector<RewardSample> samples = {Sample("<answer>8*9</answer>"),
                                       Sample("<answer>8+9</answer>"), Sample("no answer")};
  auto result = reward->Score(samples);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scores[0], 1.0);
  EXPECT_EQ(result->scores[1], 0.25);
  EXPECT_EQ(result->scores[2], 0.0);
}

TEST_F(CountdownRewardTest, DefaultWrongAnswerScore) {
  auto reward = Make("{name: countdown}");
  ASSERT_NE(reward, nullptr);
  std::vector<RewardSample> samples = {Sample("<answer>8+9</answer>")};
  auto result = reward->Score(samples);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->scores[0], 0.1);
}

TEST_F(CountdownRewardTest, RowWithoutNumsIsError) {
  auto reward = Make("{name: countdown}");
  ASSERT_NE(reward, nullptr);
  RewardSample sample = Sample("<answer>8*9</answer>");
  sample.fields.erase("nums");
  std::vector<RewardSample> samples = {sample};
  auto result = reward->Score(samples);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("nums"), std::string::npos) << result.status();
}

TEST_F(CountdownRewardTest, WrongFieldTypesAreNamed) {
  auto reward = Make("{name: countdown}");
  ASSERT_NE(reward, nullptr);
  RewardSample sample = Sample("<answer>8*9</answer>");
  sample.fields["nums"] = "8,9";
  std::vector<RewardSample> samples = {sample};
  auto result = reward->Score(samples);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("'nums' is \"8,9\", not an array"), std::string::npos)
      << result.status();

  samples[0].fields["nums"] = {8, 9};
  samples[0].fields["target"] = "72";
  result = reward->Score(samples);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("'target' is \"72\", not an integer"),
            std::string::npos)
      << result.status();
}

}  // namespace
}  // namespace aha
