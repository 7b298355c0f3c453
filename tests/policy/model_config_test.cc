// Tests for ModelConfig parsing, validation and config.json writing.
#include "policy/model_config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aha {
namespace {

// Values from the released Qwen2.5-0.5B-Instruct config.json.
constexpr char kQwen2Config[] = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// Values from the released Qwen3-0.6B config.json.
constexpr char kQwen3Config[] = R"({
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "intermediate_size": 3072,
  "max_position_embeddings": 40960,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// Values from the released Llama-3.2-1B-Instruct config.json.
constexpr char kLlamaConfig[] = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "vocab_size": 128256
})";

// `base` with `key` replaced by `value`, or removed when `value` is discarded.
std::string With(const char* base, const std::string& key, const nlohmann::json& value) {
  nlohmann::json json = nlohmann::json::parse(base);
  if (value.is_discarded()) {
    json.erase(key);
  } else {
    json[key] = value;
  }
  return json.dump();
}

std::string Without(const char* base, const std::string& key) {
  return With(base, key, nlohmann::json(nlohmann::json::value_t::discarded));
}

void ExpectError(const std::string& json, const std::vector<std::string>& parts) {
  absl::StatusOr<ModelConfig> config = ParseModelConfig(json, "/models/x/config.json");
  ASSERT_FALSE(config.ok()) << json;
  for (const std::string& part : parts) {
    EXPECT_NE(config.status().message().find(part), std::string::npos)
        << "message '" << config.status().message() << "' lacks '" << part << "'";
  }
  EXPECT_NE(config.status().message().find("/models/x/config.json"), std::string::npos)
      << config.status().message();
}

void ExpectSameConfig(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  ASSERT_EQ(a.rope_scaling.has_value(), b.rope_scaling.has_value());
  if (a.rope_scaling.has_value()) {
    EXPECT_EQ(a.rope_scaling->rope_type, b.rope_scaling->rope_type);
    EXPECT_EQ(a.rope_scaling->factor, b.rope_scaling->factor);
    EXPECT_EQ(a.rope_scaling->low_freq_factor, b.rope_scaling->low_freq_factor);
    EXPECT_EQ(a.rope_scaling->high_freq_factor, b.rope_scaling->high_freq_factor);
    EXPECT_EQ(a.rope_scaling->original_max_position_embeddings,
              b.rope_scaling->original_max_position_embeddings);
  }
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.attention_output_bias, b.attention_output_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
  EXPECT_EQ(a.pad_token_id, b.pad_token_id);
}

TEST(ModelConfigTest, ParsesQwen2) {
  absl::StatusOr<ModelConfig> config = ParseModelConfig(kQwen2Config, "qwen2.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(config->vocab_size, 151936);
  EXPECT_EQ(config->hidden_size, 896);
  EXPECT_EQ(config->intermediate_size, 4864);
  EXPECT_EQ(config->num_hidden_layers, 24);
  EXPECT_EQ(config->num_attention_heads, 14);
  EXPECT_EQ(config->num_key_value_heads, 2);
  EXPECT_EQ(config->head_dim, 64);  // 896 / 14
  EXPECT_EQ(config->rope_theta, 1e6);
  EXPECT_FALSE(config->rope_scaling.has_value());
  EXPECT_TRUE(config->attention_bias);  // implied: Qwen2's config has no attention_bias key
  EXPECT_FALSE(config->attention_output_bias);
  EXPECT_FALSE(config->qk_norm);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->torch_dtype, "bfloat16");
  EXPECT_EQ(config->bos_token_id, 151643);
  EXPECT_EQ(config->eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_FALSE(config->pad_token_id.has_value());
}

TEST(ModelConfigTest, ParsesQwen3) {
  absl::StatusOr<ModelConfig> config = ParseModelConfig(kQwen3Config, "qwen3.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 128);  // explicit, not 1024 / 16
  EXPECT_TRUE(config->qk_norm);
  EXPECT_FALSE(config->attention_bias);
  EXPECT_FALSE(config->attention_output_bias);
  EXPECT_EQ(config->max_position_embeddings, 40960);
  EXPECT_EQ(config->rope_theta, 1e6);  // an integer in the file
}

TEST(ModelConfigTest, ParsesLlamaWithRopeScaling) {
  absl::StatusOr<ModelConfig> config = ParseModelConfig(kLlamaConfig, "llama.json");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->rope_scaling.has_value());
  EXPECT_EQ(config->rope_scaling->rope_type, "llama3");
  EXPECT_EQ(config->rope_scaling->factor, 32.0);
  EXPECT_EQ(config->rope_scaling->low_freq_factor, 1.0);
  EXPECT_EQ(config->rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(config->rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(config->rope_theta, 500000.0);
  EXPECT_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_EQ(config->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_FALSE(config->qk_norm);

  absl::StatusOr<ModelConfig> biased =
      ParseModelConfig(With(kLlamaConfig, "attention_bias", true), "llama.json");
  ASSERT_TRUE(biased.ok()) << biased.status();
  EXPECT_TRUE(biased->attention_bias);
  EXPECT_TRUE(biased->attention_output_bias);
}

TEST(ModelConfigTest, AcceptsAlternativeSpellings) {
  // transformers 5 writes "dtype" and rope_parameters.
  std::string json = With(Without(kQwen2Config, "torch_dtype").c_str(), "dtype", "float16");
  json = With(Without(json.c_str(), "rope_theta").c_str(), "rope_parameters",
              {{"rope_type", "default"}, {"rope_theta", 250000.0}});
  absl::StatusOr<ModelConfig> config = ParseModelConfig(json, "v5.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->torch_dtype, "float16");
  EXPECT_EQ(config->rope_theta, 250000.0);
  EXPECT_FALSE(config->rope_scaling.has_value());

  // Before transformers 4.43 the rope type key was "type".
  nlohmann::json old_scaling = nlohmann::json::parse(kLlamaConfig)["rope_scaling"];
  old_scaling.erase("rope_type");
  old_scaling["type"] = "llama3";
  config = ParseModelConfig(With(kLlamaConfig, "rope_scaling", old_scaling), "old.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling->rope_type, "llama3");
}

TEST(ModelConfigTest, AppliesTransformersDefaults) {
  std::string json = Without(kQwen2Config, "num_key_value_heads");
  json = Without(json.c_str(), "torch_dtype");
  json = Without(json.c_str(), "rope_theta");
  json = Without(json.c_str(), "bos_token_id");
  absl::StatusOr<ModelConfig> config = ParseModelConfig(json, "defaults.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 14);
  EXPECT_EQ(config->torch_dtype, "float32");
  EXPECT_EQ(config->rope_theta, 10000.0);
  EXPECT_FALSE(config->bos_token_id.has_value());

  config = ParseModelConfig(With(kQwen2Config, "eos_token_id", nullptr), "null_eos.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->eos_token_ids.empty());
}

TEST(ModelConfigTest, CorruptConfigsGiveClearErrors) {
  ExpectError("{\"model_type\": \"qwen2\",", {"invalid JSON"});
  ExpectError("[1, 2]", {"JSON object"});
  ExpectError(Without(kQwen2Config, "hidden_size"), {"'hidden_size'", "missing"});
  ExpectError(Without(kQwen2Config, "model_type"), {"'model_type'", "missing"});
  ExpectError(With(kQwen2Config, "hidden_size", "896"), {"'hidden_size'", "integer"});
  ExpectError(With(kQwen2Config, "num_hidden_layers", 24.5), {"'num_hidden_layers'", "integer"});
  ExpectError(With(kQwen2Config, "rms_norm_eps", "small"), {"'rms_norm_eps'", "number"});
  ExpectError(With(kQwen2Config, "tie_word_embeddings", 1), {"'tie_word_embeddings'", "true or false"});
  ExpectError(With(kQwen2Config, "eos_token_id", {1, "x"}), {"'eos_token_id'", "integer"});
  ExpectError(With(kQwen2Config, "architectures", "Qwen2ForCausalLM"), {"'architectures'"});
  ExpectError(With(kQwen2Config, "model_type", "gpt2"), {"'model_type'", "gpt2"});
  ExpectError(With(kLlamaConfig, "rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}),
              {"'rope_scaling.rope_type'", "yarn"});
  ExpectError(With(kLlamaConfig, "rope_scaling", {{"rope_type", "llama3"}}),
              {"'rope_scaling.factor'", "missing"});
  ExpectError(Without(kQwen3Config, "head_dim"), {"'head_dim'", "missing"});
}

TEST(ModelConfigTest, InconsistentSizesAreErrors) {
  ExpectError(With(kQwen2Config, "num_key_value_heads", 4),
              {"num_attention_heads (14)", "num_key_value_heads (4)"});
  ExpectError(With(kQwen2Config, "num_attention_heads", 15), {"hidden_size", "num_attention_heads"});
  ExpectError(With(kQwen2Config, "vocab_size", 0), {"vocab_size", "positive"});
  ExpectError(With(kQwen2Config, "eos_token_id", 151936), {"eos_token_id 151936", "vocabulary"});
  ExpectError(With(kQwen2Config, "architectures", {"LlamaForCausalLM"}),
              {"LlamaForCausalLM", "qwen2"});
  ExpectError(With(kQwen2Config, "hidden_act", "gelu"), {"'hidden_act'", "gelu"});
  ExpectError(With(kQwen2Config, "use_sliding_window", true), {"'use_sliding_window'"});
  ExpectError(With(kLlamaConfig, "mlp_bias", true), {"'mlp_bias'"});
  ExpectError(With(kQwen2Config, "torch_dtype", "int8"), {"torch_dtype", "int8"});
}

TEST(ModelConfigTest, JsonRoundTripKeepsEveryField) {
  for (const char* text : {kQwen2Config, kQwen3Config, kLlamaConfig}) {
    absl::StatusOr<ModelConfig> original = ParseModelConfig(text, "original.json");
    ASSERT_TRUE(original.ok()) << original.status();
    original->pad_token_id = 7;
    const std::string written = ModelConfigToJson(*original);
    absl::StatusOr<ModelConfig> reread = ParseModelConfig(written, "written.json");
    ASSERT_TRUE(reread.ok()) << reread.status() << "\n" << written;
    ExpectSameConfig(*original, *reread);
  }
}

TEST(ModelConfigTest, WrittenJsonHasTransformersKeys) {
  absl::StatusOr<ModelConfig> qwen2 = ParseModelConfig(kQwen2Config, "qwen2.json");
  ASSERT_TRUE(qwen2.ok());
  nlohmann::json json = nlohmann::json::parse(ModelConfigToJson(*qwen2));
  EXPECT_EQ(json["architectures"], nlohmann::json({"Qwen2ForCausalLM"}));
  EXPECT_EQ(json["use_sliding_window"], false);
  EXPECT_FALSE(json.contains("attention_bias"));  // Qwen2Config has no such key
  EXPECT_EQ(json["eos_token_id"], 151645);

  absl::StatusOr<ModelConfig> llama = ParseModelConfig(kLlamaConfig, "llama.json");
  ASSERT_TRUE(llama.ok());
  json = nlohmann::json::parse(ModelConfigToJson(*llama));
  EXPECT_EQ(json["eos_token_id"], nlohmann::json({128001, 128008, 128009}));
  EXPECT_EQ(json["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(json["attention_bias"], false);
  EXPECT_EQ(json["mlp_bias"], false);
}

TEST(ModelConfigTest, WriteThenReadFile) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("aha_model_config_test_" + std::to_string(::getpid())))
                              .string();
  std::filesystem::create_directories(dir);
  absl::StatusOr<ModelConfig> config = ParseModelConfig(kQwen3Config, "qwen3.json");
  ASSERT_TRUE(config.ok());
  ASSERT_TRUE(WriteModelConfig(*config, dir + "/config.json").ok());
  absl::StatusOr<ModelConfig> reread = ReadModelConfig(dir + "/config.json");
  ASSERT_TRUE(reread.ok()) << reread.status();
  ExpectSameConfig(*config, *reread);

  ModelConfig broken = *config;
  broken.qk_norm = false;  // qwen3 always has q/k norms
  absl::Status status = WriteModelConfig(broken, dir + "/broken.json");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("qk_norm"), std::string::npos) << status.message();
  EXPECT_FALSE(std::filesystem::exists(dir + "/broken.json"));

  absl::StatusOr<ModelConfig> missing = ReadModelConfig(dir + "/absent.json");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir + "/absent.json"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace aha
