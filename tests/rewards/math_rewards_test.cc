// Tests of the `math_accuracy` and `gsm8k` rewards built on aha_math.
#include "rewards/math_rewards.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rewards/reward_set.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

RewardSample Sample(const std::string& prompt, const std::string& completion,
                    const std::string& ground_truth) {
  RewardSample sample;
  sample.prompt = prompt;
  sample.completion = completion;
  sample.ground_truth = ground_truth;
  return sample;
}

std::vector<std::optional<double>> Score(const std::string& yaml,
                                         const std::vector<RewardSample>& samples) {
  auto set = RewardSet::FromYaml(YAML::Load(yaml), "run.yaml");
  EXPECT_TRUE(set.ok()) << set.status();
  if (!set.ok()) return {};
  auto scored = set->ScoreBatch(samples);
  EXPECT_TRUE(scored.ok()) << scored.status();
  return scored.ok() ? scored->components[0] : std::vector<std::optional<double>>{};
}

TEST(MathAccuracyRewardTest, ComparesExtractedAnswer) {
  auto scores = Score("[{name: math_accuracy}]",
                      {Sample("q", "so \\boxed{\\frac{1}{2}}", "0.5"),
                       Sample("q", "<think>..</think><answer>3</answer>", "4"),
                       Sample("q", "no answer at all", "4")});
  EXPECT_EQ(scores, (std::vector<std::optional<double>>{1.0, 0.0, 0.0}));
}

TEST(MathAccuracyRewardTest, PromptBoxedEarnsNothing) {
  auto scores = Score("[{name: math_accuracy}]",
                      {Sample("Example: the answer is \\boxed{7}. Solve x+3=10.", "I think so.",
                              "7")});
  EXPECT_EQ(scores, (std::vector<std::optional<double>>{0.0}));
}

TEST(MathAccuracyRewardTest, ExtractionOptionsApply) {
  auto scores = Score("[{name: math_accuracy, from_boxed: false}]",
                      {Sample("q", "\\boxed{7}", "7"), Sample("q", "<answer>7</answer>", "7")});
  EXPECT_EQ(scores, (std::vector<std::optional<double>>{0.0, 1.0}));
  auto set = RewardSet::FromYaml(
      YAML::Load("[{name: math_accuracy, from_boxed: false, from_answer_tag: false}]"),
      "run.yaml");
  EXPECT_FALSE(set.ok());
}

TEST(MathAccuracyRewardTest, EmptyGroundTruthIsAnError) {
  for (const std::string ground_truth : {"", "  ", "#### "}) {
    auto set = RewardSet::FromYaml(YAML::Load("[{name: math_accuracy}]"), "run.yaml");
    ASSERT_TRUE(set.ok()) << set.status();
    auto scored = set->ScoreBatch({Sample("q", "\\boxed{7}", "7"), Sample("q", "\\boxed{7}",
                                                                         ground_truth)});
    ASSERT_FALSE(scored.ok()) << "ground truth '" << ground_truth << "'";
    EXPECT_NE(scored.status().message().find("sample 1"), std::string::npos) << scored.status();
    EXPECT_NE(scored.status().message().find("answer field"), std::string::npos)
        << scored.status();
  }
}

TEST(MathAccuracyRewardTest, ToleranceOfOneOrMoreIsRejected) {
  for (const char* yaml : {"[{name: math_accuracy, relative_tolerance: 1e308}]",
                           "[{name: math_accuracy, relative_tolerance: 1}]",
                           "[{name: gsm8k, relative_tolerance: -1}]"}) {
    auto set = RewardSet::FromYaml(YAML::Load(yaml), "run.yaml");
    ASSERT_FALSE(set.ok()) << yaml;
    EXPECT_NE(set.status().message().find("relative_tolerance"), std::string::npos)
        << set.status();
  }
  auto set = RewardSet::FromYaml(
      YAML::Load("[{name: math_accuracy, relative_tolerance: 1e-3}]"), "run.yaml");
  EXPECT_TRUE(set.ok()) << set.status();
}

TEST(Gsm8kRewardTest, ReadsMarkerAndRawGroundTruth) {
  auto scores = Score("[{name: gsm8k}]",
                      {Sample("q", "She pays 5 * 3 = 15.\n#### 15", "Work: 5*3 = 15.\n#### 15"),
                       Sample("q", "#### 16", "15"), Sample("q", "<answer>1,000</answer>", "1000")});
  EXPECT_EQ(scores, (std::vector<std::optional<double>>{1.0, 0.0, 1.0}));
}

TEST(Gsm8kRewardTest, IsDefaultAccuracy) {
  auto set = RewardSet::FromYaml(YAML::Load("[{name: format}, {name: gsm8k}]"), "run.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->accuracy_index(), std::optional<size_t>(1));
}

}  // namespace
}  // namespace aha
