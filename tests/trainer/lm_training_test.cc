#include "trainer/lm_trainer.h"

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "base/yaml_map.h"
#include "policy/group_sampler.h"
#include "tests/trainer/tiny_policy.h"
#include "trainer/lm_batch.h"
#include "trainer/lm_config.h"
#include "tests/unique_temp_path.h"

namespace aha {
namespace {

using testing::MakeTinyModel;
using testing::MakeTinyTokenizer;

class LmTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

LmExample Example(std::vector<int32_t> ids, std::vector<uint8_t> mask) {
  return LmExample{std::move(ids), std::move(mask)};
}

// Reference: each example run alone through the model, unpacked, and scored with a plain
// log_softmax over the full logits.
double ReferenceNll(CausalLm& model, const std::vector<LmExample>& examples) {
  double nll = 0;
  for (const LmExample& example : examples) {
    const int64_t t = static_cast<int64_t>(example.ids.size());
    std::vector<int64_t> ids(example.ids.begin(), example.ids.end());
    auto input = torch::tensor(ids).unsqueeze(0);
    auto logits = model->ForwardLogits(input, torch::ones({1, t}, torch::kBool));  // (1, T, V)
    auto log_p = logits[0].log_softmax(-1);
    for (int64_t i = 1; i < t; ++i) {
      if (example.loss_mask[i]) nll -= log_p[i - 1][ids[i]].item<double>();
    }
  }
  return nll;
}

TEST_F(LmTrainingTest, PackedLossMatchesPlainCrossEntropy) {
  CausalLm model = MakeTinyModel(20, 1);
  std::vector<LmExample> examples = {
      Example({3, 5, 7, 9, 2}, {1, 1, 1, 1, 1}),
      Example({4, 4, 6}, {1, 1, 1}),
      Example({8, 1, 12, 13, 14, 15}, {1, 0, 0, 1, 1, 1}),
  };
  // Examples 0 and 1 share a row of 10 tokens, example 2 fills most of another.
  std::vector<PackedRow> rows = {{0, 1}, {2}};
  LmBatch batch = MakeLmBatch(examples, rows, 10);
  EXPECT_EQ(batch.real_tokens, 14);
  EXPECT_EQ(batch.target_tokens, 4 + 2 + 3);

  torch::NoGradGuard no_grad;
  const double packed = LmNllSum(model, batch).item<double>();
  EXPECT_NEAR(packed, ReferenceNll(model, examples), 1e-4);
}

TEST_F(LmTrainingTest, PackingKeepsPositionsAndSegments) {
  std::vector<LmExample> examples = {
      Example({1, 2, 3}, {1, 1, 1}), Example({4, 5}, {1, 1}), Example({6, 7, 8, 9}, {1, 1, 1, 1})};
  std::vector<PackedRow> rows = PackExamples(examples, {0, 1, 2}, 6);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (PackedRow{0, 1}));
  EXPECT_EQ(rows[1], (PackedRow{2}));

  LmBatch batch = MakeLmBatch(examples, rows, 6);
  EXPECT_TRUE(torch::equal(batch.positions[0], torch::tensor({0, 1, 2, 0, 1, 0})));
  EXPECT_TRUE(torch::equal(batch.segment_ids[0], torch::tensor({0, 0, 0, 1, 1, -1})));
  // Targets are tokens 1, 2 of example 0 and token 1 of example 1; never a segment's first.
  EXPECT_TRUE(torch::equal(batch.target_mask[0],
                           torch::tensor({true, true, false, true, false})));
  EXPECT_TRUE(torch::equal(batch.valid[1],
                           torch::tensor({true, true, true, true, false, false})));
}

TEST_F(LmTrainingTest, SftMasksPromptTokens) {
  auto tokenizer = MakeTinyTokenizer();
  const int32_t eos = tokenizer->special_tokens().eos_ids[0];
  LmExample sft = MakePromptResponseExample(*tokenizer, "2+3=", "5", /*loss_on_prompt=*/false,
                                            /*append_eos=*/true);
  ASSERT_EQ(sft.ids.size(), 6u);
  EXPECT_EQ(sft.ids.back(), eos);
  EXPECT_EQ(sft.loss_mask, (std::vector<uint8_t>{0, 0, 0, 0, 1, 1}));

  // A response that already ends in EOS gets no second one.
  LmExample ended = MakePromptResponseExample(*tokenizer, "a", "b<|endoftext|>", false, true);
  EXPECT_EQ(ended.ids.size(), 3u);

  // The SFT loss is the plain cross-entropy of the response tokens alone; the prompt's targets
  // do not enter it.
  CausalLm model = MakeTinyModel(tokenizer->VocabSize(), 3);
  torch::NoGradGuard no_grad;
  LmExample full = MakePromptResponseExample(*tokenizer, "2+3=", "5", true, true);
  std::vector<LmExample> sft_only = {sft};
  std::vector<LmExample> all_tokens = {full};
  const double sft_loss = LmNllSum(model, MakeLmBatch(sft_only, {{0}}, 8)).item<double>();
  const double full_loss = LmNllSum(model, MakeLmBatch(all_tokens, {{0}}, 8)).item<double>();
  EXPECT_NEAR(sft_loss, ReferenceNll(model, sft_only), 1e-4);
  EXPECT_GT(full_loss, sft_loss + 1e-3);

}

TEST_F(LmTrainingTest, SftGradientIgnoresPromptTargets) {
  auto tokenizer = MakeTinyTokenizer();
  CausalLm model = MakeTinyModel(tokenizer->VocabSize(), 8);
  std::vector<LmExample> sft = {
      MakePromptResponseExample(*tokenizer, "7*6=", "42", /*loss_on_prompt=*/false, true)};
  model->zero_grad();
  ASSERT_TRUE(AccumulateLmGradients(model, sft, {{0}}, 1, 8).ok());
  std::vector<torch::Tensor> trained;
  for (auto& p : model->parameters()) trained.push_back(p.grad().clone());

  // Reference: the mean cross-entropy of the 3 response tokens ("4", "2", EOS) from plain
  // log_softmax; the prompt positions contribute no term, so no gradient flows from them.
  model->zero_grad();
  std::vector<int64_t> ids(sft[0].ids.begin(), sft[0].ids.end());
  auto logits = model->ForwardLogits(torch::tensor(ids).unsqueeze(0),
                                     torch::ones({1, 7}, torch::kBool));
  auto log_p = logits[0].log_softmax(-1);
  auto reference = -(log_p[3][ids[4]] + log_p[4][ids[5]] + log_p[5][ids[6]]) / 3.0;
  reference.backward();
  size_t index = 0;
  for (auto& p : model->parameters()) {
    EXPECT_TRUE(torch::allclose(p.grad(), trained[index++], 1e-4, 1e-6)) << "parameter " << index;
  }
}

TEST_F(LmTrainingTest, MicroBatchesMatchOneBatchGradient) {
  CausalLm model = MakeTinyModel(20, 4);
  std::vector<LmExample> examples = {
      Example({3, 5, 7, 9, 2, 4}, {1, 1, 1, 1, 1, 1}),
      Example({4, 4}, {1, 1}),
      Example({8, 1, 12, 13, 14}, {0, 0, 1, 1, 1}),
      Example({19, 18, 17}, {1, 1, 1}),
      Example({2, 3, 2, 3, 2, 3, 2}, {1, 1, 1, 1, 1, 1, 1}),
  };
  std::vector<PackedRow> rows = {{0, 1}, {2, 3}, {4}};

  auto gradients = [&](int64_t micro_batch_rows, double* loss) {
    model->zero_grad();
    absl::StatusOr<LmGradientStats> stats =
        AccumulateLmGradients(model, examples, rows, micro_batch_rows, 8);
    EXPECT_TRUE(stats.ok()) << stats.status();
    *loss = stats->loss;
    std::vector<torch::Tensor> grads;
    for (auto& p : model->parameters()) grads.push_back(p.grad().clone());
    return grads;
  };
  double batch_loss = 0, micro_loss = 0, two_loss = 0;
  std::vector<torch::Tensor> whole = gradients(3, &batch_loss);
  std::vector<torch::Tensor> micro = gradients(1, &micro_loss);
  std::vector<torch::Tensor> two = gradients(2, &two_loss);
  EXPECT_NEAR(batch_loss, micro_loss, 1e-6);
  EXPECT_NEAR(batch_loss, two_loss, 1e-6);
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_TRUE(torch::allclose(whole[i], micro[i], 1e-4, 1e-6)) << "parameter " << i;
    EXPECT_TRUE(torch::allclose(whole[i], two[i], 1e-4, 1e-6)) << "parameter " << i;
  }
  // The loss is the mean over all 5 + 1 + 3 + 2 + 6 targets.
  std::vector<LmExample> copy = examples;
  torch::NoGradGuard no_grad;
  EXPECT_NEAR(batch_loss, ReferenceNll(model, copy) / 17.0, 1e-5);
}

// Micro-batches of more than 64 token rows take torch's linear, not aha's decode loop, and
// aha's in-place weight gradients must step aside under autocast.
TEST_F(LmTrainingTest, Bf16AutocastRunsMicroBatchesOfManyTokens) {
  CausalLm model = MakeTinyModel(20, 9);
  std::vector<LmExample> examples;
  for (int32_t e = 0; e < 2; ++e) {
    std::vector<int32_t> ids;
    for (int32_t i = 0; i < 40; ++i) ids.push_back(1 + (i * 7 + e * 3) % 19);
    examples.push_back(Example(ids, std::vector<uint8_t>(ids.size(), 1)));
  }
  std::vector<PackedRow> rows = {{0}, {1}};
  model->zero_grad();
  absl::StatusOr<LmGradientStats> float32 = AccumulateLmGradients(model, examples, rows, 2, 40);
  ASSERT_TRUE(float32.ok()) << float32.status();
  model->zero_grad();
  absl::StatusOr<LmGradientStats> bf16 =
      AccumulateLmGradients(model, examples, rows, 2, 40, /*bf16_autocast=*/true);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_NEAR(bf16->loss, float32->loss, 0.02 * float32->loss);
  EXPECT_NE(bf16->loss, float32->loss);
  for (const auto& p : model->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
  }
}

TEST_F(LmTrainingTest, Bf16AutocastLossIsCloseToFloat32) {
  CausalLm model = MakeTinyModel(20, 9);
  std::vector<LmExample> examples = {Example({3, 5, 7, 9, 2, 4}, {1, 1, 1, 1, 1, 1}),
                                     Example({8, 1, 12, 13, 14}, {1, 1, 1, 1, 1})};
  std::vector<PackedRow> rows = {{0}, {1}};
  model->zero_grad();
  absl::StatusOr<LmGradientStats> float32 = AccumulateLmGradients(model, examples, rows, 2, 8);
  ASSERT_TRUE(float32.ok()) << float32.status();
  const torch::Tensor float32_grad = model->parameters()[0].grad().clone();
  model->zero_grad();
  absl::StatusOr<LmGradientStats> bf16 =
      AccumulateLmGradients(model, examples, rows, 2, 8, /*bf16_autocast=*/true);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_NEAR(bf16->loss, float32->loss, 0.02 * float32->loss);
  // bf16 rounding shows in the loss, so the forward pass did run in bf16.
  EXPECT_NE(bf16->loss, float32->loss);
  // Weights and their gradients stay float32.
  EXPECT_EQ(model->parameters()[0].grad().scalar_type(), torch::kFloat32);
  const double relative = ((model->parameters()[0].grad() - float32_grad).norm() /
                           float32_grad.norm()).item<double>();
  EXPECT_LT(relative, 0.05);
  // Autocast is off again after the call.
  auto probe = torch::matmul(torch::ones({2, 2}), torch::ones({2, 2}));
  EXPECT_EQ(probe.scalar_type(), torch::kFloat32);
}

TEST_F(LmTrainingTest, OverfitsThreeLinesAndGeneratesOne) {
  auto tokenizer = MakeTinyTokenizer();
  CausalLm model = MakeTinyModel(tokenizer->VocabSize(), 5, 48);
  const std::vector<std::string> lines = {"the cat sat.", "a dog ran far!", "my fox hid?"};
  std::vector<LmExample> examples;
  for (const std::string& line : lines) {
    examples.push_back(MakeTextExample(*tokenizer, line + "<|endoftext|>"));
  }
  LmTrainOptions options;
  options.steps = 150;
  options.batch_rows = 3;
  options.micro_batch_rows = 3;
  options.pack_length = 16;
  options.optimizer.lr = 1e-2;
  options.optimizer.warmup_steps = 10;
  options.optimizer.weight_decay = 0.0;
  absl::StatusOr<LmTrainResult> result = TrainLm(model, examples, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->losses.size(), 150u);
  EXPECT_GT(result->losses.front(), 2.5);  // about log(V) = log(48) at the start
  EXPECT_LT(result->losses.back(), 0.1);

  GroupSampler sampler(model, tokenizer.get());
  GroupSamplerOptions sample;
  sample.max_new_tokens = 20;
  sample.sampling.temperature = 0.0;
  sample.eos_ids = tokenizer->special_tokens().eos_ids;
  Rollouts rollouts = sampler.Sample({tokenizer->Encode("a d")}, sample);
  std::vector<int32_t> completion;
  for (int64_t j = 0; j < rollouts.completion_lengths[0]; ++j) {
    completion.push_back(static_cast<int32_t>(rollouts.completion_ids[0][j].item<int64_t>()));
  }
  EXPECT_EQ(tokenizer->Decode(completion), "og ran far!<|endoftext|>");
}

TEST_F(LmTrainingTest, NanLossStopsWithError) {
  CausalLm model = MakeTinyModel(20, 6);
  {
    torch::NoGradGuard no_grad;
    model->parameters()[0][3].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  std::vector<LmExample> examples = {Example({3, 5, 7}, {1, 1, 1}), Example({1, 2}, {1, 1})};
  LmTrainOptions options;
  options.steps = 5;
  options.pack_length = 8;
  absl::StatusOr<LmTrainResult> result = TrainLm(model, examples, options);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("step 1:"), std::string::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("nan"), std::string::npos) << result.status();
}

TEST_F(LmTrainingTest, ExamplesAreCutToTheModelsContext) {
  CausalLm model = MakeTinyModel(20, 6);  // max_position_embeddings 256
  std::vector<LmExample> examples = {Example(std::vector<int32_t>(300, 3),
                                             std::vector<uint8_t>(300, 1)),
                                     Example({1, 2}, {1, 1})};
  LmTrainOptions options;
  options.steps = 1;
  options.pack_length = 512;
  absl::StatusOr<LmTrainResult> result = TrainLm(model, examples, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->truncated_examples, 1);
}

TEST_F(LmTrainingTest, NoTargetTokensNamesTheSettings) {
  CausalLm model = MakeTinyModel(20, 6);
  std::vector<LmExample> examples = {Example({3, 5, 7}, {0, 0, 0})};
  LmTrainOptions options;
  options.steps = 1;
  options.pack_length = 8;
  absl::StatusOr<LmTrainResult> result = TrainLm(model, examples, options);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("pack_length and append_eos"), std::string::npos)
      << result.status();
  EXPECT_EQ(result.status().message().find("lower lr"), std::string::npos) << result.status();
}

TEST_F(LmTrainingTest, UnknownCharactersAreCountedOnce) {
  auto tokenizer = MakeTinyTokenizer();
  ASSERT_TRUE(tokenizer->special_tokens().unk_id.has_value());
  std::vector<LmExample> examples = {
      MakePromptResponseExample(*tokenizer, "1+1=", "2", false, true),
      MakePromptResponseExample(*tokenizer, "caf\xC3\xA9 ", "\xE7\xAD\x94 ok", false, true)};
  const std::string warning = UnknownTokenWarning(examples, *tokenizer);
  EXPECT_NE(warning.find("warning: 2 characters"), std::string::npos) << warning;
  EXPECT_NE(warning.find("first in example 1"), std::string::npos) << warning;
  examples.pop_back();
  EXPECT_EQ(UnknownTokenWarning(examples, *tokenizer), "");
}

TEST_F(LmTrainingTest, LogLineHasFixedFormat) {
  CausalLm model = MakeTinyModel(20, 7);
  std::vector<LmExample> examples = {Example({3, 5, 7}, {1, 1, 1}), Example({1, 2}, {1, 1})};
  LmTrainOptions options;
  options.steps = 4;
  options.log_every = 2;
  options.pack_length = 8;
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(TrainLm(model, examples, options, nullptr, log).ok());
  std::rewind(log);
  char buffer[4096] = {};
  const size_t size = std::fread(buffer, 1, sizeof(buffer) - 1, log);
  std::fclose(log);
  const std::string text(buffer, size);
  const std::regex line(
      "step [24]/4 \\| loss [0-9.]+ \\| lr [0-9.e+-]+ \\| grad_norm [0-9.]+ \\| "
      "tokens/s [0-9]+ \\| [0-9.]+s\n");
  auto begin = std::sregex_iterator(text.begin(), text.end(), line);
  EXPECT_EQ(std::distance(begin, std::sregex_iterator()), 2) << text;
}

// Writes `text` to a temporary YAML file and parses its `train:` section.
absl::StatusOr<LmTrainConfig> ParseTrainYaml(const std::string& text, std::string* path) {
  *path = aha_test::UniqueTempPath("lm_train_config") + ".yaml";
  std::ofstream(*path) << text;
  absl::StatusOr<YAML::Node> node = LoadYamlFile(*path);
  if (!node.ok()) return node.status();
  absl::StatusOr<YamlMap> root = YamlMap::Create(*node, *path, "");
  if (!root.ok()) return root.status();
  absl::StatusOr<YamlMap> train = root->Child("train");
  if (!train.ok()) return train.status();
  return ParseLmTrainConfig(*train);
}

TEST_F(LmTrainingTest, ConfigErrorsNameFileLineAndKey) {
  std::string path;
  absl::StatusOr<LmTrainConfig> good =
      ParseTrainYaml("train:\n  steps: 7\n  lr: 0.002\n  loss_on_prompt: true\n", &path);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->options.steps, 7);
  EXPECT_DOUBLE_EQ(good->options.optimizer.lr, 0.002);
  EXPECT_TRUE(good->loss_on_prompt);

  absl::StatusOr<LmTrainConfig> unknown =
      ParseTrainYaml("train:\n  steps: 7\n  lerning_rate: 0.1\n", &path);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find(path + ":3"), std::string::npos) << unknown.status();
  EXPECT_NE(unknown.status().message().find("lerning_rate"), std::string::npos);

  absl::StatusOr<LmTrainConfig> invalid =
      ParseTrainYaml("train:\n  steps: 7\n  micro_batch_rows: 0\n", &path);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find(path + ":3"), std::string::npos) << invalid.status();
  EXPECT_NE(invalid.status().message().find("micro_batch_rows"), std::string::npos);

  absl::StatusOr<LmTrainConfig> wrong_type =
      ParseTrainYaml("train:\n  steps: many\n", &path);
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find(path + ":2"), std::string::npos)
      << wrong_type.status();
}

}  // namespace
}  // namespace aha
