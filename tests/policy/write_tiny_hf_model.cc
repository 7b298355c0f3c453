// Writes a tiny model folder (config.json and random weights, named as transformers names them)
// with aha's writers, so scripts/check_hf_load.py can check that transformers loads it cleanly.
// Usage: write_tiny_hf_model OUT_DIR [qwen2|qwen3|llama] [max_shard_bytes]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "policy/model_config.h"
#include "policy/safetensors_folder.h"

namespace {

using aha::ModelConfig;

ModelConfig TinyConfig(const std::string& model_type) {
  ModelConfig config;
  config.model_type = model_type;
  config.architecture = model_type == "qwen2"   ? "Qwen2ForCausalLM"
                        : model_type == "qwen3" ? "Qwen3ForCausalLM"
                                                : "LlamaForCausalLM";
  config.vocab_size = 64;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = model_type == "qwen3" ? 16 : 8;
  config.max_position_embeddings = 128;
  config.rope_theta = 10000.0;
  config.attention_bias = model_type == "qwen2";
  config.qk_norm = model_type == "qwen3";
  config.tie_word_embeddings = model_type != "qwen2";
  config.bos_token_id = 1;
  config.eos_token_ids = {2};
  if (model_type == "llama") config.rope_scaling = aha::RopeScaling{"llama3", 8.0, 1.0, 4.0, 64};
  return config;
}

// Tensor shapes by name, following Qwen2ForCausalLM, Qwen3ForCausalLM and LlamaForCausalLM.
std::vector<std::pair<std::string, std::vector<int64_t>>> TensorShapes(const ModelConfig& c) {
  const int64_t q_width = c.num_attention_heads * c.head_dim;
  const int64_t kv_width = c.num_key_value_heads * c.head_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}},
      {"model.norm.weight", {c.hidden_size}}};
  if (!c.tie_word_embeddings) shapes.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    shapes.push_back({layer + "self_attn.q_proj.weight", {q_width, c.hidden_size}});
    shapes.push_back({layer + "self_attn.k_proj.weight", {kv_width, c.hidden_size}});
    shapes.push_back({layer + "self_attn.v_proj.weight", {kv_width, c.hidden_size}});
    shapes.push_back({layer + "self_attn.o_proj.weight", {c.hidden_size, q_width}});
    if (c.attention_bias) {
      shapes.push_back({layer + "self_attn.q_proj.bias", {q_width}});
      shapes.push_back({layer + "self_attn.k_proj.bias", {kv_width}});
      shapes.push_back({layer + "self_attn.v_proj.bias", {kv_width}});
    }
    if (c.attention_output_bias) shapes.push_back({layer + "self_attn.o_proj.bias", {c.hidden_size}});
    if (c.qk_norm) {
      shapes.push_back({layer + "self_attn.q_norm.weight", {c.head_dim}});
      shapes.push_back({layer + "self_attn.k_norm.weight", {c.head_dim}});
    }
    shapes.push_back({layer + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}});
    shapes.push_back({layer + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}});
    shapes.push_back({layer + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}});
    shapes.push_back({layer + "input_layernorm.weight", {c.hidden_size}});
    shapes.push_back({layer + "post_attention_layernorm.weight", {c.hidden_size}});
  }
  return shapes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [qwen2|qwen3|llama] [max_shard_bytes]\n", argv[0]);
    return 2;
  }
  const std::string out_dir = argv[1];
  const std::string model_type = argc > 2 ? argv[2] : "qwen2";
  ModelConfig config = TinyConfig(model_type);
  config.attention_output_bias = model_type != "qwen2" && config.attention_bias;

  std::mt19937 generator(1234);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<std::vector<float>> storage;
  std::vector<aha::SafetensorsTensorData> tensors;
  const auto shapes = TensorShapes(config);
  storage.reserve(shapes.size());
  for (const auto& [name, shape] : shapes) {
    int64_t count = 1;
    for (int64_t dim : shape) count *= dim;
    std::vector<float> values(count);
    for (float& value : values) value = normal(generator);
    storage.push_back(std::move(values));
    tensors.push_back({name, aha::SafetensorsDtype::kF32, shape, storage.back().data(),
                       static_cast<size_t>(count) * 4});
  }
  aha::SafetensorsFolderWriteOptions options;
  if (argc > 3) options.max_shard_bytes = std::strtoull(argv[3], nullptr, 10);
  absl::Status status = aha::WriteSafetensorsFolder(out_dir, std::move(tensors), options);
  if (status.ok()) status = aha::WriteModelConfig(config, out_dir + "/config.json");
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::printf("wrote %s model to %s\n", model_type.c_str(), out_dir.c_str());
  return 0;
}
