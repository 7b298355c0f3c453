// Tests of the `format` reward's <think>/<answer> structure check.
#include "rewards/format_reward.h"

#include <string>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

TEST(FormatRewardTest, AcceptsMultilineBlocks) {
  EXPECT_TRUE(HasThinkAnswerFormat("<think>\nl1\nl2\n</think>\n<answer>9</answer>", false));
  EXPECT_TRUE(HasThinkAnswerFormat("  <think>a</think><answer>\n 9 \n</answer>\n\n", false));
}

TEST(FormatRewardTest, RejectsTwoThinkBlocks) {
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think><think>b</think><answer>1</answer>", false));
}

TEST(FormatRewardTest, RejectsExtraClosingAnswer) {
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think><answer>1</answer></answer>", false));
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think><answer>1</answer>\n</answer>", false));
}

TEST(FormatRewardTest, RejectsTextOutsideBlocks) {
  EXPECT_FALSE(HasThinkAnswerFormat("so <think>a</think><answer>1</answer>", false));
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think> so <answer>1</answer>", false));
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think><answer>1</answer> done", false));
}

TEST(FormatRewardTest, RejectsWrongOrderOrMissingTags) {
  EXPECT_FALSE(HasThinkAnswerFormat("<answer>1</answer><think>a</think>", false));
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think>", false));
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a<answer>1</answer></think>", false));
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think><answer>1", false));
  EXPECT_FALSE(HasThinkAnswerFormat("", false));
}

TEST(FormatRewardTest, PrefilledThinkStartsInsideBlock) {
  EXPECT_TRUE(HasThinkAnswerFormat("First, 2 plus 2.\n</think>\n<answer>4</answer>", true));
  EXPECT_TRUE(HasThinkAnswerFormat("</think><answer>4</answer>", true));
}

TEST(FormatRewardTest, PrefilledThinkRejectsOpeningTag) {
  EXPECT_FALSE(HasThinkAnswerFormat("<think>a</think><answer>4</answer>", true));
  EXPECT_FALSE(HasThinkAnswerFormat("a<think>b</think><answer>4</answer>", true));
}

TEST(FormatRewardTest, PrefilledThinkRequiresClosingTag) {
  EXPECT_FALSE(HasThinkAnswerFormat("2 plus 2.\n<answer>4</answer>", true));
}

TEST(FormatRewardTest, RewardScoresOneOrZero) {
  YAML::Node entry = YAML::Load("{name: format, prefilled_think: true}");
  RewardOptions options(entry, "test.yaml", "format");
  options.GetNode("name");
  auto reward = MakeFormatReward(options);
  ASSERT_TRUE(reward.ok()) << reward.status();
  ASSERT_TRUE(options.CheckNoUnreadKeys().ok());

  RewardSample good;
  good.completion = "First, 2 plus 2.\n</think>\n<answer>4</answer>";
  RewardSample bad;
  bad.completion = "<think>x</think><answer>4</answer>";
  std::vector<RewardSample> samples = {good, bad};
  auto result = (*reward)->Score(samples);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->scores.size(), 2u);
  EXPECT_EQ(result->scores[0], 1.0);
  EXPECT_EQ(result->scores[1], 0.0);
}

}  // namespace
}  // namespace aha
