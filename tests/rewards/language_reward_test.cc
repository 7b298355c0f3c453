// Tests of the `language_consistency` reward's script word counts.
#include "rewards/language_reward.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

TEST(CountScriptWordsTest, CountsLatinWordsAndCjkCharacters) {
  ScriptWordCounts counts = CountScriptWords("First, add 2 and 3. 然后乘以四");
  EXPECT_EQ(counts.latin, 3);  // First, add, and
  EXPECT_EQ(counts.cjk, 5);
  EXPECT_EQ(counts.other, 0);
}

TEST(CountScriptWordsTest, AccentedLettersStayInOneWord) {
  ScriptWordCounts counts = CountScriptWords("café naïve");
  EXPECT_EQ(counts.latin, 2);
}

TEST(CountScriptWordsTest, OtherScriptsAndSymbols) {
  ScriptWordCounts counts = CountScriptWords("привет мир x² = 4 ∑");
  EXPECT_EQ(counts.other, 2);
  EXPECT_EQ(counts.latin, 1);
  EXPECT_EQ(counts.cjk, 0);
}

TEST(CountScriptWordsTest, InvalidUtf8SeparatesWords) {
  ScriptWordCounts counts = CountScriptWords(std::string("ab\xff\xfe" "cd\xe4"));
  EXPECT_EQ(counts.latin, 2);
}

TEST(ScriptShareTest, ShareAndNoWords) {
  EXPECT_DOUBLE_EQ(*ScriptShare("one two 三", Script::kLatin), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*ScriptShare("one two 三", Script::kCjk), 1.0 / 3.0);
  EXPECT_FALSE(ScriptShare("1 + 2 = 3", Script::kLatin).has_value());
}

std::vector<std::optional<double>> ScoreAll(const std::string& yaml,
                                            const std::vector<std::string>& completions) {
  RewardOptions options(YAML::Load(yaml), "test.yaml", "language_consistency");
  options.GetNode("name");
  auto reward = MakeLanguageConsistencyReward(options);
  EXPECT_TRUE(reward.ok()) << reward.status();
  if (!reward.ok()) return {};
  std::vector<RewardSample> samples;
  for (const std::string& completion : completions) {
    samples.emplace_back();
    samples.back().completion = completion;
  }
  auto result = (*reward)->Score(samples);
  EXPECT_TRUE(result.ok());
  return result.ok() ? result->scores : std::vector<std::optional<double>>{};
}

TEST(LanguageConsistencyRewardTest, ScoresThinkBlockOnly) {
  auto scores = ScoreAll("{name: language_consistency}",
                         {"<think>add them 加</think><answer>五 五 五</answer>",
                          "no think block", "<think>1+1</think><answer>2</answer>"});
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_DOUBLE_EQ(*scores[0], 2.0 / 3.0);
  EXPECT_FALSE(scores[1].has_value());
  EXPECT_FALSE(scores[2].has_value());
}

TEST(LanguageConsistencyRewardTest, ChineseTargetWithPrefilledThink) {
  auto scores = ScoreAll("{name: language_consistency, language: zh, prefilled_think: true}",
                         {"先加 then</think><answer>5</answer>"});
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_DOUBLE_EQ(*scores[0], 2.0 / 3.0);
}

TEST(LanguageConsistencyRewardTest, UnknownLanguageIsError) {
  RewardOptions options(YAML::Load("{name: language_consistency, language: fr}"), "run.yaml",
                        "language_consistency");
  auto reward = MakeLanguageConsistencyReward(options);
  ASSERT_FALSE(reward.ok());
  EXPECT_NE(reward.status().message().find("run.yaml"), std::string::npos);
  EXPECT_NE(reward.status().message().find("'language'"), std::string::npos);
}

}  // namespace
}  // namespace aha
