#include "policy/skinny_linear.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include <ATen/Parallel.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace aha {
namespace {

#if defined(__x86_64__)

// y (M, N) = x (M, K) @ w (N, K)^T + bias, for weight rows [row_begin, row_end). Each weight
// row is read from memory once: a block of 4 of them (4 * K floats, 14 KiB for K = 896) stays
// in L1 while every group of 4 input rows passes over it, with 16 accumulators.
__attribute__((target("avx512f"))) void SkinnyRows(const float* x, int64_t m, int64_t k,
                                                     const float* w, const float* bias,
                                                     int64_t row_begin, int64_t row_end,
                                                     float* y, int64_t n) {
  const int64_t k_vector = k / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (k - k_vector)) - 1);
  for (int64_t j = row_begin; j < row_end; j += 4) {
    const int64_t weight_rows = std::min<int64_t>(4, row_end - j);
    const float* w_row[4];
    // A short last block repeats its last row, so the loop body stays the same.
    for (int i = 0; i < 4; ++i) w_row[i] = w + (j + std::min<int64_t>(i, weight_rows - 1)) * k;
    for (int64_t m0 = 0; m0 < m; m0 += 4) {
      const int64_t input_rows = std::min<int64_t>(4, m - m0);
      const float* x_row[4];
      for (int r = 0; r < 4; ++r) x_row[r] = x + (m0 + std::min<int64_t>(r, input_rows - 1)) * k;
      __m512 acc[4][4];
      for (int i = 0; i < 4; ++i) {
        for (int r = 0; r < 4; ++r) acc[i][r] = _mm512_setzero_ps();
      }
      for (int64_t c = 0; c < k_vector; c += 16) {
        __m512 wv[4];
        for (int i = 0; i < 4; ++i) wv[i] = _mm512_loadu_ps(w_row[i] + c);
        for (int r = 0; r < 4; ++r) {
          const __m512 xv = _mm512_loadu_ps(x_row[r] + c);
          for (int i = 0; i < 4; ++i) acc[i][r] = _mm512_fmadd_ps(wv[i], xv, acc[i][r]);
        }
      }
      if (k_vector < k) {
        __m512 wv[4];
        for (int i = 0; i < 4; ++i) wv[i] = _mm512_maskz_loadu_ps(tail, w_row[i] + k_vector);
        for (int r = 0; r < 4; ++r) {
          const __m512 xv = _mm512_maskz_loadu_ps(tail, x_row[r] + k_vector);
          for (int i = 0; i < 4; ++i) acc[i][r] = _mm512_fmadd_ps(wv[i], xv, acc[i][r]);
        }
      }
      for (int64_t r = 0; r < input_rows; ++r) {
        for (int64_t i = 0; i < weight_rows; ++i) {
          const float b = bias != nullptr ? bias[j + i] : 0.0f;
          y[(m0 + r) * n + j + i] = _mm512_reduce_add_ps(acc[i][r]) + b;
        }
      }
    }
  }
}

bool CpuHasAvx512() { return __builtin_cpu_supports("avx512f"); }

#else

void SkinnyRows(const float*, int64_t, int64_t, const float*, const float*, int64_t, int64_t,
                float*, int64_t) {}
bool CpuHasAvx512() { return false; }

#endif

std::atomic<int64_t> loop_calls{0};

bool Enabled() {
  static const bool enabled = [] {
    const char* choice = std::getenv("AHA_SKINNY_LINEAR");
    if (choice != nullptr && std::strcmp(choice, "torch") == 0) return false;
    return CpuHasAvx512();
  }();
  return enabled;
}

bool Fits(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad() ||
                                        (bias.defined() && bias.requires_grad()))) {
    return false;
  }
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32 || x.dim() < 1) return false;
  if (!weight.device().is_cpu() || weight.scalar_type() != torch::kFloat32 ||
      weight.dim() != 2 || !weight.is_contiguous() || weight.size(1) != x.size(-1)) {
    return false;
  }
  if (bias.defined() && (!bias.device().is_cpu() || bias.scalar_type() != torch::kFloat32 ||
                         bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    return false;
  }
  const int64_t k = x.size(-1);
  const int64_t rows = k == 0 ? 0 : x.numel() / k;
  return rows >= 1 && rows <= kMaxSkinnyRows && k >= 1 && weight.size(0) >= 1;
}

}  // namespace

bool SkinnyLinearAvailable() { return Enabled(); }

int64_t SkinnyLinearCallsSoFar() { return loop_calls.load(std::memory_order_relaxed); }

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight,
                     const torch::Tensor& bias) {
  if (!Enabled() || !Fits(x, weight, bias)) {
    return torch::nn::functional::linear(x, weight, bias);
  }
  const int64_t k = x.size(-1), n = weight.size(0);
  const int64_t m = x.numel() / k;
  const torch::Tensor x_rows = x.reshape({m, k}).contiguous();
  const torch::Tensor bias_contiguous = bias.defined() ? bias.contiguous() : bias;
  auto y = torch::empty({m, n}, x.options());
  const float* x_data = x_rows.data_ptr<float>();
  const float* w_data = weight.data_ptr<float>();
  const float* bias_data = bias.defined() ? bias_contiguous.data_ptr<float>() : nullptr;
  float* y_data = y.data_ptr<float>();
  // Tasks of whole 4-row blocks, each reading at least ~32 KiB of weights.
  const int64_t blocks = (n + 3) / 4;
  const int64_t grain = std::max<int64_t>(1, 2048 / k);
  at::parallel_for(0, blocks, grain, [&](int64_t begin, int64_t end) {
    SkinnyRows(x_data, m, k, w_data, bias_data, begin * 4, std::min(n, end * 4), y_data, n);
  });
  loop_calls.fetch_add(1, std::memory_order_relaxed);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = n;
  return y.view(shape);
}

torch::Tensor Linear(const torch::nn::Linear& module, const torch::Tensor& x) {
  return Linear(x, module->weight, module->bias);
}

}  // namespace aha
