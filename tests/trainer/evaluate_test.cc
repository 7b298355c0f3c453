#include "trainer/evaluate.h"

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "base/yaml_map.h"
#include "rewards/reward.h"
#include "tests/trainer/tiny_policy.h"
#include "trainer/lm_config.h"
#include "tests/unique_temp_path.h"

namespace aha {
namespace {

// 1 when the data row is marked {"good": true}, else 0: the accuracy of a run is then known
// whatever the model samples.
absl::StatusOr<std::unique_ptr<Reward>> MakeMarkedGoodReward(RewardOptions&) {
  return MakePerSampleReward([](const RewardSample& sample) -> absl::StatusOr<std::optional<double>> {
    return sample.fields.value("good", false) ? 1.0 : 0.0;
  });
}
AHA_REGISTER_REWARD("test_marked_good", MakeMarkedGoodReward);

// 1 when the row's "shape" field is "ok", abstains when the row has no such field.
absl::StatusOr<std::unique_ptr<Reward>> MakeShapeReward(RewardOptions&) {
  return MakePerSampleReward([](const RewardSample& sample) -> absl::StatusOr<std::optional<double>> {
    if (!sample.fields.contains("shape")) return std::optional<double>();
    return sample.fields["shape"] == "ok" ? 1.0 : 0.0;
  });
}
AHA_REGISTER_REWARD("test_shape", MakeShapeReward);

// NaN when the row's "shape" field is "bad", which the reward set counts as an error.
absl::StatusOr<std::unique_ptr<Reward>> MakeNanForBadShapeReward(RewardOptions&) {
  return MakePerSampleReward([](const RewardSample& sample) -> absl::StatusOr<std::optional<double>> {
    return sample.fields.value("shape", "") == "bad" ? std::nan("") : 1.0;
  });
}
AHA_REGISTER_REWARD("test_nan_for_bad_shape", MakeNanForBadShapeReward);

class EvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 10 prompts: ids 0, 3 and 6 are good; of the 8 with a shape field, 2 are "ok".
    for (int64_t id = 0; id < 10; ++id) {
      data::Example example;
      example.id = id;
      example.question = "q" + std::to_string(id);
      example.fields["good"] = id % 3 == 0 && id < 9;
      if (id < 8) example.fields["shape"] = id % 4 == 1 ? "ok" : "bad";
      examples_.push_back(example);
    }
    rewards_ = MakeRewards("- name: test_marked_good\n  accuracy: true\n- name: test_shape\n");
  }

  static RewardSet MakeRewards(const std::string& yaml) {
    absl::StatusOr<RewardSet> rewards = RewardSet::FromYaml(YAML::Load(yaml), "test.yaml");
    EXPECT_TRUE(rewards.ok()) << rewards.status();
    return *std::move(rewards);
  }

  std::vector<data::Example> examples_;
  std::optional<RewardSet> rewards_;
};

TEST_F(EvaluateTest, MetricsMatchKnownRewards) {
  Policy policy = testing::MakeTinyPolicy(1);
  auto prompt_template = data::PromptTemplate::Parse("{prompt}=");
  ASSERT_TRUE(prompt_template.ok());
  EvalOptions options;
  options.samples_per_prompt = 2;
  options.max_new_tokens = 4;
  options.batch_prompts = 3;
  options.format_reward = "test_shape";
  options.keep_samples = 3;
  absl::StatusOr<EvalMetrics> metrics =
      Evaluate(policy, *prompt_template, examples_, options, *rewards_);
  ASSERT_TRUE(metrics.ok()) << metrics.status();

  EXPECT_EQ(metrics->prompts, 10);
  EXPECT_EQ(metrics->samples, 20);
  ASSERT_TRUE(metrics->accuracy.has_value());
  EXPECT_DOUBLE_EQ(*metrics->accuracy, 0.3);
  EXPECT_DOUBLE_EQ(*metrics->pass_at_g, 0.3);
  // Format over the 16 samples the shape reward scored: 2 prompts of 8, both samples each.
  ASSERT_TRUE(metrics->format_rate.has_value());
  EXPECT_DOUBLE_EQ(*metrics->format_rate, 0.25);
  // Total = good + shape: (6 + 4) / 20.
  EXPECT_DOUBLE_EQ(metrics->mean_reward, 0.5);
  ASSERT_EQ(metrics->reward_names.size(), 2u);
  EXPECT_DOUBLE_EQ(*metrics->reward_means[1], 0.25);
  EXPECT_GE(metrics->mean_length, 1.0);
  EXPECT_LE(metrics->mean_length, 4.0);
  ASSERT_EQ(metrics->kept_samples.size(), 3u);
  EXPECT_EQ(metrics->kept_samples[0].prompt, "q0=");
  EXPECT_TRUE(metrics->kept_samples[0].correct);
  EXPECT_EQ(metrics->kept_samples[2].example_id, 1);

  nlohmann::json json = EvalMetricsToJson(*metrics);
  EXPECT_DOUBLE_EQ(json["accuracy"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(json["rewards"]["test_shape"].get<double>(), 0.25);
}

TEST_F(EvaluateTest, BatchingDoesNotChangeSamples) {
  Policy policy = testing::MakeTinyPolicy(2);
  auto prompt_template = data::PromptTemplate::Parse("{prompt}=");
  ASSERT_TRUE(prompt_template.ok());
  EvalOptions options;
  options.samples_per_prompt = 2;
  options.max_new_tokens = 6;
  options.keep_samples = 20;
  options.seed = 9;
  options.batch_prompts = 10;
  absl::StatusOr<EvalMetrics> whole = Evaluate(policy, *prompt_template, examples_, options,
                                             *rewards_);
  options.batch_prompts = 4;
  absl::StatusOr<EvalMetrics> split = Evaluate(policy, *prompt_template, examples_, options,
                                               *rewards_);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_DOUBLE_EQ(whole->mean_length, split->mean_length);
  ASSERT_EQ(whole->kept_samples.size(), 20u);
  ASSERT_EQ(split->kept_samples.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(whole->kept_samples[i].completion, split->kept_samples[i].completion) << i;
  }
}

TEST_F(EvaluateTest, MaxExamplesAndMissingRewards) {
  Policy policy = testing::MakeTinyPolicy(3);
  auto prompt_template = data::PromptTemplate::Parse("{prompt}=");
  ASSERT_TRUE(prompt_template.ok());
  RewardSet shape_only = MakeRewards("- name: test_shape\n");
  EvalOptions options;
  options.max_new_tokens = 2;
  options.max_examples = 4;
  options.temperature = 0.0;
  absl::StatusOr<EvalMetrics> metrics =
      Evaluate(policy, *prompt_template, examples_, options, shape_only);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->prompts, 4);
  EXPECT_FALSE(metrics->accuracy.has_value());
  EXPECT_FALSE(metrics->pass_at_g.has_value());
  // The format reward is named "format" by default, and this set has none.
  EXPECT_FALSE(metrics->format_rate.has_value());
  EXPECT_TRUE(EvalMetricsToJson(*metrics)["accuracy"].is_null());
}

TEST_F(EvaluateTest, RewardErrorsAreCountedAndShown) {
  Policy policy = testing::MakeTinyPolicy(3);
  auto prompt_template = data::PromptTemplate::Parse("{prompt}=");
  ASSERT_TRUE(prompt_template.ok());
  RewardSet rewards = MakeRewards("- name: test_nan_for_bad_shape\n");
  EvalOptions options;
  options.samples_per_prompt = 2;
  options.max_new_tokens = 2;
  absl::StatusOr<EvalMetrics> metrics =
      Evaluate(policy, *prompt_template, examples_, options, rewards);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  // Prompts 0, 2, 3, 4, 6 and 7 have a bad shape, 2 samples each.
  EXPECT_EQ(metrics->reward_errors, 12);
  EXPECT_EQ(EvalMetricsToJson(*metrics)["reward_errors"].get<int64_t>(), 12);
  const std::string line = FormatEvalMetrics(*metrics, 2);
  EXPECT_NE(line.find("| reward errors 12 (scored on_error) |"), std::string::npos) << line;

  RewardSet clean = MakeRewards("- name: test_shape\n");
  metrics = Evaluate(policy, *prompt_template, examples_, options, clean);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->reward_errors, 0);
  EXPECT_EQ(FormatEvalMetrics(*metrics, 2).find("reward errors"), std::string::npos);
}

TEST_F(EvaluateTest, InvalidOptionsAreRejected) {
  Policy policy = testing::MakeTinyPolicy(4);
  auto prompt_template = data::PromptTemplate::Parse("{prompt}=");
  ASSERT_TRUE(prompt_template.ok());
  EvalOptions options;
  options.samples_per_prompt = 0;
  absl::StatusOr<EvalMetrics> metrics =
      Evaluate(policy, *prompt_template, examples_, options, *rewards_);
  ASSERT_FALSE(metrics.ok());
  EXPECT_NE(metrics.status().message().find("samples_per_prompt"), std::string::npos);
}

TEST(VotingAnswerTest, ExtractsAndRemovesWhitespace) {
  EXPECT_EQ(VotingAnswer("<think>2+2</think> <answer> (1 + 2) * 3 </answer>"), "(1+2)*3");
  // The last answer block wins, and a box inside it is the answer.
  EXPECT_EQ(VotingAnswer("<answer>5</answer> no, <answer>so \\boxed{ 6 }</answer>"), "6");
  EXPECT_EQ(VotingAnswer("the sum is \\boxed{1}, or rather \\boxed{\\frac{1}{2}}"),
            "\\frac{1}{2}");
  EXPECT_EQ(VotingAnswer("no answer here"), std::nullopt);
  EXPECT_EQ(VotingAnswer("<answer> \n </answer>"), std::nullopt);
  // GSM8K's "#### N" marker is not an answer for voting.
  EXPECT_EQ(VotingAnswer("so she has 18.\n#### 18"), std::nullopt);
}

TEST(MajorityVoteTest, HandComputedCases) {
  using Votes = std::vector<AnswerVote>;
  // "4" has 2 votes against 1 for "5" and two abstentions; both "4" samples are correct.
  EXPECT_TRUE(MajorityVoteCorrect(
      Votes{{"5", false}, {std::nullopt, false}, {"4", true}, {std::nullopt, false}, {"4", true}}));
  // The majority "5" is wrong although one sample is correct (pass@5 would count it).
  EXPECT_FALSE(MajorityVoteCorrect(Votes{{"5", false}, {"4", true}, {"5", false}}));
  // A tie of 2 against 2 goes to the answer that appears first.
  EXPECT_TRUE(MajorityVoteCorrect(Votes{{"4", true}, {"5", false}, {"5", false}, {"4", true}}));
  EXPECT_FALSE(MajorityVoteCorrect(Votes{{"5", false}, {"4", true}, {"4", true}, {"5", false}}));
  // The winning answer needs full accuracy on every one of its samples.
  EXPECT_FALSE(MajorityVoteCorrect(Votes{{"4", true}, {"4", false}, {"5", false}}));
  // No sample has an answer, so there is no majority.
  EXPECT_FALSE(MajorityVoteCorrect(Votes{{std::nullopt, true}, {std::nullopt, true}}));
  EXPECT_FALSE(MajorityVoteCorrect(Votes{}));
}

TEST_F(EvaluateTest, MajorityMetricOnlyForSeveralSamples) {
  Policy policy = testing::MakeTinyPolicy(5);
  auto prompt_template = data::PromptTemplate::Parse("{prompt}=");
  ASSERT_TRUE(prompt_template.ok());
  EvalOptions options;
  options.samples_per_prompt = 3;
  options.max_new_tokens = 4;
  absl::StatusOr<EvalMetrics> three = Evaluate(policy, *prompt_template, examples_, options,
                                               *rewards_);
  ASSERT_TRUE(three.ok()) << three.status();
  // The tiny alphabet has no '<' or '\\', so no completion has an answer and none votes.
  ASSERT_TRUE(three->maj_at_g.has_value());
  EXPECT_DOUBLE_EQ(*three->maj_at_g, 0.0);
  EXPECT_DOUBLE_EQ(EvalMetricsToJson(*three)["maj_at_g"].get<double>(), 0.0);
  EXPECT_NE(FormatEvalMetrics(*three, 3).find("| maj@3 0.000 |"), std::string::npos)
      << FormatEvalMetrics(*three, 3);

  options.samples_per_prompt = 1;
  absl::StatusOr<EvalMetrics> one = Evaluate(policy, *prompt_template, examples_, options,
                                             *rewards_);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_FALSE(one->maj_at_g.has_value());
  EXPECT_TRUE(EvalMetricsToJson(*one)["maj_at_g"].is_null());
  EXPECT_EQ(FormatEvalMetrics(*one, 1).find("maj@"), std::string::npos);
}

TEST_F(EvaluateTest, EvalConfigErrorsNameFileLineAndKey) {
  const std::string path = aha_test::UniqueTempPath("eval_config") + ".yaml";
  std::ofstream(path) << "eval:\n  samples_per_prompt: 4\n  temprature: 0.5\n";
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  ASSERT_TRUE(node.ok());
  absl::StatusOr<YamlMap> root = YamlMap::Create(*node, path, "");
  ASSERT_TRUE(root.ok());
  absl::StatusOr<YamlMap> eval = root->Child("eval");
  ASSERT_TRUE(eval.ok());
  absl::StatusOr<EvalOptions> options = ParseEvalOptions(*eval);
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find(path + ":3"), std::string::npos) << options.status();
  EXPECT_NE(options.status().message().find("temprature"), std::string::npos);

  std::ofstream(path) << "eval:\n  temperature: -1\n";
  node = LoadYamlFile(path);
  root = YamlMap::Create(*node, path, "");
  eval = root->Child("eval");
  options = ParseEvalOptions(*eval);
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find(path + ":2"), std::string::npos) << options.status();
  EXPECT_NE(options.status().message().find("temperature"), std::string::npos);
}

TEST_F(EvaluateTest, DatasetSectionNeedsExactlyOneSource) {
  const std::string path = aha_test::UniqueTempPath("dataset_config") + ".yaml";
  std::ofstream(path) << "dataset:\n  countdown: {test_size: 20}\n  jsonl: {path: x.jsonl}\n";
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  ASSERT_TRUE(node.ok());
  absl::StatusOr<YamlMap> root = YamlMap::Create(*node, path, "");
  ASSERT_TRUE(root.ok());
  absl::StatusOr<EvalDataset> both = ParseEvalDataset(*root);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("exactly one"), std::string::npos) << both.status();

  std::ofstream(path) << "dataset:\n  countdown: {test_size: 20, max_numbr: 9}\n";
  node = LoadYamlFile(path);
  root = YamlMap::Create(*node, path, "");
  absl::StatusOr<EvalDataset> typo = ParseEvalDataset(*root);
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find(path + ":2"), std::string::npos) << typo.status();
  EXPECT_NE(typo.status().message().find("max_numbr"), std::string::npos) << typo.status();

  std::ofstream(path) << "dataset:\n  countdown: {test_size: 20}\n";
  node = LoadYamlFile(path);
  root = YamlMap::Create(*node, path, "");
  absl::StatusOr<EvalDataset> countdown = ParseEvalDataset(*root);
  ASSERT_TRUE(countdown.ok()) << countdown.status();
  EXPECT_EQ(countdown->examples.size(), 20u);
}

}  // namespace
}  // namespace aha
