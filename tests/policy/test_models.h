// Small model configurations shared by the policy tests.
#ifndef AHA_TESTS_POLICY_TEST_MODELS_H_
#define AHA_TESTS_POLICY_TEST_MODELS_H_

#include <algorithm>
#include <initializer_list>
#include <vector>

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

// Removes the rows in `drop` from a decode batch as the sampler's compaction does. `rows` (the
// original ids, in group order, of G rows per group) keeps the others. Their completion caches
// in every list of `caches` keep the same rows, and `layout` gets their slots.
// The layout of B groups of G decode rows over the prompts of `prompt_mask` (B, P), with
// every row active, and the row ids 0..B*G-1 in `rows`.
inline DecodeLayout GroupLayout(const torch::Tensor& prompt_mask, int64_t groups,
                                int64_t group_size, std::vector<int64_t>& rows) {
  DecodeLayout layout;
  layout.prefix_mask = prompt_mask;
  layout.num_groups = groups;
  layout.group_slots = group_size;
  rows.clear();
  for (int64_t r = 0; r < groups * group_size; ++r) rows.push_back(r);
  return layout;
}

inline void DropRows(const std::vector<int64_t>& drop, int64_t groups, int64_t group_size,
                     std::vector<int64_t>& rows, DecodeLayout& layout,
                     std::initializer_list<std::vector<LayerKv>*> caches) {
  std::vector<int64_t> keep_positions, kept, counts(groups, 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (std::find(drop.begin(), drop.end(), rows[i]) != drop.end()) continue;
    keep_positions.push_back(static_cast<int64_t>(i));
    kept.push_back(rows[i]);
    ++counts[rows[i] / group_size];
  }
  const int64_t width = *std::max_element(counts.begin(), counts.end());
  std::vector<int64_t> slots, rank(groups, 0);
  for (int64_t r : kept) slots.push_back((r / group_size) * width + rank[r / group_size]++);
  auto index = torch::tensor(keep_positions);
  for (std::vector<LayerKv>* cache : caches) {
    for (LayerKv& layer : *cache) {
      layer.completion_k = layer.completion_k.index_select(0, index);
      layer.completion_v = layer.completion_v.index_select(0, index);
    }
  }
  layout.group_slots = width;
  layout.slot_index = torch::tensor(slots);
  layout.identity_slots = false;
  rows = kept;
}

}  // namespace aha::testing

#endif  // AHA_TESTS_POLICY_TEST_MODELS_H_
