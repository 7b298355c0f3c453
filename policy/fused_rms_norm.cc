#include "policy/fused_rms_norm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "policy/graph_gradients.h"

namespace aha {
namespace {

std::atomic<int64_t> fused_calls{0};

// Rows per parallel task: at least ~32K elements, so that a decode step's few rows stay on one
// thread instead of paying for a parallel region.
int64_t RowGrain(int64_t width) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(width, 1));
}

// Returns the sum of squares of a row in float32, with eight partial sums.
template <typename T>
float SumOfSquares(const T* row, int64_t width) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t e = 0;
  for (; e + 8 <= width; e += 8) {
    for (int j = 0; j < 8; ++j) {
      const float v = static_cast<float>(row[e + j]);
      partial[j] += v * v;
    }
  }
  float total = 0;
  for (; e < width; ++e) total += static_cast<float>(row[e]) * static_cast<float>(row[e]);
  for (float p : partial) total += p;
  return total;
}

// y (rows, width) and the inverse root mean squares (rows), float32.
template <typename T>
void Forward(const T* x, const T* weight, T* y, float* inverse_rms, int64_t rows, int64_t width,
             float eps) {
  at::parallel_for(0, rows, RowGrain(width), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* in = x + r * width;
      T* out = y + r * width;
      const float inverse = 1.0f / std::sqrt(SumOfSquares(in, width) / width + eps);
      inverse_rms[r] = inverse;
      for (int64_t e = 0; e < width; ++e) {
        // Rounded to T twice, as the op-by-op version's cast and product are.
        const T normalized = static_cast<T>(static_cast<float>(in[e]) * inverse);
        out[e] = static_cast<T>(static_cast<float>(weight[e]) * static_cast<float>(normalized));
      }
    }
  });
}

// grad_x (rows, width) and grad_weight (width), from grad_y and the saved inverse RMS. With
// n = x * inverse_rms and dn = grad_y * weight:
//   grad_x = inverse_rms * (dn - n * mean(dn * n)),   grad_weight = sum over rows of grad_y * n.
template <typename T>
void Backward(const T* x, const T* weight, const float* inverse_rms, const T* grad_y,
              T* grad_x, float* grad_weight, int64_t rows, int64_t width) {
  // grad_weight is summed per block of rows, then over blocks in a fixed order, so the result
  // does not depend on the thread count.
  const int64_t block_rows = RowGrain(width);
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  std::vector<float> block_sums(blocks * width, 0.0f);
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> dn(width);
    for (int64_t b = begin; b < end; ++b) {
      float* weight_sum = block_sums.data() + b * width;
      const int64_t last = std::min(rows, (b + 1) * block_rows);
      for (int64_t r = b * block_rows; r < last; ++r) {
        const T* in = x + r * width;
        const T* g = grad_y + r * width;
        const float inverse = inverse_rms[r];
        float dot = 0;
        for (int64_t e = 0; e < width; ++e) {
          const float n = static_cast<float>(in[e]) * inverse;
          dn[e] = static_cast<float>(g[e]) * static_cast<float>(weight[e]);
          dot += dn[e] * n;
          weight_sum[e] += static_cast<float>(g[e]) * n;
        }
        const float mean_dot = dot / width;
        T* out = grad_x + r * width;
        for (int64_t e = 0; e < width; ++e) {
          const float n = static_cast<float>(in[e]) * inverse;
          out[e] = static_cast<T>(inverse * (dn[e] - n * mean_dot));
        }
      }
    }
  });
  std::fill(grad_weight, grad_weight + width, 0.0f);
  for (int64_t b = 0; b < blocks; ++b) {
    const float* weight_sum = block_sums.data() + b * width;
    for (int64_t e = 0; e < width; ++e) grad_weight[e] += weight_sum[e];
  }
}

class FusedRmsNormFunction : public torch::autograd::Function<FusedRmsNormFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight_in, double eps) {
    const torch::Tensor x = x_in.contiguous();
    const torch::Tensor weight = weight_in.contiguous();
    const int64_t width = x.size(-1);
    const int64_t rows = width == 0 ? 0 : x.numel() / width;
    auto y = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    auto inverse_rms = torch::empty({rows}, x.options().dtype(torch::kFloat32));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "FusedRmsNorm", [&] {
      Forward<scalar_t>(x.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(),
                        y.data_ptr<scalar_t>(), inverse_rms.data_ptr<float>(), rows, width,
                        static_cast<float>(eps));
    });
    // The inputs as given, so that a backward pass with create_graph can differentiate
    // through them. x's contiguous copy has no history here, because autograd is off.
    ctx->save_for_backward({x_in, weight_in, inverse_rms});
    ctx->saved_data["eps"] = eps;
    fused_calls.fetch_add(1, std::memory_order_relaxed);
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    if (torch::GradMode::is_enabled()) {
      // create_graph: the op-by-op version's gradients, which carry a graph of their own.
      const double eps = ctx->saved_data["eps"].toDouble();
      return GradientsWithGraph(ctx, {saved[0], saved[1]}, grads[0], 3,
                                [&] { return RmsNormByOps(saved[0], saved[1], eps); });
    }
    const torch::Tensor x = saved[0].contiguous();
    const torch::Tensor weight = saved[1].contiguous();
    const torch::Tensor& inverse_rms = saved[2];
    const torch::Tensor grad_y = grads[0].contiguous();
    const int64_t width = x.size(-1);
    const int64_t rows = width == 0 ? 0 : x.numel() / width;
    auto grad_x = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    auto grad_weight = torch::empty({width}, x.options().dtype(torch::kFloat32));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "FusedRmsNormBackward", [&] {
      Backward<scalar_t>(x.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(),
                         inverse_rms.data_ptr<float>(), grad_y.data_ptr<scalar_t>(),
                         grad_x.data_ptr<scalar_t>(), grad_weight.data_ptr<float>(), rows, width);
    });
    return {grad_x, grad_weight.to(weight.scalar_type()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor RmsNormByOps(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  auto x32 = x.to(torch::kFloat32);
  auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  auto normalized = x32 * torch::rsqrt(variance + eps);
  return weight * normalized.to(x.scalar_type());
}

void RmsNormRows(const float* x, const float* weight, float* y, int64_t rows, int64_t width,
                 float eps) {
  std::vector<float> inverse_rms(rows);
  Forward<float>(x, weight, y, inverse_rms.data(), rows, width, eps);
}

int64_t FusedRmsNormCallsSoFar() { return fused_calls.load(std::memory_order_relaxed); }

torch::Tensor FusedRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const bool fits = x.device().is_cpu() && weight.device().is_cpu() && x.dim() >= 1 &&
                    weight.dim() == 1 && weight.size(0) == x.size(-1) &&
                    weight.scalar_type() == x.scalar_type() && x.is_floating_point();
  if (!fits) return RmsNormByOps(x, weight, eps);
  return FusedRmsNormFunction::apply(x, weight, eps);
}

}  // namespace aha
