// The MLP's gated activation, silu(gate) * up, forward and backward in one loop each, for
// float32 and bfloat16 CPU tensors.
//
// LibTorch runs it as silu and mul forward, and silu_backward and two muls backward, each a
// pass over (M, I) tensors. In bfloat16 they are slow in LibTorch 1.13: one operator profile
// of the tiny model's GRPO step spent 7 ms of its 71 ms in silu and silu_backward alone.
//
// Shapes: M tokens, I the MLP's intermediate size.
#ifndef AHA_POLICY_FUSED_SWIGLU_H_
#define AHA_POLICY_FUSED_SWIGLU_H_

#include <cstdint>

#include <torch/types.h>

namespace aha {

// Returns silu(gate) * up = gate / (1 + exp(-gate)) * up, with autograd. gate and up (..., I)
// have the same shape and dtype. Sums and products are float32, and a bfloat16 result or
// gradient is rounded once, where LibTorch rounds silu's output too. The exponential is within
// 4e-7 relative error of std::exp (policy/vector_math.h).
//
// Takes the loops for float32 or bfloat16 CPU tensors on an AVX-512 CPU, with CPU autocast off
// and AHA_FUSED_SWIGLU not set to "torch". Anything else, and a backward pass that records a
// graph of its own (create_graph), takes SwiGluByOps.
torch::Tensor SwiGlu(const torch::Tensor& gate, const torch::Tensor& up);

// The op-by-op version, torch::silu(gate) * up, for other inputs and for tests.
torch::Tensor SwiGluByOps(const torch::Tensor& gate, const torch::Tensor& up);

// Returns how many SwiGlu calls took the loops since the process started, for tests.
int64_t FusedSwiGluCallsSoFar();

}  // namespace aha

#endif  // AHA_POLICY_FUSED_SWIGLU_H_
