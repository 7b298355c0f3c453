#include "policy/batched_matmul.h"

#include <dlfcn.h>

#include <atomic>
#include <climits>
#include <vector>

#include <ATen/Parallel.h>

#include "policy/kernel_switch.h"

namespace aha {
namespace {

// The Fortran BLAS interface, which OpenBLAS and the reference BLAS both export. Both read the
// single-character options without the hidden string-length arguments of Fortran callers.
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n,
                         const int* k, const float* alpha, const float* a, const int* lda,
                         const float* b, const int* ldb, const float* beta, float* c,
                         const int* ldc);

// The loaded BLAS's sgemm_, or null when the process has none.
SgemmFn ProcessSgemm() {
  static const SgemmFn sgemm = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return sgemm;
}

// ProcessSgemm, or null when AHA_BATCHED_MATMUL=torch sends BatchedMatmul to torch::matmul.
SgemmFn LoadedSgemm() {
  static const SgemmFn sgemm =
      KernelSwitchedToTorch("AHA_BATCHED_MATMUL") ? nullptr : ProcessSgemm();
  return sgemm;
}

std::atomic<int64_t> blas_products{0};
std::atomic<int64_t> operand_copies{0};

// The memory layout of one (rows x cols) matrix of a batch, in BLAS terms.
struct MatrixLayout {
  bool column_major = false;
  int ld = 1;
};

// Returns false when the matrix is neither row- nor column-major with a leading dimension BLAS
// accepts (expanded or overlapping strides, for example).
bool LayoutOf(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
              MatrixLayout* layout) {
  if (cols == 1) col_stride = 1;  // A size-1 dim's stride does not matter.
  if (col_stride == 1) {
    const int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : row_stride;
    if (ld < std::max<int64_t>(cols, 1) || ld > INT_MAX) return false;
    *layout = {false, static_cast<int>(ld)};
    return true;
  }
  if (row_stride == 1 || rows == 1) {
    if (col_stride < std::max<int64_t>(rows, 1) || col_stride > INT_MAX) return false;
    *layout = {true, static_cast<int>(col_stride)};
    return true;
  }
  return false;
}

// The element offset of each matrix of t (..., R, C), in row-major order of the batch dims.
std::vector<int64_t> MatrixOffsets(const torch::Tensor& t) {
  const int64_t batch_dims = t.dim() - 2;
  int64_t count = 1;
  for (int64_t d = 0; d < batch_dims; ++d) count *= t.size(d);
  std::vector<int64_t> offsets(count, 0);
  std::vector<int64_t> index(batch_dims, 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t offset = 0;
    for (int64_t d = 0; d < batch_dims; ++d) offset += index[d] * t.stride(d);
    offsets[i] = offset;
    for (int64_t d = batch_dims - 1; d >= 0; --d) {
      if (++index[d] < t.size(d)) break;
      index[d] = 0;
    }
  }
  return offsets;
}

// Leaves t alone when BLAS can read its matrices in place, else returns a contiguous copy.
torch::Tensor ReadableBy(const torch::Tensor& t, MatrixLayout* layout) {
  const int64_t rows = t.size(-2), cols = t.size(-1);
  if (LayoutOf(rows, cols, t.stride(-2), t.stride(-1), layout)) return t;
  auto copy = t.contiguous();
  operand_copies.fetch_add(1, std::memory_order_relaxed);
  TORCH_CHECK(LayoutOf(rows, cols, copy.stride(-2), copy.stride(-1), layout),
              "BatchedMatmul: a contiguous (", rows, ", ", cols, ") matrix has no BLAS layout");
  return copy;
}

bool FitsBlas(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() < 3 || a.dim() != b.dim()) return false;
  if (a.sizes().slice(0, a.dim() - 2) != b.sizes().slice(0, b.dim() - 2)) return false;
  if (a.size(-1) != b.size(-2)) return false;
  for (int64_t size : {a.size(-2), a.size(-1), b.size(-1)}) {
    if (size > INT_MAX) return false;
  }
  return a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == torch::kFloat32 &&
         b.scalar_type() == torch::kFloat32;
}

// The product without autograd; a and b satisfy FitsBlas.
torch::Tensor BlasBatchedMatmul(SgemmFn sgemm, const torch::Tensor& a_in,
                                const torch::Tensor& b_in) {
  const int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  std::vector<int64_t> out_shape = a_in.sizes().vec();
  out_shape.back() = n;
  if (k == 0) return torch::zeros(out_shape, a_in.options());
  auto out = torch::empty(out_shape, a_in.options());
  if (out.numel() == 0) return out;

  MatrixLayout a_layout, b_layout;
  const torch::Tensor a = ReadableBy(a_in, &a_layout);
  const torch::Tensor b = ReadableBy(b_in, &b_layout);
  const std::vector<int64_t> a_offsets = MatrixOffsets(a);
  const std::vector<int64_t> b_offsets = MatrixOffsets(b);
  const int64_t count = static_cast<int64_t>(a_offsets.size());

  // Row-major C = A B is column-major C^T = B^T A^T. A row-major operand already is its own
  // transpose to BLAS, and a column-major one needs 'T'.
  const char trans_b = b_layout.column_major ? 'T' : 'N';
  const char trans_a = a_layout.column_major ? 'T' : 'N';
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  const int ldc = std::max(ni, 1);
  const float alpha = 1.0f, beta = 0.0f;
  const float* a_data = a.data_ptr<float>();
  const float* b_data = b.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  auto multiply = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      sgemm(&trans_b, &trans_a, &ni, &mi, &ki, &alpha, b_data + b_offsets[i], &b_layout.ld,
            a_data + a_offsets[i], &a_layout.ld, &beta, out_data + i * m * n, &ldc);
    }
  };
  // Each task gets at least ~1 MFLOP, so a small decode-step product does not pay for a
  // parallel region. Inside one, an OpenMP OpenBLAS runs each call on one thread. Outside,
  // the BLAS threads a large matrix on its own.
  constexpr int64_t kMinFlopsPerTask = int64_t{1} << 20;
  const int64_t grain = std::max<int64_t>(1, kMinFlopsPerTask / std::max<int64_t>(2 * m * n * k, 1));
  at::parallel_for(0, count, grain, multiply);
  blas_products.fetch_add(1, std::memory_order_relaxed);
  return out;
}

class BatchedMatmulFunction : public torch::autograd::Function<BatchedMatmulFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a,
                               const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    return BlasBatchedMatmul(LoadedSgemm(), a, b);
  }

  // dA = dC B^T and dB = A^T dC. The transposes are strides, not copies. With create_graph
  // the products go through torch::matmul, whose results carry a graph for second derivatives.
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& grad = grads[0];
    const bool differentiable = torch::GradMode::is_enabled();
    auto multiply = [&](const torch::Tensor& x, const torch::Tensor& y) {
      return differentiable ? torch::matmul(x, y) : BlasBatchedMatmul(LoadedSgemm(), x, y);
    };
    torch::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0)) grad_a = multiply(grad, saved[1].transpose(-1, -2));
    if (ctx->needs_input_grad(1)) grad_b = multiply(saved[0].transpose(-1, -2), grad);
    return {grad_a, grad_b};
  }
};

}  // namespace

bool BatchedMatmulUsesBlas() { return LoadedSgemm() != nullptr; }

bool RowMajorSgemmAvailable() { return ProcessSgemm() != nullptr; }

void RowMajorSgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                   int64_t ldc) {
  const SgemmFn sgemm = ProcessSgemm();
  TORCH_CHECK(sgemm != nullptr, "RowMajorSgemm: this process has no sgemm_");
  for (int64_t size : {m, n, k, lda, ldb, ldc}) {
    TORCH_CHECK(size <= INT_MAX, "RowMajorSgemm: size ", size, " exceeds the BLAS int range");
  }
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // op(a) @ op(b) is zero. Written here because BLAS may not accept the empty operands.
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    }
    return;
  }
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major matrix
  // read column-major is its own transpose.
  const char trans_b = transpose_b ? 'T' : 'N';
  const char trans_a = transpose_a ? 'T' : 'N';
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  const int lda_i = static_cast<int>(lda), ldb_i = static_cast<int>(ldb);
  const int ldc_i = static_cast<int>(ldc);
  const float alpha = 1.0f;
  sgemm(&trans_b, &trans_a, &ni, &mi, &ki, &alpha, b, &ldb_i, a, &lda_i, &beta, c, &ldc_i);
}

BatchedMatmulCounts BatchedMatmulCountsSoFar() {
  return {blas_products.load(std::memory_order_relaxed),
          operand_copies.load(std::memory_order_relaxed)};
}

torch::Tensor BatchedMatmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (LoadedSgemm() == nullptr || !FitsBlas(a, b)) return torch::matmul(a, b);
  return BatchedMatmulFunction::apply(a, b);
}

}  // namespace aha
