#ifndef AHA_POLICY_SKINNY_LINEAR_H_
#define AHA_POLICY_SKINNY_LINEAR_H_

#include <absl/types/span.h>
#include <torch/torch.h>

namespace aha {

// Computes x @ weight^T + bias, like torch::nn::functional::linear. x (..., K), weight (N, K),
// bias (N) or undefined. Returns (..., N).
//
// A decode step multiplies a few rows by every weight of the model, so it is bound by reading
// the weights from memory. OpenBLAS packs the weights first, and for 4 rows of the 0.5B shape
// it read them at 9.5 to 10.6 GB/s on the 2-core development Xeon (bench/skinny_linear_bench).
// This function streams each weight row once through an AVX-512 loop, 4 weight rows against 4
// input rows at a time, with the weight rows split over LibTorch's threads. The same matrices
// read at 20.8 to 26.7 GB/s.
//
// The loop takes float32 or bfloat16 CPU input (weights of the same dtype) of at most
// kMaxSkinnyRows rows, with autograd and CPU autocast off, on a CPU with AVX-512. It sums in
// float32 and rounds a bfloat16 result once. Anything else, or AHA_SKINNY_LINEAR=torch in the
// environment, goes to torch::nn::functional::linear.
//
// OpenBLAS's sgemm runs the last M % 16 rows of a product through slower edge kernels. On the
// development Xeon, (156, 896) x (896, 4864) took 6.1 ms and (160, 896) x (896, 4864) 5.1 ms;
// 65 rows took 5.4 ms and 80 rows 3.0 ms, and the Haswell kernel showed the same. So float32
// CPU input of kMinPaddedLinearRows or more rows goes to torch's linear padded with zero rows
// to a multiple of kLinearRowMultiple, and the extra rows are cut off again (off with
// AHA_LINEAR_ROW_PADDING=torch). bfloat16, and float32 under autocast, go through oneDNN,
// whose blocking was not measured, so they are not padded.
torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight,
                     const torch::Tensor& bias);

// Calls Linear with the module's weight and bias.
torch::Tensor Linear(const torch::nn::Linear& module, const torch::Tensor& x);

// The maximum row count for the AVX-512 loop. At 64 rows it still read the 0.5B shape's
// matrices 1.04x to 1.5x faster than OpenBLAS. Larger counts were not measured.
inline constexpr int64_t kMaxSkinnyRows = 64;

// Row padding for torch's linear: float32 products of at least kMinPaddedLinearRows rows are
// padded to a multiple of kLinearRowMultiple rows.
inline constexpr int64_t kLinearRowMultiple = 16;
inline constexpr int64_t kMinPaddedLinearRows = 32;

// One product for SkinnyLinearMany: y (M, N) = x @ weight^T + bias, row-major, with float32 x
// and y and weight and bias of type T (float or bfloat16).
template <typename T>
struct SkinnyProductOf {
  const T* weight;  // (N, K)
  const T* bias;    // (N), or null
  int64_t n;
  float* y;         // (M, N)
};

// Runs products that share the float32 input x (M, K), M <= kMaxSkinnyRows, in one parallel
// region of the AVX-512 loop, summing in float32. A fused decode step's products are a few
// microseconds each, too small to pay for a region and a tensor each. Call it only when
// SkinnyLinearAvailable().
void SkinnyLinearMany(const float* x, int64_t m, int64_t k,
                      absl::Span<const SkinnyProductOf<float>> products);
void SkinnyLinearMany(const float* x, int64_t m, int64_t k,
                      absl::Span<const SkinnyProductOf<c10::BFloat16>> products);

// Returns whether this process takes the AVX-512 loop for rows that fit.
bool SkinnyLinearAvailable();

// Returns how many calls took the AVX-512 loop since the process started, for tests.
int64_t SkinnyLinearCallsSoFar();

// Returns how many calls padded their rows since the process started, for tests.
int64_t RowPaddedLinearCallsSoFar();

}  // namespace aha

#endif  // AHA_POLICY_SKINNY_LINEAR_H_
