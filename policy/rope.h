// Rotary position embeddings in Hugging Face's rotate-half convention, with optional Llama 3
// frequency scaling.
#ifndef AHA_POLICY_ROPE_H_
#define AHA_POLICY_ROPE_H_

#include <torch/types.h>

#include "policy/model_config.h"

namespace aha {

// The inverse frequencies theta^(-2i/D) for i in [0, D/2), in float64, after any Llama 3
// scaling. (D/2)
torch::Tensor RopeInverseFrequencies(const ModelConfig& config);

// Holds cos/sin tables for positions [0, capacity). The angles pos * inv_freq are computed in
// float64 and only the cos/sin results are rounded to float32: at position 15962 with theta 1e6
// an fp32 angle would already be off by ~1e-3 radians.
class RopeTables {
 public:
  explicit RopeTables(const ModelConfig& config);

  // Returns (cos, sin) for `positions` (any shape S), each of shape (S..., D) in `dtype` on the
  // positions' device. Grows the tables when a position exceeds the current capacity.
  std::pair<torch::Tensor, torch::Tensor> Lookup(const torch::Tensor& positions,
                                                 torch::Dtype dtype);

 private:
  void Grow(int64_t capacity, torch::Device device);
  // Lookup for contiguous int64 CPU positions: copies the rows in one loop. The general
  // version's maximum, minimum and gathers are about ten LibTorch operations, and a decode
  // step looks up once.
  std::pair<torch::Tensor, torch::Tensor> LookupOnCpu(const torch::Tensor& positions,
                                                      torch::Dtype dtype);

  torch::Tensor inv_freq_;  // (D/2) float64
  torch::Tensor cos_;       // (capacity, D) float32
  torch::Tensor sin_;       // (capacity, D) float32
  int64_t capacity_ = 0;
};

// x * cos + rotate_half(x) * sin, where rotate_half(x) = cat(-x2, x1) on the last dim.
// x: (..., T, D) with cos/sin broadcastable to it. With autograd.
//
// A float32 CPU x with cos/sin that need no gradient takes one loop forward and one backward,
// with the same rounding as the op-by-op version (RotaryByOps). LibTorch's version is about
// seven operations each way per call, two calls per layer. bfloat16 x, cos and sin take the
// same loops on float32 copies, and the result is rounded once where the op-by-op version
// rounds the two products and their sum. Other inputs, and a backward pass that records a
// graph of its own (create_graph), take the op-by-op version.
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin);

// The op-by-op version of ApplyRotary, for other devices and dtypes and for tests.
torch::Tensor RotaryByOps(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin);

// Rotates one vector of D floats: y = x * cos + cat(-x2, x1) * sin. y may be x.
void RotateVector(const float* x, const float* cos, const float* sin, float* y, int64_t d);

// Returns how many ApplyRotary calls took the loop since the process started, for tests.
int64_t FusedRotaryCallsSoFar();

}  // namespace aha

#endif  // AHA_POLICY_ROPE_H_
