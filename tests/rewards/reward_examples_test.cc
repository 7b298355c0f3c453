// Tests of the three example custom rewards in examples/: the linked C++ reward, the plugin
// and the Python command.
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rewards/reward_set.h"
#include "tests/rewards/reward_test_util.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

bool IsInPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::vector<std::string> dirs = absl::StrSplit(path, ':');
  for (const std::string& dir : dirs) {
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

TEST(RewardExamplesTest, CppRewardIsRegisteredByLinking) {
  // Nothing in this test refers to think_length_reward.cc: the registrar runs because the
  // OBJECT library links its object file.
  auto set = RewardSet::FromYaml(YAML::Load("[{name: think_length, target_words: 4}]"),
                                 "run.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  auto scored = set->ScoreBatch(Samples(
      {"<think>one two</think>", "<think>a b c d e f</think>", "no think block"}));
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->components[0],
            (std::vector<std::optional<double>>{0.5, 1.0, std::nullopt}));
}

TEST(RewardExamplesTest, CppRewardRejectsBadOption) {
  auto set = RewardSet::FromYaml(YAML::Load("[{name: think_length, target_words: 0}]"),
                                 "run.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("target_words"), std::string::npos);
}

TEST(RewardExamplesTest, PluginScoresAnswerLength) {
  std::string yaml =
      std::string("[{name: short_answer, plugin: ") + EXAMPLE_PLUGIN + ", options: {max_chars: 3}}]";
  auto set = RewardSet::FromYaml(YAML::Load(yaml), "run.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  auto scored = set->ScoreBatch(
      Samples({"<answer>42</answer>", "<answer>12345</answer>", "no answer"}));
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->components[0],
            (std::vector<std::optional<double>>{1.0, 0.0, std::nullopt}));
}

TEST(RewardExamplesTest, PluginRejectsBadOption) {
  std::string yaml =
      std::string("[{name: short_answer, plugin: ") + EXAMPLE_PLUGIN + ", options: {max_chars: x}}]";
  auto set = RewardSet::FromYaml(YAML::Load(yaml), "run.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("create failed"), std::string::npos) << set.status();
}

TEST(RewardExamplesTest, PythonCommandScoresContainsTruth) {
  if (!IsInPath("python3")) GTEST_SKIP() << "python3 is not in PATH";
  std::string script = std::string(AHA_SOURCE_DIR) + "/examples/command_reward/my_reward.py";
  auto set = RewardSet::FromYaml(
      YAML::Load("[{name: contains_truth, timeout_seconds: 20, command: [python3, " + script +
                 "]}]"),
      "run.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<RewardSample> samples =
      Samples({"<answer>x = 42</answer>", "<answer>41</answer>", "no tags", "<answer>1</answer>"});
  samples[0].ground_truth = "42";
  samples[1].ground_truth = "42";
  samples[2].ground_truth = "42";
  for (int batch = 0; batch < 2; ++batch) {
    auto scored = set->ScoreBatch(samples);
    ASSERT_TRUE(scored.ok()) << scored.status();
    EXPECT_EQ(scored->error_counts[0], 0);
    EXPECT_EQ(scored->components[0],
              (std::vector<std::optional<double>>{1.0, 0.0, 0.0, std::nullopt}));
  }
}

}  // namespace
}  // namespace aha
