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

  torch::Tensor inv_freq_;  // (D/2) float64
  torch::Tensor cos_;       // (capacity, D) float32
  torch::Tensor sin_;       // (capacity, D) float32
  int64_t capacity_ = 0;
};

// x * cos + rotate_half(x) * sin, where rotate_half(x) = cat(-x2, x1) on the last dim.
// x: (..., T, D) with cos/sin broadcastable to it.
torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin);

}  // namespace aha

#endif  // AHA_POLICY_ROPE_H_
