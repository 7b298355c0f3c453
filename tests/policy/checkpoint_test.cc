// Tests for loading and saving module parameters by Hugging Face name.
#include "policy/checkpoint.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "gtest/gtest.h"
#include "policy/file_io.h"
#include "policy/safetensors.h"
#include "policy/safetensors_folder.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kVocab = 11;   // V
constexpr int64_t kHidden = 8;   // E
constexpr int64_t kLayers = 2;   // L

// A module tree named like Qwen2ForCausalLM: model.embed_tokens, model.layers.{i}.self_attn
// .{q,k,v,o}_proj, model.layers.{i}.mlp.{gate,up,down}_proj, the norms and lm_head, plus a
// model.rotary_emb.inv_freq buffer, which transformers never saves.
class TinyCausalLm : public torch::nn::Module {
 public:
  explicit TinyCausalLm(bool tie_embeddings) {
    auto model = register_module("model", std::make_shared<torch::nn::Module>());
    auto embed = model->register_module("embed_tokens", torch::nn::Embedding(kVocab, kHidden));
    torch::nn::ModuleList layers;
    for (int64_t i = 0; i < kLayers; ++i) {
      auto layer = std::make_shared<torch::nn::Module>();
      auto attention = layer->register_module("self_attn", std::make_shared<torch::nn::Module>());
      for (const char* name : {"q_proj", "k_proj", "v_proj"}) {
        attention->register_module(name, torch::nn::Linear(kHidden, kHidden));
      }
      attention->register_module(
          "o_proj", torch::nn::Linear(torch::nn::LinearOptions(kHidden, kHidden).bias(false)));
      auto mlp = layer->register_module("mlp", std::make_shared<torch::nn::Module>());
      mlp->register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(kHidden, 16).bias(false)));
      mlp->register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(kHidden, 16).bias(false)));
      mlp->register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(16, kHidden).bias(false)));
      for (const char* name : {"input_layernorm", "post_attention_layernorm"}) {
        auto norm = layer->register_module(name, std::make_shared<torch::nn::Module>());
        norm->register_parameter("weight", torch::randn({kHidden}));
      }
      layers->push_back(layer);
    }
    model->register_module("layers", layers);
    auto norm = model->register_module("norm", std::make_shared<torch::nn::Module>());
    norm->register_parameter("weight", torch::randn({kHidden}));
    auto rotary = model->register_module("rotary_emb", std::make_shared<torch::nn::Module>());
    rotary->register_buffer("inv_freq", torch::arange(kHidden / 2, torch::kFloat32));

    auto head = register_module("lm_head", std::make_shared<torch::nn::Module>());
    if (tie_embeddings) {
      head->register_parameter("weight", embed->weight);  // one tensor under two names
    } else {
      head->register_parameter("weight", torch::randn({kVocab, kHidden}));
    }
  }
};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    dir_ = (fs::temp_directory_path() /
            ("aha_checkpoint_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
};

void ExpectErrorMentions(const absl::Status& status, const std::vector<std::string>& parts) {
  ASSERT_FALSE(status.ok());
  for (const std::string& part : parts) {
    EXPECT_NE(status.message().find(part), std::string::npos)
        << "message '" << status.message() << "' lacks '" << part << "'";
  }
}

// Every parameter of `a` equals the same-named parameter of `b` bit for bit, in dtype `dtype`.
void ExpectSameParameters(const torch::nn::Module& a, const torch::nn::Module& b,
                          torch::Dtype dtype) {
  auto b_params = b.named_parameters();
  for (const auto& item : a.named_parameters()) {
    const torch::Tensor* other = b_params.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    ASSERT_EQ(other->scalar_type(), dtype) << item.key();
    ASSERT_EQ(item.value().scalar_type(), dtype) << item.key();
    ASSERT_EQ(item.value().sizes(), other->sizes()) << item.key();
    EXPECT_EQ(std::memcmp(item.value().data_ptr(), other->data_ptr(), item.value().nbytes()), 0)
        << item.key();
  }
}

TEST_F(CheckpointTest, SaveThenLoadIsBitwiseIdentical) {
  for (torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    TinyCausalLm saved(/*tie_embeddings=*/false);
    saved.to(dtype);
    ASSERT_TRUE(SaveModuleTensors(saved, dir_, {dtype}).ok());

    TinyCausalLm loaded(/*tie_embeddings=*/false);
    absl::StatusOr<LoadReport> report = LoadModuleTensors(loaded, dir_, {dtype, torch::kCPU});
    ASSERT_TRUE(report.ok()) << report.status();
    ExpectSameParameters(saved, loaded, dtype);
    EXPECT_TRUE(report->unused_tensors.empty());
    EXPECT_EQ(report->loaded_parameters, static_cast<int64_t>(saved.parameters().size()));
  }
}

TEST_F(CheckpointTest, Bf16ToF32IsExact) {
  // Bit patterns: 1, -2, 1 + 2^-7, the smallest subnormal, the largest finite value, -0.
  const std::vector<uint16_t> bf16_bits = {0x3F80, 0xC000, 0x3F81, 0x0001, 0x7F7F, 0x8000};
  fs::create_directories(dir_);
  ASSERT_TRUE(WriteSafetensors(dir_ + "/model.safetensors",
                               {{"w", SafetensorsDtype::kBF16, {6}, bf16_bits.data(), 12}})
                  .ok());
  torch::nn::Module module;
  module.register_parameter("w", torch::zeros({6}));
  absl::StatusOr<LoadReport> report = LoadModuleTensors(module, dir_, {torch::kFloat32});
  ASSERT_TRUE(report.ok()) << report.status();
  torch::Tensor w = module.named_parameters()["w"];
  ASSERT_EQ(w.scalar_type(), torch::kFloat32);
  for (int i = 0; i < 6; ++i) {
    uint32_t bits = 0;
    std::memcpy(&bits, w.data_ptr<float>() + i, 4);
    EXPECT_EQ(bits, static_cast<uint32_t>(bf16_bits[i]) << 16) << i;
  }
  EXPECT_EQ(w[2].item<float>(), 1.0f + 1.0f / 128);

  // A whole model saved in bf16 loads into f32 as exactly the bf16 values widened.
  TinyCausalLm saved(/*tie_embeddings=*/false);
  ASSERT_TRUE(SaveModuleTensors(saved, dir_ + "/m", {torch::kBFloat16}).ok());
  TinyCausalLm loaded(/*tie_embeddings=*/false);
  ASSERT_TRUE(LoadModuleTensors(loaded, dir_ + "/m", {torch::kFloat32}).ok());
  auto loaded_params = loaded.named_parameters();
  for (const auto& item : saved.named_parameters()) {
    torch::Tensor expected = item.value().to(torch::kBFloat16).to(torch::kFloat32);
    EXPECT_TRUE(torch::equal(loaded_params[item.key()], expected)) << item.key();
  }
}

TEST_F(CheckpointTest, LoadKeepsRequiresGradAndMovesBuffers) {
  TinyCausalLm saved(/*tie_embeddings=*/false);
  ASSERT_TRUE(SaveModuleTensors(saved, dir_, {torch::kFloat32}).ok());
  TinyCausalLm loaded(/*tie_embeddings=*/false);
  ASSERT_TRUE(LoadModuleTensors(loaded, dir_, {torch::kBFloat16}).ok());
  for (const auto& item : loaded.named_parameters()) {
    EXPECT_TRUE(item.value().requires_grad()) << item.key();
    EXPECT_EQ(item.value().scalar_type(), torch::kBFloat16) << item.key();
  }
  // Buffers keep their dtype and are not in the file.
  EXPECT_EQ(loaded.named_buffers()["model.rotary_emb.inv_freq"].scalar_type(), torch::kFloat32);
  absl::StatusOr<SafetensorsFolder> folder = SafetensorsFolder::Open(dir_);
  ASSERT_TRUE(folder.ok());
  EXPECT_EQ(folder->Find("model.rotary_emb.inv_freq").tensor, nullptr);
  EXPECT_NE(folder->Find("model.layers.1.self_attn.q_proj.bias").tensor, nullptr);
  EXPECT_NE(folder->Find("model.layers.0.mlp.down_proj.weight").tensor, nullptr);
  EXPECT_EQ(folder->Find("model.layers.0.self_attn.o_proj.bias").tensor, nullptr);
}

TEST_F(CheckpointTest, TiedEmbeddingsAreSavedOnce) {
  TinyCausalLm saved(/*tie_embeddings=*/true);
  ASSERT_TRUE(SaveModuleTensors(saved, dir_, {torch::kFloat32}).ok());
  absl::StatusOr<SafetensorsFolder> folder = SafetensorsFolder::Open(dir_);
  ASSERT_TRUE(folder.ok());
  EXPECT_NE(folder->Find("model.embed_tokens.weight").tensor, nullptr);
  EXPECT_EQ(folder->Find("lm_head.weight").tensor, nullptr);

  TinyCausalLm loaded(/*tie_embeddings=*/true);
  ASSERT_TRUE(LoadModuleTensors(loaded, dir_, {torch::kFloat32}).ok());
  auto params = loaded.named_parameters();
  EXPECT_TRUE(torch::equal(params["lm_head.weight"], saved.named_parameters()["lm_head.weight"]));
  EXPECT_EQ(params["lm_head.weight"].data_ptr(), params["model.embed_tokens.weight"].data_ptr());

  TinyCausalLm untied(/*tie_embeddings=*/false);
  ExpectErrorMentions(LoadModuleTensors(untied, dir_).status(),
                      {"'lm_head.weight'", dir_ + "/model.safetensors", "not found"});
}

TEST_F(CheckpointTest, ExtraTensorsAreReported) {
  TinyCausalLm saved(/*tie_embeddings=*/false);
  ASSERT_TRUE(SaveModuleTensors(saved, dir_, {torch::kFloat32}).ok());
  TinyCausalLm tied(/*tie_embeddings=*/true);  // lacks a separate lm_head.weight
  absl::StatusOr<LoadReport> report = LoadModuleTensors(tied, dir_);
  ASSERT_TRUE(report.ok()) << report.status();
  // The tied pair is read from model.embed_tokens.weight, the first name in module order, and
  // lm_head.weight in the file matches a name of the module, so nothing is unused.
  EXPECT_TRUE(report->unused_tensors.empty());

  torch::nn::Module small;
  small.register_module("model", std::make_shared<torch::nn::Module>())
      ->register_module("norm", std::make_shared<torch::nn::Module>())
      ->register_parameter("weight", torch::zeros({kHidden}));
  report = LoadModuleTensors(small, dir_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->loaded_parameters, 1);
  EXPECT_EQ(report->unused_tensors.size(), saved.parameters().size() - 1);
  EXPECT_EQ(report->unused_tensors.front(), "lm_head.weight");
}

// Writes a one-tensor file by hand and loads it into a module with `w` of shape [2, 3].
absl::Status LoadSingle(const std::string& dir, SafetensorsDtype dtype,
                        std::vector<int64_t> shape, const std::string& name = "w") {
  fs::create_directories(dir);
  std::vector<uint8_t> bytes(64, 0);
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  absl::Status written = WriteSafetensors(
      dir + "/model.safetensors",
      {{name, dtype, shape, bytes.data(), static_cast<size_t>(count * SafetensorsDtypeSize(dtype))}});
  if (!written.ok()) return written;
  torch::nn::Module module;
  module.register_parameter("w", torch::zeros({2, 3}));
  return LoadModuleTensors(module, dir).status();
}

TEST_F(CheckpointTest, WrongDtypeShapeOrNameIsError) {
  const std::string file = dir_ + "/model.safetensors";
  ExpectErrorMentions(LoadSingle(dir_, SafetensorsDtype::kI32, {2, 3}), {"'w'", file, "I32"});
  ExpectErrorMentions(LoadSingle(dir_, SafetensorsDtype::kF32, {3, 2}),
                      {"'w'", file, "[3, 2]", "[2, 3]"});
  ExpectErrorMentions(LoadSingle(dir_, SafetensorsDtype::kF32, {2, 3}, "v"),
                      {"'w'", file, "not found"});
  EXPECT_TRUE(LoadSingle(dir_, SafetensorsDtype::kF16, {2, 3}).ok());
  EXPECT_TRUE(LoadSingle(dir_, SafetensorsDtype::kF64, {2, 3}).ok());
}

// Damages the bytes of a saved file and expects LoadModuleTensors to name the file.
TEST_F(CheckpointTest, CorruptFilesGiveErrorsNotCrashes) {
  TinyCausalLm saved(/*tie_embeddings=*/false);
  ASSERT_TRUE(SaveModuleTensors(saved, dir_, {torch::kFloat32}).ok());
  const std::string file = dir_ + "/model.safetensors";
  absl::StatusOr<std::string> good = ReadFileToString(file);
  ASSERT_TRUE(good.ok());
  uint64_t header_length = 0;
  std::memcpy(&header_length, good->data(), 8);
  const std::string header = good->substr(8, header_length);

  struct Damage {
    const char* label;
    std::string bytes;
    std::vector<std::string> parts;
  };
  std::string truncated = good->substr(0, good->size() - 10);
  std::string long_header = *good;
  const uint64_t huge = good->size();
  std::memcpy(long_header.data(), &huge, 8);
  // In file order lm_head.weight [11, 8] fills [0, 352) and model.embed_tokens.weight [11, 8]
  // fills [352, 704). Moving the second back by 4 bytes keeps its size but overlaps the first.
  // Moving the end of the first far out puts it out of range.
  const std::string first_range = "\"data_offsets\":[0,352]";
  const std::string second_range = "\"data_offsets\":[352,704]";
  ASSERT_NE(header.find(first_range), std::string::npos) << header;
  ASSERT_NE(header.find(second_range), std::string::npos) << header;
  std::string overlap_header = header;
  overlap_header.replace(overlap_header.find(second_range), second_range.size(),
                         "\"data_offsets\":[348,700]");
  std::string out_of_range_header = header;
  out_of_range_header.replace(out_of_range_header.find(first_range), first_range.size(),
                              "\"data_offsets\":[0,999999]");
  const std::string rest = good->substr(8 + header_length);
  auto with_header = [&](const std::string& new_header) {
    std::string bytes(8, '\0');
    uint64_t length = new_header.size();
    std::memcpy(bytes.data(), &length, 8);
    return bytes + new_header + rest;
  };
  const std::vector<Damage> damages = {
      {"truncated", truncated, {"truncated", "'model.norm.weight'"}},
      {"header_past_end", long_header, {"header length", "past the end"}},
      {"overlap", with_header(overlap_header),
       {"'model.embed_tokens.weight'", "overlap", "'lm_head.weight'"}},
      {"out_of_range", with_header(out_of_range_header), {"'lm_head.weight'", "999999"}},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.label);
    ASSERT_TRUE(WriteFileAtomically(file, damage.bytes).ok());
    TinyCausalLm loaded(/*tie_embeddings=*/false);
    std::vector<std::string> parts = damage.parts;
    parts.push_back(file);
    ExpectErrorMentions(LoadModuleTensors(loaded, dir_).status(), parts);
  }
}

TEST_F(CheckpointTest, ShardedSaveLoadsAndMissingShardIsError) {
  TinyCausalLm saved(/*tie_embeddings=*/false);
  SaveOptions options;
  options.dtype = torch::kFloat32;
  options.max_shard_bytes = 1024;
  ASSERT_TRUE(SaveModuleTensors(saved, dir_, options).ok());
  ASSERT_TRUE(fs::exists(dir_ + "/model.safetensors.index.json"));
  ASSERT_FALSE(fs::exists(dir_ + "/model.safetensors"));

  TinyCausalLm loaded(/*tie_embeddings=*/false);
  absl::StatusOr<LoadReport> report = LoadModuleTensors(loaded, dir_, {torch::kFloat32});
  ASSERT_TRUE(report.ok()) << report.status();
  ExpectSameParameters(saved, loaded, torch::kFloat32);

  std::string shard;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("model-00002-of-", 0) == 0) shard = entry.path();
  }
  ASSERT_FALSE(shard.empty());
  fs::remove(shard);
  ExpectErrorMentions(LoadModuleTensors(loaded, dir_).status(), {shard, "not found", "tensor"});
}

TEST_F(CheckpointTest, SaveRejectsIntegerDtypeAndLeavesNoTemporaryFiles) {
  TinyCausalLm saved(/*tie_embeddings=*/false);
  ExpectErrorMentions(SaveModuleTensors(saved, dir_, {torch::kInt32}), {"Int"});
  ASSERT_TRUE(SaveModuleTensors(saved, dir_, {torch::kBFloat16}).ok());
  ASSERT_TRUE(SaveModuleTensors(saved, dir_, {torch::kBFloat16}).ok());
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename(), "model.safetensors");
  }
}

}  // namespace
}  // namespace aha
