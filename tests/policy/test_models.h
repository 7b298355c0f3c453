// Small model configurations shared by the policy tests.
#ifndef AHA_TESTS_POLICY_TEST_MODELS_H_
#define AHA_TESTS_POLICY_TEST_MODELS_H_

#include <torch/torch.h>

#include "policy/model_config.h"
#include "policy/transformer.h"

namespace aha::testing {

// A tiny Qwen2-shaped config: 4 query heads on 2 key/value heads, q/k/v bias.
inline ModelConfig TinyQwen2Config() {
  ModelConfig c;
  c.architecture = "Qwen2ForCausalLM";
  c.model_type = "qwen2";
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 256;
  c.rope_theta = 10000.0;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  return c;
}

// Builds a model with seeded random weights, scaled up so that logits vary noticeably.
inline CausalLm MakeRandomModel(const ModelConfig& config, uint64_t seed) {
  torch::manual_seed(seed);
  CausalLm model(config);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    if (p.dim() == 1) {
      p.uniform_(0.5, 1.5);
    } else {
      p.normal_(0.0, 0.3);
    }
  }
  model->eval();
  return model;
}

}  // namespace aha::testing

#endif  // AHA_TESTS_POLICY_TEST_MODELS_H_
