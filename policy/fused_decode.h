// One decode step of a CausalLm as plain loops between the matrix products, for float32 and
// bfloat16 CPU models.
//
// The op-by-op step (CausalLmImpl's layers) runs about 40 LibTorch operations per layer. For
// the tiny demo model each works on a few kilobytes, so dispatch and allocation cost more than
// the arithmetic: 64 decode steps of 16 rows took 68 ms, 1.1 ms a step. Here each layer makes
// its seven matrix products in four calls, through SkinnyLinearMany up to 64 rows on AVX-512
// CPUs and through aha::Linear otherwise. It does the norms, rotary embedding, cache write,
// attention, SwiGLU and residuals in C++ loops over the raw buffers. Rows are independent, so a
// small model's step gives each thread its own rows (RowSplitDecodeStepsSoFar).
//
// A bfloat16 model keeps its weights and caches in bfloat16, but the step's activations stay
// float32. The products sum in float32 from bfloat16 weights. Only the keys and values written
// to the cache, and the returned hidden states, are rounded to bfloat16. The op-by-op layers
// round every operation's output, so the two differ by bfloat16 noise. Of the two, the fused
// step is the closer to float32 arithmetic on the same weights, which the tests check.
//
// Shapes: N rows, E hidden size, H query heads, K key/value heads, R = H / K, D head size,
// P prompt tokens, C_max cache capacity.
#ifndef AHA_POLICY_FUSED_DECODE_H_
#define AHA_POLICY_FUSED_DECODE_H_

#include <vector>

#include <torch/types.h>

#include "policy/layers.h"
#include "policy/model_config.h"

namespace aha {

class DecoderImpl;

// Returns whether FusedDecodeStep takes a step of this decoder: contiguous weights and caches
// on the CPU, all float32 or all bfloat16, autograd and CPU autocast off, and
// AHA_FUSED_DECODE not set to "torch". Anything else (float16, CUDA, a step that records a
// graph) takes the op-by-op layers.
bool FusedDecodeApplies(const DecoderImpl& decoder, const std::vector<LayerKv>& kv);

// Returns the hidden states (N, E), in the weights' dtype, after the final norm for one new
// token per row, as CausalLmImpl::DecodeStep computes them. Appends each layer's key and value at completion
// index `step`. ids: (N) int64; cos, sin: (N, D) float32 for the rows' positions.
torch::Tensor FusedDecodeStep(DecoderImpl& decoder, const ModelConfig& config,
                              const torch::Tensor& ids, const torch::Tensor& cos,
                              const torch::Tensor& sin, std::vector<LayerKv>& kv,
                              const DecodeLayout& layout, int64_t step);

// Returns how many steps took FusedDecodeStep since the process started, for tests.
int64_t FusedDecodeStepsSoFar();

// Returns how many of those steps split their rows over the threads, for tests. Such a step
// runs each thread's rows through the whole model. It is taken when the layers' weights take
// at most 8 MiB and each thread gets 4 to kMaxSkinnyRows rows. Larger models split each
// product's weight rows instead. AHA_DECODE_ROW_SPLIT=torch turns the row split off.
int64_t RowSplitDecodeStepsSoFar();

}  // namespace aha

#endif  // AHA_POLICY_FUSED_DECODE_H_
