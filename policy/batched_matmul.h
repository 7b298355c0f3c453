#ifndef AHA_POLICY_BATCHED_MATMUL_H_
#define AHA_POLICY_BATCHED_MATMUL_H_

#include <torch/torch.h>

namespace aha {

// Multiplies a (..., M, K) by b (..., K, N) into a contiguous (..., M, N), with autograd. The
// batch dims of a and b must match, because there is no broadcasting.
//
// LibTorch built without MKL (Debian's 1.13 among them) runs a batched matmul on CPU as one
// BLAS call per matrix, each behind three `select`s and each threaded by the BLAS on its own.
// In a tiny-model GRPO step's operator profile that loop (`aten::bmm`) took 30% of the self
// time. Here float32 CPU tensors go straight to the loaded BLAS's `sgemm_`, one call per
// matrix and no tensor per matrix, with the batch split over LibTorch's threads. Transposed
// operands (stride 1 in either of the last two dims) are read in place.
//
// The backward pass uses the direct path too, unless it runs with a graph of its own
// (create_graph), where it uses torch::matmul so that second derivatives exist.
//
// Other dtypes and devices, broadcast batch dims, or a process without `sgemm_` use
// torch::matmul. So does every call when the environment sets AHA_BATCHED_MATMUL=torch, which
// bench/attention_matmul_bench and the A/B runs in docs/benchmarks.md use.
torch::Tensor BatchedMatmul(const torch::Tensor& a, const torch::Tensor& b);

// c (M, N) = op(a) @ op(b) + beta * c for row-major float32 matrices with leading dimensions
// lda, ldb, ldc, through the loaded BLAS's `sgemm_`. Inside a parallel region an OpenMP
// OpenBLAS, the one aha installs, runs it on the calling thread. op(a) is a (M, K) as stored,
// or the transpose of a stored (K, M) when transpose_a. Likewise op(b) is b (K, N), or b stored
// (N, K) when transpose_b. Call it only when RowMajorSgemmAvailable(). AHA_BATCHED_MATMUL does
// not affect it.
void RowMajorSgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                   int64_t ldc);

// Returns whether the process has a BLAS `sgemm_` for RowMajorSgemm.
bool RowMajorSgemmAvailable();

// Returns whether float32 CPU calls take the direct `sgemm_` path in this process.
bool BatchedMatmulUsesBlas();

// Counters of the direct path since the process started, for tests: products computed through
// `sgemm_` (forward and backward) and operands copied first because BLAS could not read them
// in place.
struct BatchedMatmulCounts {
  int64_t blas_products = 0;
  int64_t operand_copies = 0;
};
BatchedMatmulCounts BatchedMatmulCountsSoFar();

}  // namespace aha

#endif  // AHA_POLICY_BATCHED_MATMUL_H_
