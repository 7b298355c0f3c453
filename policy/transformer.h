// CausalLm: a Qwen2/Qwen3/Llama-family decoder-only transformer with Hugging Face parameter
// names (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, ..., lm_head.weight).
//
// Shapes: N rows, T tokens, E hidden size, V vocabulary, L layers.
#ifndef AHA_POLICY_TRANSFORMER_H_
#define AHA_POLICY_TRANSFORMER_H_

#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "policy/layers.h"
#include "policy/model_config.h"
#include "policy/rope.h"

namespace aha {

// The "model." part of a Hugging Face causal LM: embeddings, layers, final norm.
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};

  // Typed views of `layers`, filled once at construction.
  std::vector<DecoderLayer> layer_list;
};
TORCH_MODULE(Decoder);

class CausalLmImpl : public torch::nn::Module {
 public:
  explicit CausalLmImpl(const ModelConfig& config);

  const ModelConfig& config() const { return config_; }

  // Final hidden states (N, T, E) after the last norm. ids, positions: (N, T) int64;
  // allowed: (N, 1, T, T) bool from BuildAttentionMask. When kv_out is non-null it receives
  // one LayerKv per layer with the prefix keys and values.
  torch::Tensor Hidden(const torch::Tensor& ids, const torch::Tensor& positions,
                       const torch::Tensor& allowed, std::vector<LayerKv>* kv_out = nullptr);

  // Final hidden states (M, E), M = B * P + N * T, of B prompts and then N rows that continue
  // them, in one pass whose linear layers see all M tokens. prompt_ids, prompt_positions:
  // (B, P) int64; row_ids, row_positions: (N, T) int64.
  torch::Tensor HiddenContinuations(const torch::Tensor& prompt_ids,
                                    const torch::Tensor& prompt_positions,
                                    const torch::Tensor& row_ids,
                                    const torch::Tensor& row_positions,
                                    const ContinuationLayout& layout);

  // One incremental step for N rows: ids, positions (N). Returns hidden states (N, E).
  torch::Tensor DecodeStep(const torch::Tensor& ids, const torch::Tensor& positions,
                           std::vector<LayerKv>& kv, const DecodeLayout& layout, int64_t step);

  // The output projection (V, E): lm_head.weight, or the embedding matrix when tied.
  torch::Tensor LmHeadWeight() const;

  // Logits hidden @ W^T, in float32: (..., E) -> (..., V).
  torch::Tensor Logits(const torch::Tensor& hidden) const;

  // Convenience: full logits (N, T, V) for a left-padded batch with validity mask (N, T).
  torch::Tensor ForwardLogits(const torch::Tensor& ids, const torch::Tensor& valid);

  Decoder model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tie_word_embeddings

 private:
  ModelConfig config_;
  RopeTables rope_;
};
TORCH_MODULE(CausalLm);

// Initializes a new model as transformers does: matrices and embeddings from N(0, std^2),
// biases 0, norm weights 1. Seeded, so the same seed gives the same weights.
void InitializeWeights(CausalLmImpl& model, double std, uint64_t seed);

// Gives each layer's cache an uninitialized completion part for `rows` samples of up to
// `capacity` tokens, shaped like its prefix: (rows, K, capacity, D).
void AllocateCompletionCaches(std::vector<LayerKv>& kv, int64_t rows, int64_t capacity);

// Position ids for a batch whose real tokens are marked by `valid` (N, T): each row counts
// from 0 at its first real token, so left padding does not shift positions. Padding gets 0.
torch::Tensor PositionsFromMask(const torch::Tensor& valid);

// The (N, 1, T, T) bool mask of keys each query may attend to: causal, real keys only, and,
// when `segment_ids` (N, T) is given, only keys of the same packed segment. Every query may
// also read itself, so padding rows stay finite.
torch::Tensor BuildAttentionMask(const torch::Tensor& valid,
                                 const std::optional<torch::Tensor>& segment_ids = std::nullopt);

// The (N, 1, T, P + T) bool mask for rows of T tokens that continue left-padded prompts: each
// query may read its prompt's real tokens and, as BuildAttentionMask allows, its own row.
// prompt_valid: (B, P); prompt_of_row: (N) int64; valid: (N, T).
torch::Tensor BuildContinuationMask(const torch::Tensor& prompt_valid,
                                    const torch::Tensor& prompt_of_row,
                                    const torch::Tensor& valid);

}  // namespace aha

#endif  // AHA_POLICY_TRANSFORMER_H_
