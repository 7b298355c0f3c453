// Tests of plugin rewards: loading through the C ABI, and clear errors for a version
// mismatch, a missing symbol, a failing create and a failing batch.
#include "rewards/plugin_reward.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rewards/reward_set.h"
#include "tests/rewards/reward_test_util.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

absl::StatusOr<RewardSet> Build(const std::string& plugin, const std::string& extra = "") {
  std::string yaml = "[{name: plug, plugin: " + plugin + extra + "}]";
  return RewardSet::FromYaml(YAML::Load(yaml), "run.yaml");
}

TEST(PluginRewardTest, ScoresAndAbstains) {
  auto set = Build(TEST_PLUGIN_GOOD);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<RewardSample> samples = Samples({"abc", "abstain", "x"});
  samples[2].finish_reason = FinishReason::kLength;
  auto scored = set->ScoreBatch(samples);
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->components[0],
            (std::vector<std::optional<double>>{3.0, std::nullopt, 101.0}));
  EXPECT_TRUE(scored->all_abstained[1]);
}

TEST(PluginRewardTest, VersionMismatch) {
  ExpectErrorMentions(Build(TEST_PLUGIN_BAD_VERSION).status(),
                      {"run.yaml", "'plugin'", "version 999", "version 1", "rebuild"});
}

TEST(PluginRewardTest, PluginRefusesHostVersion) {
  ExpectErrorMentions(Build(TEST_PLUGIN_REFUSES_VERSION).status(),
                      {"does not support plugin ABI version 1"});
}

TEST(PluginRewardTest, MissingEntryPoint) {
  ExpectErrorMentions(Build(TEST_PLUGIN_NO_ENTRY_POINT).status(),
                      {"missing the symbol aha_reward_plugin_get_api"});
}

TEST(PluginRewardTest, MissingFile) {
  ExpectErrorMentions(Build("/nonexistent/libnothing.so").status(),
                      {"run.yaml", "/nonexistent/libnothing.so", "cannot load"});
}

TEST(PluginRewardTest, CreateFailureShowsPluginMessage) {
  ExpectErrorMentions(Build(TEST_PLUGIN_GOOD, ", options: {fail_create: true}").status(),
                      {"create failed", "create was asked to fail", "\"fail_create\":true"});
}

TEST(PluginRewardTest, FailedBatchGetsOnErrorThenRecovers) {
  auto set = Build(TEST_PLUGIN_GOOD, ", on_error: 0.5");
  ASSERT_TRUE(set.ok()) << set.status();
  testing::internal::CaptureStderr();
  auto failed = set->ScoreBatch(Samples({"a", "fail"}));
  std::string log = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->components[0], (std::vector<std::optional<double>>{0.5, 0.5}));
  EXPECT_EQ(failed->error_counts[0], 1);
  EXPECT_NE(log.find("sample 1 asked to fail"), std::string::npos) << log;

  auto next = set->ScoreBatch(Samples({"ab"}));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->total[0], 2.0);
  EXPECT_EQ(next->error_counts[0], 0);
}

TEST(PluginRewardTest, FailOnErrorStops) {
  auto set = Build(TEST_PLUGIN_GOOD, ", fail_on_error: true");
  ASSERT_TRUE(set.ok()) << set.status();
  testing::internal::CaptureStderr();
  auto failed = set->ScoreBatch(Samples({"fail"}));
  testing::internal::GetCapturedStderr();
  ExpectErrorMentions(failed.status(), {"plug", "returned 7", "asked to fail"});
}

TEST(PluginRewardTest, TimeoutKeyIsUnknownForPlugins) {
  ExpectErrorMentions(Build(TEST_PLUGIN_GOOD, ", timeout_seconds: 3").status(),
                      {"timeout_seconds", "unknown"});
}

}  // namespace
}  // namespace aha
