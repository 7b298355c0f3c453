#include "policy/skinny_linear.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include <ATen/Parallel.h>

#include "policy/autocast.h"
#include "policy/kernel_switch.h"
#include "policy/grad_in_place.h"
#include "policy/vector_math.h"

#if defined(__x86_64__)
#include "policy/avx512_math.h"
#endif

namespace aha {
namespace {

#if defined(__x86_64__)

// Computes y (M, N) = x (M, K) @ w (N, K)^T + bias for weight rows [row_begin, row_end). x is
// float32, w and bias are of type T and y of type Y (each float or bfloat16). Sums are float32.
// Each weight row is read from memory once: a block of 4 of them (4 * K floats, 14 KiB for
// K = 896) stays in L1 while every group of 4 input rows passes over it, with 16
// accumulators. A bfloat16 output is rounded once, to nearest even.
template <typename T, typename Y>
__attribute__((target("avx512f"))) void SkinnyRows(const float* x, int64_t m, int64_t k,
                                                     const T* w, const T* bias,
                                                     int64_t row_begin, int64_t row_end, Y* y,
                                                     int64_t n) {
  const int64_t k_vector = k / 16 * 16;
  for (int64_t j = row_begin; j < row_end; j += 4) {
    const int64_t weight_rows = std::min<int64_t>(4, row_end - j);
    const T* w_row[4];
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
      // For bfloat16 the next block's 4 rows, contiguous after this one's, are prefetched
      // during the first pass. With rows of 1.75 KiB the hardware prefetcher alone read 13 GB/s
      // in a throwaway test, and 18 GB/s with this. float32 rows read as fast without it.
      const char* next_block = reinterpret_cast<const char*>(w + (j + 4) * k);
      const bool prefetch = sizeof(T) < sizeof(float) && m0 == 0 && j + 4 < row_end;
      for (int64_t c = 0; c < k_vector; c += 16) {
        if (prefetch) {
          // 16 columns of 4 rows are 4 * sizeof(T) cache lines of the next block.
          for (size_t line = 0; line < sizeof(T); ++line) {
            _mm_prefetch(next_block + (c / 16 * sizeof(T) + line) * 64, _MM_HINT_T0);
          }
        }
        __m512 wv[4];
        for (int i = 0; i < 4; ++i) wv[i] = Load16(w_row[i] + c);
        for (int r = 0; r < 4; ++r) {
          const __m512 xv = Load16(x_row[r] + c);
          for (int i = 0; i < 4; ++i) acc[i][r] = _mm512_fmadd_ps(wv[i], xv, acc[i][r]);
        }
      }
      if (k_vector < k) {
        __m512 wv[4];
        for (int i = 0; i < 4; ++i) wv[i] = LoadTail(w_row[i] + k_vector, k - k_vector);
        for (int r = 0; r < 4; ++r) {
          const __m512 xv = LoadTail(x_row[r] + k_vector, k - k_vector);
          for (int i = 0; i < 4; ++i) acc[i][r] = _mm512_fmadd_ps(wv[i], xv, acc[i][r]);
        }
      }
      // One tree of shuffles sums all 16 accumulators. With K = 128, a reduction per
      // accumulator cost about as many instructions as the loop above.
      __m512 grouped[16];
      for (int r = 0; r < 4; ++r) {
        for (int i = 0; i < 4; ++i) grouped[r * 4 + i] = acc[i][r];
      }
      alignas(64) float sums[16];  // sums[r * 4 + i]: input row r times weight row i
      _mm512_store_ps(sums, SumEach(grouped));
      for (int64_t r = 0; r < input_rows; ++r) {
        for (int64_t i = 0; i < weight_rows; ++i) {
          const float b = bias != nullptr ? static_cast<float>(bias[j + i]) : 0.0f;
          y[(m0 + r) * n + j + i] = static_cast<Y>(sums[r * 4 + i] + b);
        }
      }
    }
  }
}

#else

template <typename T, typename Y>
void SkinnyRows(const float*, int64_t, int64_t, const T*, const T*, int64_t, int64_t, Y*,
                int64_t) {}

#endif

std::atomic<int64_t> loop_calls{0};

bool Enabled() {
  static const bool enabled = [] {
    if (KernelSwitchedToTorch("AHA_SKINNY_LINEAR")) return false;
    return CpuHasAvx512();
  }();
  return enabled;
}

bool Fits(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad() ||
                                        (bias.defined() && bias.requires_grad()))) {
    return false;
  }
  if (CpuAutocastEnabled()) return false;
  const torch::ScalarType dtype = x.scalar_type();
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16) return false;
  if (!x.device().is_cpu() || x.dim() < 1) return false;
  if (!weight.device().is_cpu() || weight.scalar_type() != dtype ||
      weight.dim() != 2 || !weight.is_contiguous() || weight.size(1) != x.size(-1)) {
    return false;
  }
  if (bias.defined() && (!bias.device().is_cpu() || bias.scalar_type() != dtype ||
                         bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    return false;
  }
  const int64_t k = x.size(-1);
  const int64_t rows = k == 0 ? 0 : x.numel() / k;
  return rows >= 1 && rows <= kMaxSkinnyRows && k >= 1 && weight.size(0) >= 1;
}

std::atomic<int64_t> padded_calls{0};

bool PaddingEnabled() {
  static const bool enabled = !KernelSwitchedToTorch("AHA_LINEAR_ROW_PADDING");
  return enabled;
}

// Runs torch's linear on float32 CPU rows padded with zero rows to a multiple of
// kLinearRowMultiple, then cuts the padding off. Autograd records the pad and the cut, so the
// gradients are those of the unpadded product.
torch::Tensor RowPaddedLinear(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias) {
  const int64_t k = x.size(-1);
  const int64_t m = k > 0 ? x.numel() / k : 0;
  const int64_t padded = (m + kLinearRowMultiple - 1) / kLinearRowMultiple * kLinearRowMultiple;
  if (padded == m || m < kMinPaddedLinearRows || !x.device().is_cpu() ||
      x.scalar_type() != torch::kFloat32 || !PaddingEnabled() || CpuAutocastEnabled()) {
    return torch::nn::functional::linear(x, weight, bias);
  }
  auto rows = torch::constant_pad_nd(x.reshape({m, k}), {0, 0, 0, padded - m});
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = weight.size(0);
  padded_calls.fetch_add(1, std::memory_order_relaxed);
  return torch::nn::functional::linear(rows, weight, bias).narrow(0, 0, m).view(shape);
}

}  // namespace

bool SkinnyLinearAvailable() { return Enabled(); }

int64_t SkinnyLinearCallsSoFar() { return loop_calls.load(std::memory_order_relaxed); }

int64_t RowPaddedLinearCallsSoFar() { return padded_calls.load(std::memory_order_relaxed); }

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight,
                     const torch::Tensor& bias) {
  if (!Enabled() || !Fits(x, weight, bias)) {
    if (AccumulatesInGrad(x, weight, bias)) return LinearAccumulatingInGrad(x, weight, bias);
    return RowPaddedLinear(x, weight, bias);
  }
  const int64_t k = x.size(-1), n = weight.size(0);
  const int64_t m = x.numel() / k;
  // The input rows in float32, converted once here instead of in every block of weight rows.
  const torch::Tensor x_rows = x.reshape({m, k}).to(torch::kFloat32).contiguous();
  const torch::Tensor bias_contiguous = bias.defined() ? bias.contiguous() : bias;
  auto y = torch::empty({m, n}, x.options());
  // Tasks of whole 4-row blocks, each reading at least ~32 KiB of float32 weights.
  const int64_t blocks = (n + 3) / 4;
  const int64_t grain = std::max<int64_t>(1, 2048 / k);
  auto run = [&](auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    const float* x_data = x_rows.data_ptr<float>();
    const T* w_data = weight.data_ptr<T>();
    const T* bias_data = bias.defined() ? bias_contiguous.data_ptr<T>() : nullptr;
    T* y_data = y.data_ptr<T>();
    at::parallel_for(0, blocks, grain, [&](int64_t begin, int64_t end) {
      SkinnyRows<T, T>(x_data, m, k, w_data, bias_data, begin * 4, std::min(n, end * 4), y_data,
                       n);
    });
  };
  if (x.scalar_type() == torch::kBFloat16) {
    run(static_cast<c10::BFloat16*>(nullptr));
  } else {
    run(static_cast<float*>(nullptr));
  }
  loop_calls.fetch_add(1, std::memory_order_relaxed);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = n;
  return y.view(shape);
}

namespace {

template <typename T>
void SkinnyLinearManyOf(const float* x, int64_t m, int64_t k,
                        absl::Span<const SkinnyProductOf<T>> products) {
  TORCH_CHECK(Enabled() && m >= 1 && m <= kMaxSkinnyRows && k >= 1, "SkinnyLinearMany: ", m,
              " rows of ", k, " columns, or no AVX-512 loop in this process");
  // Blocks of 4 weight rows, numbered across the products: block_start[i] is product i's first.
  std::vector<int64_t> block_start = {0};
  for (const SkinnyProductOf<T>& product : products) {
    block_start.push_back(block_start.back() + (product.n + 3) / 4);
  }
  const int64_t grain = std::max<int64_t>(1, 2048 / k);
  at::parallel_for(0, block_start.back(), grain, [&](int64_t begin, int64_t end) {
    for (size_t i = 0; i < products.size(); ++i) {
      const int64_t first = std::max(begin, block_start[i]);
      const int64_t last = std::min(end, block_start[i + 1]);
      if (first >= last) continue;
      const SkinnyProductOf<T>& product = products[i];
      const int64_t row_begin = (first - block_start[i]) * 4;
      const int64_t row_end = std::min(product.n, (last - block_start[i]) * 4);
      SkinnyRows<T, float>(x, m, k, product.weight, product.bias, row_begin, row_end, product.y,
                           product.n);
    }
  });
  loop_calls.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

void SkinnyLinearMany(const float* x, int64_t m, int64_t k,
                      absl::Span<const SkinnyProductOf<float>> products) {
  SkinnyLinearManyOf<float>(x, m, k, products);
}

void SkinnyLinearMany(const float* x, int64_t m, int64_t k,
                      absl::Span<const SkinnyProductOf<c10::BFloat16>> products) {
  SkinnyLinearManyOf<c10::BFloat16>(x, m, k, products);
}

torch::Tensor Linear(const torch::nn::Linear& module, const torch::Tensor& x) {
  return Linear(x, module->weight, module->bias);
}

}  // namespace aha
