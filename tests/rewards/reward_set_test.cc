// Tests of RewardSet: YAML validation, weighted totals, abstains and the accuracy reward.
#include "rewards/reward_set.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/rewards/reward_test_util.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

// Abstains on completions that start with "?", scores "nan" as NaN, else the completion's
// length. Registered with the macro that users' libraries use.
absl::StatusOr<std::unique_ptr<Reward>> MakeTestLengthReward(RewardOptions& options) {
  return MakePerSampleReward(
      [](const RewardSample& sample) -> absl::StatusOr<std::optional<double>> {
        if (!sample.completion.empty() && sample.completion[0] == '?') {
          return std::optional<double>();
        }
        if (sample.completion == "nan") return std::numeric_limits<double>::quiet_NaN();
        return static_cast<double>(sample.completion.size());
      });
}
AHA_REGISTER_REWARD("test_length", MakeTestLengthReward);

absl::StatusOr<RewardSet> Build(const std::string& yaml) {
  return RewardSet::FromYaml(YAML::Load(yaml)["rewards"], "run.yaml");
}

TEST(RewardSetTest, RegistryListsBuiltinsAndMacroRewards) {
  EXPECT_NE(FindReward("format"), nullptr);
  EXPECT_NE(FindReward("countdown"), nullptr);
  EXPECT_NE(FindReward("length"), nullptr);
  EXPECT_NE(FindReward("repetition"), nullptr);
  EXPECT_NE(FindReward("language_consistency"), nullptr);
  EXPECT_NE(FindReward("test_length"), nullptr);
  EXPECT_EQ(FindReward("no_such_reward"), nullptr);
  EXPECT_FALSE(RegisterReward("format", MakeTestLengthReward));
}

TEST(RewardSetTest, WeightedSumOfComponents) {
  auto set = Build(R"(
rewards:
  - name: format
    weight: 0.5
  - name: test_length
    weight: 2
)");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->size(), 2u);
  EXPECT_EQ(set->name(0), "format");
  EXPECT_EQ(set->weight(1), 2.0);

  auto samples = Samples({"<think>a</think><answer>1</answer>", "xy"});
  auto scored = set->ScoreBatch(samples);
  ASSERT_TRUE(scored.ok()) << scored.status();
  ASSERT_EQ(scored->components.size(), 2u);
  EXPECT_EQ(scored->components[0][0], 1.0);
  EXPECT_EQ(scored->components[1][1], 2.0);
  EXPECT_DOUBLE_EQ(scored->total[0], 0.5 + 2.0 * 34);
  EXPECT_DOUBLE_EQ(scored->total[1], 4.0);
  EXPECT_EQ(scored->error_counts, (std::vector<int64_t>{0, 0}));
}

TEST(RewardSetTest, AbstainsNeverProduceNan) {
  auto set = Build(R"(
rewards:
  - name: test_length
  - name: language_consistency
)");
  ASSERT_TRUE(set.ok()) << set.status();
  // Sample 0: test_length abstains, language scores. Sample 1: both abstain.
  // Sample 2: test_length gives NaN, counted as an error and an abstain.
  auto samples = Samples({"?<think>words</think>", "?", "nan"});
  auto scored = set->ScoreBatch(samples);
  ASSERT_TRUE(scored.ok()) << scored.status();

  EXPECT_DOUBLE_EQ(scored->total[0], 1.0);
  EXPECT_FALSE(scored->all_abstained[0]);
  EXPECT_EQ(scored->total[1], 0.0);
  EXPECT_TRUE(scored->all_abstained[1]);
  EXPECT_EQ(scored->total[2], 0.0);
  EXPECT_TRUE(scored->all_abstained[2]);
  EXPECT_FALSE(scored->components[0][2].has_value());
  EXPECT_EQ(scored->error_counts[0], 1);
  for (double total : scored->total) EXPECT_TRUE(std::isfinite(total));

  std::optional<double> mean = MeanOfPresent(scored->components[1]);
  ASSERT_TRUE(mean.has_value());
  EXPECT_DOUBLE_EQ(*mean, 1.0);
  EXPECT_FALSE(MeanOfPresent(scored->components[0]).has_value());
}

TEST(RewardSetTest, AccuracyDefaultsToFirstTaskReward) {
  auto set = Build("rewards: [{name: format}, {name: countdown}]");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->accuracy_index(), std::optional<size_t>(1));

  auto none = Build("rewards: [{name: format}]");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->accuracy_index().has_value());
}

TEST(RewardSetTest, AccuracyKeyOverridesDefault) {
  auto set = Build("rewards: [{name: countdown}, {name: test_length, accuracy: true}]");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->accuracy_index(), std::optional<size_t>(1));

  ExpectErrorMentions(
      Build("rewards: [{name: format, accuracy: true}, {name: countdown, accuracy: true}]")
          .status(),
      {"run.yaml", "accuracy", "format"});
}

TEST(RewardSetTest, UnknownKeyNamesKeyAndFile) {
  ExpectErrorMentions(Build("rewards: [{name: format, prefiled_think: true}]").status(),
                      {"run.yaml", "prefiled_think", "format"});
}

TEST(RewardSetTest, WrongTypeNamesKey) {
  ExpectErrorMentions(Build("rewards: [{name: format, weight: heavy}]").status(),
                      {"run.yaml", "'weight'"});
  ExpectErrorMentions(Build("rewards: [{name: format, prefilled_think: 3}]").status(),
                      {"'prefilled_think'"});
  ExpectErrorMentions(Build("rewards: [{name: cmd, command: python3}]").status(),
                      {"'command'", "list"});
}

TEST(RewardSetTest, StructuralErrors) {
  ExpectErrorMentions(Build("other: 1").status(), {"run.yaml", "rewards"});
  ExpectErrorMentions(Build("rewards: {name: format}").status(), {"run.yaml", "list"});
  ExpectErrorMentions(Build("rewards: [format]").status(), {"entry 1"});
  ExpectErrorMentions(Build("rewards: [{weight: 1}]").status(), {"entry 1", "name"});
  ExpectErrorMentions(Build("rewards: [{name: format}, {name: format}]").status(),
                      {"unique"});
  ExpectErrorMentions(Build("rewards: [{name: formt}]").status(), {"formt", "format"});
  ExpectErrorMentions(Build("rewards: [{name: x, command: [a], plugin: b.so}]").status(),
                      {"command", "plugin"});
}

TEST(RewardSetTest, RewardErrorStopsBatch) {
  auto set = Build("rewards: [{name: countdown}]");
  ASSERT_TRUE(set.ok());
  auto samples = Samples({"<answer>1</answer>"});
  ExpectErrorMentions(set->ScoreBatch(samples).status(), {"countdown", "nums"});
}

TEST(RewardSetTest, EmptyBatch) {
  auto set = Build("rewards: [{name: format}]");
  ASSERT_TRUE(set.ok());
  auto scored = set->ScoreBatch({});
  ASSERT_TRUE(scored.ok());
  EXPECT_TRUE(scored->total.empty());
  ASSERT_EQ(scored->components.size(), 1u);
}

}  // namespace
}  // namespace aha
