// Tests of the `length` (DAPO overlong) and `repetition` penalty rewards.
#include "rewards/penalty_rewards.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

TEST(OverlongPenaltyTest, SoftZoneIsLinear) {
  // max 100, cache 20: no penalty up to 80, -0.5 at 90, -1 at 100 and beyond.
  EXPECT_EQ(OverlongPenalty(50, 100, 20), 0.0);
  EXPECT_EQ(OverlongPenalty(80, 100, 20), 0.0);
  EXPECT_DOUBLE_EQ(OverlongPenalty(90, 100, 20), -0.5);
  EXPECT_DOUBLE_EQ(OverlongPenalty(100, 100, 20), -1.0);
  EXPECT_EQ(OverlongPenalty(101, 100, 20), -1.0);
}

TEST(OverlongPenaltyTest, ZeroCacheIsHardLimit) {
  EXPECT_EQ(OverlongPenalty(100, 100, 0), 0.0);
  EXPECT_EQ(OverlongPenalty(101, 100, 0), -1.0);
}

TEST(RepeatedNgramShareTest, CountsRepeats) {
  EXPECT_EQ(RepeatedNgramShare("a b c d", 2), 0.0);
  // 2-grams: (a b) (b a) (a b) (b a) (a b): 2 distinct of 5.
  EXPECT_DOUBLE_EQ(RepeatedNgramShare("a b a b a b", 2), 1.0 - 2.0 / 5.0);
  EXPECT_EQ(RepeatedNgramShare("a b", 3), 0.0);
  EXPECT_EQ(RepeatedNgramShare("", 3), 0.0);
}

absl::StatusOr<std::unique_ptr<Reward>> Make(const std::string& yaml,
                                             absl::StatusOr<std::unique_ptr<Reward>> (*factory)(
                                                 RewardOptions&)) {
  RewardOptions options(YAML::Load(yaml), "test.yaml", "penalty");
  options.GetNode("name");
  return factory(options);
}

TEST(LengthPenaltyRewardTest, UsesTokenCount) {
  auto reward = Make("{name: length, max_tokens: 100, cache_tokens: 20}", MakeLengthPenaltyReward);
  ASSERT_TRUE(reward.ok()) << reward.status();
  std::vector<RewardSample> samples(2);
  samples[0].num_tokens = 10;
  samples[1].num_tokens = 90;
  auto result = (*reward)->Score(samples);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->scores[0], 0.0);
  EXPECT_DOUBLE_EQ(*result->scores[1], -0.5);
}

TEST(LengthPenaltyRewardTest, InvalidKeys) {
  EXPECT_FALSE(Make("{name: length}", MakeLengthPenaltyReward).ok());
  EXPECT_FALSE(Make("{name: length, max_tokens: 10, cache_tokens: 20}", MakeLengthPenaltyReward)
                   .ok());
  EXPECT_FALSE(Make("{name: length, max_tokens: many}", MakeLengthPenaltyReward).ok());
}

TEST(RepetitionPenaltyRewardTest, ScalesByMaxPenalty) {
  auto reward = Make("{name: repetition, ngram_size: 2, max_penalty: -0.5}",
                     MakeRepetitionPenaltyReward);
  ASSERT_TRUE(reward.ok()) << reward.status();
  std::vector<RewardSample> samples(1);
  samples[0].completion = "a b a b a b";
  auto result = (*reward)->Score(samples);
  ASSERT_TRUE(result.ok());
  EXPECT_DOUBLE_EQ(*result->scores[0], -0.5 * 0.6);
}

TEST(RepetitionPenaltyRewardTest, PositivePenaltyIsError) {
  EXPECT_FALSE(Make("{name: repetition, max_penalty: 1}", MakeRepetitionPenaltyReward).ok());
}

}  // namespace
}  // namespace aha
