#ifndef AHA_POLICY_FUSED_RMS_NORM_H_
#define AHA_POLICY_FUSED_RMS_NORM_H_

#include <torch/torch.h>

namespace aha {

// Computes weight * (x / sqrt(mean(x^2, -1) + eps)) over the last dim, with autograd.
// x (..., E), weight (E). The result has x's shape and dtype.
//
// The arithmetic is that of RmsNormByOps below: the mean square and the normalization in
// float32, the normalized value rounded to x's dtype, then the product with the weight rounded
// to x's dtype. For float32 the result equals it to rounding. For bfloat16 and half it is the
// same except where the two float32 sums of squares round differently. Like RmsNormByOps,
// float64 input is computed in float32.
//
// LibTorch runs the op-by-op version as six tensor operations forward and about a dozen
// backward. Each decoder layer has two norms, and in a decode step each operation works on a
// few kilobytes, so dispatch dominates. Here a CPU tensor takes one loop forward and one
// backward. CUDA tensors use the op-by-op version, and so does a backward pass that records a
// graph of its own (create_graph), so that second derivatives exist.
torch::Tensor FusedRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// The op-by-op version, for devices without the fused loop and for tests.
torch::Tensor RmsNormByOps(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// The forward loop on raw float32 rows, for kernels that fuse a whole decode step: y (rows,
// width) = weight * x / rms(x). y may alias x.
void RmsNormRows(const float* x, const float* weight, float* y, int64_t rows, int64_t width,
                 float eps);

// Returns how many calls took the fused forward loop since the process started, for tests.
int64_t FusedRmsNormCallsSoFar();

}  // namespace aha

#endif  // AHA_POLICY_FUSED_RMS_NORM_H_
