// Masked grouped-query attention, forward and backward, one (row, key/value head) block at a
// time, for float32 and bfloat16 CPU tensors.
//
// The op-by-op attention builds whole (N, K, R * T, S) tensors of scores, probabilities and
// their gradients, and runs masked_fill, softmax and their backward passes over them. For the
// tiny model's 128 rows of 384 tokens after 96-token prompts, each is 377 MB per layer, so
// these passes are bound by memory. Here each block of R * T query rows and S keys is scored,
// normalized and multiplied in a per-thread buffer with BLAS calls and C++ loops. The backward
// pass recomputes the block from the saved log-sum-exp instead of keeping the probabilities.
//
// Shapes: N rows, T query tokens, H query heads, K key/value heads, R = H / K, D head size,
// B prompts of P tokens, S = P + T keys per row.
#ifndef AHA_POLICY_FUSED_ATTENTION_H_
#define AHA_POLICY_FUSED_ATTENTION_H_

#include <torch/types.h>

namespace aha {

// The keys and values of one attention call. Each row reads the keys of one prompt, where
// prompt_keys is non-empty, and then its own T keys. With no prompt part (B = 0, P = 0) this
// is plain self-attention.
struct AttentionKeys {
  torch::Tensor prompt_keys, prompt_values;  // (B, K, P, D), or (0, K, 0, D)
  torch::Tensor row_keys, row_values;        // (N, K, T, D)
  torch::Tensor prompt_of_row;               // (N) int64 in [0, B); unused when B = 0
};

// Returns the attention of q (N, H, T, D), rotated and not yet scaled, over `keys` where
// `allowed` (N, 1, T, S) is true, with scores scaled by `scale`: (N, H, T, D). A query that may
// read no key gets NaN, as softmax over no finite score gives. With autograd.
// Gradients reach a prompt's keys and values from every row that reads them.
//
// Takes the blockwise loops when FusedAttentionApplies(q), else GroupedAttentionByOps. A
// backward pass that records a graph of its own (create_graph) differentiates
// GroupedAttentionByOps instead.
torch::Tensor GroupedAttention(const torch::Tensor& q, const AttentionKeys& keys,
                               const torch::Tensor& allowed, double scale);

// The op-by-op version: each row's copy of its prompt's keys joined to its own, scores in
// float32 for bfloat16 input as transformers' eager attention does. Also the reference in
// tests.
torch::Tensor GroupedAttentionByOps(const torch::Tensor& q, const AttentionKeys& keys,
                                    const torch::Tensor& allowed, double scale);

// Returns whether GroupedAttention takes the blockwise loops for q: float32 or bfloat16 on the
// CPU, CPU autocast off, a BLAS with `sgemm_` loaded, and AHA_FUSED_ATTENTION not set to
// "torch". bfloat16 input runs the loops on float32 copies, and only the output is rounded to
// bfloat16, where the op-by-op version also rounds the scores and the attention weights.
bool FusedAttentionApplies(const torch::Tensor& q);

// Returns how many calls took the blockwise forward loop since the process started, for
// tests.
int64_t FusedAttentionCallsSoFar();

}  // namespace aha

#endif  // AHA_POLICY_FUSED_ATTENTION_H_
