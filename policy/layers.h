// The blocks of a Qwen2/Qwen3/Llama decoder layer: RMSNorm, SwiGLU MLP and grouped-query
// attention. Parameter names follow Hugging Face so checkpoints map one to one.
//
// Shapes: N rows, T query tokens, S key tokens, E hidden size, H query heads, K key/value
// heads, R = H / K query heads per key/value head, D head size.
#ifndef AHA_POLICY_LAYERS_H_
#define AHA_POLICY_LAYERS_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "policy/model_config.h"

namespace aha {

// y = weight * x / sqrt(mean(x^2) + eps), normalized in float32 as transformers does.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t size, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // (..., size)

  torch::Tensor weight;  // (size)

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

// down(silu(gate(x)) * up(x)).
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // (..., E) -> (..., E)

  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

// Keys and values of one layer for a batch of prompts sampled G times each: the prompt part
// is stored once per prompt and the completion part once per sample.
struct LayerKv {
  torch::Tensor prefix_k, prefix_v;          // (B, K, P, D) after RoPE
  torch::Tensor completion_k, completion_v;  // (N, K, C_max, D), filled up to `length`
};

// How the rows of a decode step map onto the shared prefixes. Rows are sorted by group, and
// each group's rows occupy consecutive slots of a (B_active, G_slots) grid.
struct DecodeLayout {
  torch::Tensor prefix_mask;  // (B, P) bool, true for real prompt tokens
  torch::Tensor slot_index;   // (N) int64: row n sits in slot group * G_slots + rank
  int64_t num_groups = 0;     // B
  int64_t group_slots = 0;    // G_slots: max rows of any group
  bool identity_slots = true;  // slot_index is 0..N-1 with N == B * G_slots
};

// Flat tokens, M = B * P + N * T, that hold B left-padded prompts of P tokens followed by N
// rows of T tokens, each row continuing one of the prompts. The linear layers run on all M
// tokens at once; attention splits them into the prompts and the rows.
struct ContinuationLayout {
  int64_t prompts = 0;        // B
  int64_t prompt_length = 0;  // P
  int64_t rows = 0;           // N
  int64_t row_length = 0;     // T
  torch::Tensor prompt_allowed;  // (B, 1, P, P) bool, from BuildAttentionMask
  torch::Tensor row_allowed;     // (N, 1, T, P + T) bool, from BuildContinuationMask
  torch::Tensor prompt_of_row;   // (N) int64 in [0, B)

  int64_t prompt_tokens() const { return prompts * prompt_length; }  // B * P
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);

  // Self-attention over a whole sequence. `allowed` (N, 1, T, T) bool marks the key positions
  // each query may read (causal, padding and packing already applied). When `kv_out` is
  // non-null, the rotated keys and values are stored there as the prefix of a cache.
  // x: (N, T, E); cos/sin: (N, T, D). Returns (N, T, E).
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin, const torch::Tensor& allowed,
                        LayerKv* kv_out);

  // Self-attention of flat prompt and continuation tokens: each prompt attends to itself, and
  // each row to its prompt's keys and values and to its own earlier tokens. Gradients reach
  // a prompt's keys and values from all the rows that read them.
  // x: (M, E); cos/sin: (M, D). Returns (M, E).
  torch::Tensor ForwardContinuations(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const ContinuationLayout& layout);

  // One decode step for N rows: appends this token's key and value at completion index
  // `step` and attends to the row's shared prompt prefix plus its own completion so far.
  // x: (N, 1, E); cos/sin: (N, 1, D). Returns (N, 1, E).
  torch::Tensor DecodeStep(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin, LayerKv& kv, const DecodeLayout& layout,
                           int64_t step);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RmsNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only

 private:
  // Projects x (N, T, E) to rotated q (N, H, T, D) and k, v (N, K, T, D).
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> ProjectQkv(
      const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

  // Normalizes (Qwen3) and rotates projections q (N, T, H, D), k, v (N, T, K, D) into
  // q (N, H, T, D) and k, v (N, K, T, D). cos/sin: (N, T, D).
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> RotateQkv(
      torch::Tensor q, torch::Tensor k, const torch::Tensor& v, const torch::Tensor& cos,
      const torch::Tensor& sin);

  // Attention of q (N, H, T, D) over k, v (N, K, S, D) where `allowed` (N, 1, T, S) is true,
  // before the output projection: (N, T, H * D).
  torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& allowed);

  int64_t num_heads_, num_kv_heads_, head_dim_;
  double scale_;
};
TORCH_MODULE(Attention);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);

  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin, const torch::Tensor& allowed,
                        LayerKv* kv_out);
  torch::Tensor ForwardContinuations(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const ContinuationLayout& layout);
  torch::Tensor DecodeStep(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin, LayerKv& kv, const DecodeLayout& layout,
                           int64_t step);

  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace aha

#endif  // AHA_POLICY_LAYERS_H_
