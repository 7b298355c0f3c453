// Parity with Hugging Face transformers: loads the model folders that
// scripts/make_hf_fixtures.py saved with transformers and compares aha's logits and greedy
// continuations with transformers' outputs stored beside them (expected.safetensors, generated).
// Also checks saving and reloading those folders, and the load errors for broken folders.
//
// Shapes: N rows, T tokens, V vocabulary.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "policy/group_sampler.h"
#include "policy/policy_io.h"
#include "policy/safetensors.h"
#include "policy/safetensors_folder.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

constexpr double kMaxLogitDiff = 1e-4;  // float32 on both sides
constexpr int64_t kNewTokens = 12;      // the fixture script's NEW_TOKENS
constexpr int32_t kUnusedEosId = 127;   // the fixture script's UNUSED_EOS_ID: never generated
constexpr int32_t kPadId = 0;           // the fixture script's PAD_ID

std::string FixtureDir(const std::string& name) {
  return std::string(AHA_SOURCE_DIR) + "/tests/fixtures/hf/" + name;
}

// A folder for SavePolicy output named `name`. With AHA_HF_PARITY_EXPORT_DIR set it is a
// subfolder there, kept after the test for the manual transformers check in docs/models.md.
// Otherwise it is a fresh temporary folder that RemoveUnlessExported deletes.
std::string SaveDir(const std::string& name) {
  const char* export_dir = std::getenv("AHA_HF_PARITY_EXPORT_DIR");
  if (export_dir != nullptr) return (fs::path(export_dir) / name).string();
  const std::string dir =
      (fs::temp_directory_path() / ("aha_hf_parity_" + std::to_string(::getpid()) + "_" + name))
          .string();
  fs::remove_all(dir);
  return dir;
}

void RemoveUnlessExported(const std::string& dir) {
  if (std::getenv("AHA_HF_PARITY_EXPORT_DIR") == nullptr) fs::remove_all(dir);
}

// The tensors of a safetensors file, copied out of the mapping. Only F32 and I64 occur in the
// fixtures.
std::map<std::string, torch::Tensor> ReadTensors(const std::string& path) {
  std::map<std::string, torch::Tensor> tensors;
  auto file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return tensors;
  for (const SafetensorsTensor& info : (*file)->tensors()) {
    torch::Dtype dtype;
    switch (info.dtype) {
      case SafetensorsDtype::kF32: dtype = torch::kFloat32; break;
      case SafetensorsDtype::kI64: dtype = torch::kInt64; break;
      default:
        ADD_FAILURE() << path << ": unexpected dtype of " << info.name;
        continue;
    }
    auto bytes = (*file)->Bytes(info);
    tensors[info.name] =
        torch::from_blob(const_cast<uint8_t*>(bytes.data()), info.shape, dtype).clone();
  }
  return tensors;
}

// Max |a - b| over the positions where `valid` (N, T) is true. a, b: (N, T, V).
double MaxDiffOnValid(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& valid) {
  auto diff = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().amax(-1);  // (N, T)
  return diff.masked_select(valid).max().item<double>();
}

// The unpadded ids of each row of a left-padded batch.
std::vector<std::vector<int32_t>> UnpaddedRows(const torch::Tensor& ids, const torch::Tensor& valid) {
  std::vector<std::vector<int32_t>> rows;
  for (int64_t n = 0; n < ids.size(0); ++n) {
    auto row = ids[n].masked_select(valid[n]);
    rows.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
  }
  return rows;
}

class HfParityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    dir_ = FixtureDir(GetParam());
    expected_ = ReadTensors(dir_ + "/expected.safetensors");
    ASSERT_EQ(expected_.count("logits"), 1u) << dir_;
    auto policy = LoadPolicy(dir_);
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = std::move(*policy);
    policy_.model->eval();
  }

  std::string dir_;
  std::map<std::string, torch::Tensor> expected_;
  Policy policy_;
};

TEST_P(HfParityTest, LogitsMatchOnRealTokens) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& ids = expected_["input_ids"];                  // (N, T)
  const torch::Tensor valid = expected_["attention_mask"].to(torch::kBool);  // (N, T)
  ASSERT_TRUE(torch::equal(PositionsFromMask(valid), expected_["position_ids"]))
      << "aha counts positions of a left-padded row differently from the fixture";

  torch::Tensor logits = policy_.model->ForwardLogits(ids, valid);  // (N, T, V)
  ASSERT_EQ(logits.sizes(), expected_["logits"].sizes());
  const double max_diff = MaxDiffOnValid(logits, expected_["logits"], valid);
  std::cout << GetParam() << ": max abs logit difference " << max_diff << " over "
            << valid.sum().item<int64_t>() << " real positions\n";
  RecordProperty("max_abs_logit_diff", std::to_string(max_diff));
  EXPECT_LE(max_diff, kMaxLogitDiff);
}

TEST_P(HfParityTest, GreedyContinuationsMatch) {
  const torch::Tensor valid = expected_["attention_mask"].to(torch::kBool);
  const torch::Tensor& expected_ids = expected_["greedy_ids"];  // (N, 12)
  GroupSamplerOptions options;
  options.group_size = 1;
  options.max_new_tokens = kNewTokens;
  options.sampling.temperature = 0.0;
  options.eos_ids = {kUnusedEosId};
  options.pad_id = kPadId;

  GroupSampler sampler(policy_.model, policy_.tokenizer.get());
  Rollouts rollouts = sampler.Sample(UnpaddedRows(expected_["input_ids"], valid), options);

  ASSERT_EQ(rollouts.completion_ids.size(0), expected_ids.size(0));
  for (int64_t n = 0; n < expected_ids.size(0); ++n) {
    ASSERT_EQ(rollouts.completion_lengths[n], kNewTokens) << "row " << n;
    auto generated = rollouts.completion_ids[n].narrow(0, 0, kNewTokens).to(torch::kInt64);
    EXPECT_TRUE(torch::equal(generated, expected_ids[n]))
        << "row " << n << ": aha " << generated << "\ntransformers " << expected_ids[n];
  }
}

TEST_P(HfParityTest, SavedPolicyReloadsBitwiseEqual) {
  const std::string out_dir = SaveDir(GetParam());
  // A bfloat16 fixture is saved in bfloat16 again: every value is representable, so the
  // round trip through float32 in memory must not change a bit.
  SaveOptions save_options;
  save_options.dtype = policy_.config.torch_dtype == "bfloat16" ? torch::kBFloat16
                                                                : torch::kFloat32;
  ASSERT_TRUE(SavePolicy(policy_.model, dir_, out_dir, save_options).ok());

  auto reloaded = LoadPolicy(out_dir);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->config.torch_dtype, policy_.config.torch_dtype);
  EXPECT_EQ(ModelConfigToJson(reloaded->config), ModelConfigToJson(policy_.config));
  auto reloaded_params = reloaded->model->named_parameters();
  for (const auto& item : policy_.model->named_parameters()) {
    const torch::Tensor* other = reloaded_params.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), *other)) << item.key() << " changed";
  }
  RemoveUnlessExported(out_dir);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfParityTest,
                         ::testing::Values("qwen2", "qwen3", "qwen3_bf16", "llama3"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(HfFixtureTest, ConfigsCarryTheFeaturesUnderTest) {
  auto qwen2 = ReadModelConfig(FixtureDir("qwen2") + "/config.json");
  ASSERT_TRUE(qwen2.ok()) << qwen2.status();
  EXPECT_TRUE(qwen2->attention_bias);
  EXPECT_TRUE(qwen2->tie_word_embeddings);
  EXPECT_EQ(qwen2->num_key_value_heads * 2, qwen2->num_attention_heads);

  auto qwen3 = ReadModelConfig(FixtureDir("qwen3") + "/config.json");
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_TRUE(qwen3->qk_norm);
  EXPECT_FALSE(qwen3->tie_word_embeddings);
  EXPECT_NE(qwen3->head_dim * qwen3->num_attention_heads, qwen3->hidden_size);

  auto qwen3_bf16 = ReadModelConfig(FixtureDir("qwen3_bf16") + "/config.json");
  ASSERT_TRUE(qwen3_bf16.ok()) << qwen3_bf16.status();
  EXPECT_EQ(qwen3_bf16->torch_dtype, "bfloat16");

  auto llama3 = ReadModelConfig(FixtureDir("llama3") + "/config.json");
  ASSERT_TRUE(llama3.ok()) << llama3.status();
  ASSERT_TRUE(llama3->rope_scaling.has_value());
  EXPECT_EQ(llama3->rope_scaling->rope_type, "llama3");
  EXPECT_EQ(llama3->rope_theta, 500000.0);
  EXPECT_FALSE(llama3->tie_word_embeddings);
}

// Positions 3000..3099 lie far beyond original_max_position_embeddings (512), where the
// Llama 3 scaling divides the low frequencies by `factor`. transformers rounds each rotary
// angle pos * inv_freq to float32 (spacing 2.4e-4 rad near 3000) while aha keeps it in float64,
// so the stock logits are matched within kMaxLargePositionDiff, and the fixture's rerun with
// float64 angles within the usual kMaxLogitDiff.
TEST(HfFixtureTest, Llama3LogitsMatchAtLargePositions) {
  constexpr double kMaxLargePositionDiff = 5e-4;  // measured: 9.6e-5
  torch::NoGradGuard no_grad;
  auto expected = ReadTensors(FixtureDir("llama3") + "/expected.safetensors");
  ASSERT_EQ(expected.count("offset_logits"), 1u);
  ASSERT_EQ(expected.count("offset_logits_float64_angles"), 1u);
  auto model = LoadModel(FixtureDir("llama3"));
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->eval();

  const torch::Tensor& ids = expected["offset_input_ids"];           // (1, T)
  const torch::Tensor& positions = expected["offset_position_ids"];  // (1, T), from 3000
  ASSERT_EQ(positions[0][0].item<int64_t>(), 3000);
  auto valid = torch::ones(ids.sizes(), torch::kBool);
  torch::Tensor logits = (*model)->Logits((*model)->Hidden(ids, positions,
                                                           BuildAttentionMask(valid)));

  const double stock_diff = MaxDiffOnValid(logits, expected["offset_logits"], valid);
  const double exact_diff = MaxDiffOnValid(logits, expected["offset_logits_float64_angles"], valid);
  std::cout << "llama3 at positions 3000+: max abs logit difference " << stock_diff
            << " (transformers), " << exact_diff << " (transformers with float64 angles)\n";
  RecordProperty("max_abs_logit_diff", std::to_string(stock_diff));
  RecordProperty("max_abs_logit_diff_float64_angles", std::to_string(exact_diff));
  EXPECT_LE(stock_diff, kMaxLargePositionDiff);
  EXPECT_LE(exact_diff, kMaxLogitDiff);
}

// A model changed by training must still save as a folder transformers loads. This perturbs
// the qwen2 fixture as an optimizer step would, saves it as training does (bfloat16, tied
// embeddings stored once) and checks that aha reloads the bfloat16-rounded weights.
TEST(HfFixtureTest, PerturbedModelSavesAndReloads) {
  auto policy = LoadPolicy(FixtureDir("qwen2"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(7);
    for (auto& parameter : policy->model->parameters()) {
      parameter.add_(torch::randn_like(parameter) * 0.01);
    }
  }
  const std::string out_dir = SaveDir("qwen2_perturbed");
  ASSERT_TRUE(SavePolicy(policy->model, FixtureDir("qwen2"), out_dir).ok());

  auto reloaded = LoadPolicy(out_dir);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->config.torch_dtype, "bfloat16");
  auto reloaded_params = reloaded->model->named_parameters();
  for (const auto& item : policy->model->named_parameters()) {
    const torch::Tensor* other = reloaded_params.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    auto rounded = item.value().to(torch::kBFloat16).to(torch::kFloat32);
    EXPECT_TRUE(torch::equal(rounded, *other)) << item.key();
  }
  auto folder = SafetensorsFolder::Open(out_dir);
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_EQ(folder->Find("lm_head.weight").tensor, nullptr)
      << "tied embeddings are stored once, under model.embed_tokens.weight";
  RemoveUnlessExported(out_dir);
}

// Writes float32 `tensors` to the safetensors file `path` with aha's own writer.
absl::Status WriteF32Tensors(const std::string& path,
                             const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<SafetensorsTensorData> data;
  for (const auto& [name, tensor] : tensors) {
    data.push_back({name, SafetensorsDtype::kF32, tensor.sizes().vec(), tensor.data_ptr(),
                    static_cast<size_t>(tensor.nbytes())});
  }
  return WriteSafetensors(path, std::move(data));
}

class HfBrokenFolderTest : public ::testing::Test {
 protected:
  // Copies the qwen3 fixture (untied lm_head) into a fresh temporary folder.
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("aha_hf_broken_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& entry : fs::directory_iterator(FixtureDir("qwen3"))) {
      fs::copy_file(entry.path(), fs::path(dir_) / entry.path().filename());
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
};

TEST_F(HfBrokenFolderTest, MissingLmHeadIsNamed) {
  // Rewrite model.safetensors with every tensor but lm_head.weight, using aha's own writer.
  const std::string weights = dir_ + "/model.safetensors";
  std::map<std::string, torch::Tensor> tensors = ReadTensors(FixtureDir("qwen3") +
                                                             "/model.safetensors");
  ASSERT_EQ(tensors.erase("lm_head.weight"), 1u);
  ASSERT_TRUE(WriteF32Tensors(weights, tensors).ok());

  auto model = LoadModel(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound) << model.status();
  EXPECT_NE(model.status().message().find("lm_head.weight"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find(weights), std::string::npos) << model.status();
}

// Rewrites config.json with `key` set to `value` (a JSON literal).
void SetConfigKey(const std::string& dir, const std::string& key, const std::string& value) {
  const std::string path = dir + "/config.json";
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = text.find("\"" + key + "\"");
  ASSERT_NE(at, std::string::npos) << key;
  const size_t begin = text.find(':', at) + 1;
  const size_t end = text.find_first_of(",}", begin);
  text.replace(begin, end - begin, " " + value);
  std::ofstream(path, std::ios::trunc) << text;
}

TEST_F(HfBrokenFolderTest, HugeVocabSizeIsCheckedBeforeAllocating) {
  SetConfigKey(dir_, "vocab_size", "1099511627776");
  auto model = LoadModel(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("model.embed_tokens.weight"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("1099511627776"), std::string::npos);
}

TEST_F(HfBrokenFolderTest, LayerCountIsCheckedBeforeAllocating) {
  SetConfigKey(dir_, "num_hidden_layers", "1000000000000");
  auto model = LoadModel(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("num_hidden_layers"), std::string::npos)
      << model.status();
}

TEST_F(HfBrokenFolderTest, NanWeightIsNamed) {
  const std::string weights = dir_ + "/model.safetensors";
  std::map<std::string, torch::Tensor> tensors = ReadTensors(weights);
  tensors["model.norm.weight"] = tensors["model.norm.weight"].clone();
  tensors["model.norm.weight"][0] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(WriteF32Tensors(weights, tensors).ok());

  auto model = LoadModel(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("model.norm.weight"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("NaN"), std::string::npos);
}

// transformers stops generation on config.json's eos_token_id when the tokenizer names none.
TEST(PolicyLoadTest, EosFallsBackToConfig) {
  const fs::path dir =
      fs::temp_directory_path() / ("aha_eos_fallback_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(fs::path(AHA_SOURCE_DIR) / "models" / "countdown-tiny-base", dir);
  const fs::path vocab_path = dir / "vocab.json";
  std::ifstream in(vocab_path);
  nlohmann::json vocab = nlohmann::json::parse(in);
  in.close();
  vocab["eos"] = nlohmann::json::array();
  std::ofstream(vocab_path, std::ios::trunc) << vocab.dump();

  auto policy = LoadPolicy(dir.string());
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ((*policy).tokenizer->special_tokens().eos_ids,
            std::vector<int32_t>(policy->config.eos_token_ids.begin(),
                                 policy->config.eos_token_ids.end()));
  EXPECT_FALSE((*policy).tokenizer->special_tokens().eos_ids.empty());
  fs::remove_all(dir);
}

TEST_F(HfBrokenFolderTest, CorruptConfigIsNamed) {
  const std::string config_path = dir_ + "/config.json";
  std::ofstream(config_path, std::ios::trunc) << "{\"architectures\": [\"Qwen3ForCausalLM\"], ";

  auto model = LoadModel(dir_);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find(config_path), std::string::npos) << model.status();
  EXPECT_NE(model.status().message().find("invalid JSON"), std::string::npos) << model.status();

  auto policy = LoadPolicy(dir_);
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.status().message().find(config_path), std::string::npos) << policy.status();
}

}  // namespace
}  // namespace aha
