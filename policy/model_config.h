// ModelConfig: the architecture of a decoder-only model, with Hugging Face config.json field
// names so that a model folder's config maps one to one. No LibTorch.
#ifndef AHA_POLICY_MODEL_CONFIG_H_
#define AHA_POLICY_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace aha {

// Llama 3 style frequency scaling of the rotary embedding ("rope_scaling" with
// "rope_type": "llama3").
struct RopeScaling {
  std::string rope_type;  // "llama3"; empty when there is no scaling
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  // "Qwen2ForCausalLM", "Qwen3ForCausalLM" or "LlamaForCausalLM".
  std::string architecture = "Qwen2ForCausalLM";
  std::string model_type = "qwen2";

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;            // E
  int64_t intermediate_size = 0;      // MLP width
  int64_t num_hidden_layers = 0;      // L
  int64_t num_attention_heads = 0;    // H
  int64_t num_key_value_heads = 0;    // K; H is a multiple of K
  int64_t head_dim = 0;               // D; hidden_size / num_attention_heads when absent
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;        // bias on q, k and v projections (Qwen2: true)
  // Bias on o_proj. Llama and Qwen3 tie it to attention_bias; Qwen2 has none. ParseModelConfig
  // sets it from model_type, and it is not a config.json key.
  bool attention_output_bias = false;
  bool qk_norm = false;               // per-head RMSNorm on q and k (Qwen3)
  std::string torch_dtype = "float32";  // dtype the weights are stored in

  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;
};

// Checks that the sizes are positive and consistent, that the flags match model_type (for
// example qwen2 has attention_bias and no qk_norm) and that token ids are inside the vocabulary.
// `source` names the file in error messages.
absl::Status ValidateModelConfig(const ModelConfig& config, const std::string& source);

// Parses config.json text. `source` names the file in error messages. Missing required keys,
// wrong types and inconsistent sizes (for example H not a multiple of K) are errors that name
// the key.
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source);
absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path);

// Serializes to config.json text that transformers' AutoConfig reads back to the same model,
// with the legacy keys rope_theta, rope_scaling and torch_dtype that transformers 4.x and 5.x
// both read. WriteModelConfig validates first and writes atomically.
std::string ModelConfigToJson(const ModelConfig& config);
absl::Status WriteModelConfig(const ModelConfig& config, const std::string& path);

}  // namespace aha

#endif  // AHA_POLICY_MODEL_CONFIG_H_
