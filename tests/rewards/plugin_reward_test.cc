// Tests of plugin rewards: loading through the C ABI, clear errors for a version mismatch, a
// missing symbol, a failing create and a failing batch, and what a crashing, exiting, hanging
// or throwing plugin leaves.
#include "rewards/plugin_reward.h"

#include <csignal>
#include <cstdlib>
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

TEST(PluginRewardTest, ThrowingPluginFailsTheBatch) {
  auto set = Build(TEST_PLUGIN_THROWS);
  ASSERT_TRUE(set.ok()) << set.status();
  auto scored = set->ScoreBatch(Samples({"a", "b"}));
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->error_counts[0], 1);
  ASSERT_FALSE(scored->info.empty());
  EXPECT_NE(scored->info[0].find("thrown by the plugin"), std::string::npos) << scored->info[0];
}

TEST(PluginRewardTest, NanScoreIsCountedAndReported) {
  auto set = Build(TEST_PLUGIN_GOOD);
  ASSERT_TRUE(set.ok()) << set.status();
  auto scored = set->ScoreBatch(Samples({"nan", "ok"}));
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->error_counts[0], 1);
  EXPECT_FALSE(scored->components[0][0].has_value());
  ASSERT_EQ(scored->info.size(), 1u);
  EXPECT_NE(scored->info[0].find("1 of 2 samples scored NaN"), std::string::npos)
      << scored->info[0];
}

TEST(PluginRewardTest, WeightedOverflowNamesTheReward) {
  auto set = RewardSet::FromYaml(
      YAML::Load(std::string("[{name: plug, weight: 1.0e308, plugin: ") + TEST_PLUGIN_GOOD + "}]"),
      "run.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  ExpectErrorMentions(set->ScoreBatch(Samples({"abc"})).status(),
                      {"plug", "weight", "float64 range"});
}

TEST(PluginRewardTest, TimeoutMustBePositive) {
  ExpectErrorMentions(Build(TEST_PLUGIN_GOOD, ", timeout_seconds: 0").status(),
                      {"timeout_seconds", "positive"});
}

// The plugin runs inside aha's process, so these end it; the tests check that the message
// names the reward and the plugin's function first.
class PluginRewardDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }

  static void Score(const std::string& completion, const std::string& extra = "") {
    auto set = Build(TEST_PLUGIN_GOOD, extra);
    if (!set.ok()) std::abort();
    (void)set->ScoreBatch(Samples({completion}));
  }
};

TEST_F(PluginRewardDeathTest, CrashNamesReward) {
  EXPECT_EXIT(Score("crash"), ::testing::KilledBySignal(SIGSEGV),
              "reward 'plug' \\(plugin .*\\): score_batch crashed with SIGSEGV");
}

TEST_F(PluginRewardDeathTest, AbortNamesReward) {
  EXPECT_EXIT(Score("abort"), ::testing::KilledBySignal(SIGABRT),
              "reward 'plug' .*score_batch crashed with SIGABRT");
}

TEST_F(PluginRewardDeathTest, ExitNamesRewardAndFails) {
  EXPECT_EXIT(Score("exit"), ::testing::ExitedWithCode(1),
              "reward 'plug' .*score_batch called exit\\(\\)");
}

TEST_F(PluginRewardDeathTest, HangStopsAfterTimeout) {
  EXPECT_EXIT(Score("hang", ", timeout_seconds: 0.5"), ::testing::ExitedWithCode(1),
              "reward 'plug' .*score_batch did not return within timeout_seconds = 0.5");
}

}  // namespace
}  // namespace aha
