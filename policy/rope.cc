#include "policy/rope.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <tuple>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "policy/autocast.h"

namespace aha {

torch::Tensor RopeInverseFrequencies(const ModelConfig& config) {
  const int64_t d = config.head_dim;
  auto exponents = torch::arange(0, d, 2, torch::kFloat64) / static_cast<double>(d);
  auto inv_freq = 1.0 / torch::pow(config.rope_theta, exponents);
  if (!config.rope_scaling || config.rope_scaling->rope_type != "llama3") return inv_freq;

  // Llama 3.1 scaling: long wavelengths are divided by `factor`, short ones kept, and the band
  // in between interpolated smoothly (transformers' _compute_llama3_parameters).
  const RopeScaling& s = *config.rope_scaling;
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  auto wavelen = 2.0 * M_PI / inv_freq;
  auto scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  auto smooth = (old_context / wavelen - s.low_freq_factor) /
                (s.high_freq_factor - s.low_freq_factor);
  auto smoothed = (1.0 - smooth) * scaled / s.factor + smooth * scaled;
  auto is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen);
  return torch::where(is_medium, smoothed, scaled);
}

RopeTables::RopeTables(const ModelConfig& config) : inv_freq_(RopeInverseFrequencies(config)) {}

void RopeTables::Grow(int64_t capacity, torch::Device device) {
  // Round up so that a run of growing lengths reallocates only a few times.
  int64_t new_capacity = std::max<int64_t>(capacity, 2 * capacity_);
  new_capacity = (new_capacity + 255) / 256 * 256;
  auto positions = torch::arange(new_capacity, torch::kFloat64);
  auto angles = torch::outer(positions, inv_freq_);  // (capacity, D/2)
  auto full = torch::cat({angles, angles}, -1);      // (capacity, D)
  cos_ = full.cos().to(torch::kFloat32).to(device);
  sin_ = full.sin().to(torch::kFloat32).to(device);
  capacity_ = new_capacity;
}

std::pair<torch::Tensor, torch::Tensor> RopeTables::Lookup(const torch::Tensor& positions,
                                                           torch::Dtype dtype) {
  if (positions.device().is_cpu() && positions.scalar_type() == torch::kInt64) {
    return LookupOnCpu(positions.contiguous(), dtype);
  }
  int64_t max_position = positions.numel() == 0 ? 0 : positions.max().item<int64_t>();
  TORCH_CHECK(positions.numel() == 0 || positions.min().item<int64_t>() >= 0,
              "rotary positions must be non-negative");
  if (max_position >= capacity_ || cos_.device() != positions.device()) {
    Grow(max_position + 1, positions.device());
  }
  auto flat = positions.reshape({-1});
  std::vector<int64_t> shape = positions.sizes().vec();
  shape.push_back(cos_.size(1));
  auto cos = cos_.index_select(0, flat).view(shape).to(dtype);
  auto sin = sin_.index_select(0, flat).view(shape).to(dtype);
  return {cos, sin};
}

std::pair<torch::Tensor, torch::Tensor> RopeTables::LookupOnCpu(const torch::Tensor& positions,
                                                                torch::Dtype dtype) {
  const int64_t* position = positions.data_ptr<int64_t>();
  const int64_t count = positions.numel();
  int64_t max_position = 0;
  for (int64_t i = 0; i < count; ++i) {
    TORCH_CHECK(position[i] >= 0, "rotary positions must be non-negative");
    max_position = std::max(max_position, position[i]);
  }
  if (max_position >= capacity_ || !cos_.device().is_cpu()) {
    Grow(max_position + 1, positions.device());
  }
  const int64_t d = cos_.size(1);
  std::vector<int64_t> shape = positions.sizes().vec();
  shape.push_back(d);
  auto cos = torch::empty(shape, torch::kFloat32);
  auto sin = torch::empty(shape, torch::kFloat32);
  const float* cos_table = cos_.data_ptr<float>();
  const float* sin_table = sin_.data_ptr<float>();
  float* cos_out = cos.data_ptr<float>();
  float* sin_out = sin.data_ptr<float>();
  for (int64_t i = 0; i < count; ++i) {
    std::copy_n(cos_table + position[i] * d, d, cos_out + i * d);
    std::copy_n(sin_table + position[i] * d, d, sin_out + i * d);
  }
  return {cos.to(dtype), sin.to(dtype)};
}

namespace {

std::atomic<int64_t> fused_calls{0};

// Returns dx = dy * cos + cat(z2, -z1) with z = dy * sin, the transpose of the rotation, by
// ops, so that a create_graph backward pass can differentiate it.
torch::Tensor RotaryTransposeByOps(const torch::Tensor& grad, const torch::Tensor& cos,
                                   const torch::Tensor& sin) {
  const int64_t half = grad.size(-1) / 2;
  auto z = grad * sin;
  return grad * cos + torch::cat({z.narrow(-1, half, half), -z.narrow(-1, 0, half)}, -1);
}

// Runs rotate(x_vector, cos_vector, sin_vector, y_vector, D) for every vector of the last dim.
// x, cos and sin have the same 4-D shape (cos and sin expanded, so their strides may be 0)
// and stride 1 in the last dim. y is contiguous.
template <typename Rotate>
void ForEachVector(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                   torch::Tensor& y, const Rotate& rotate) {
  const int64_t a = x.size(0), b = x.size(1), c = x.size(2), d = x.size(3);
  const float* x_data = x.data_ptr<float>();
  const float* cos_data = cos.data_ptr<float>();
  const float* sin_data = sin.data_ptr<float>();
  float* y_data = y.data_ptr<float>();
  const auto x_strides = x.strides(), cos_strides = cos.strides(), sin_strides = sin.strides();
  at::parallel_for(0, a * b * c, std::max<int64_t>(1, 4096 / d), [&](int64_t begin, int64_t end) {
    for (int64_t v = begin; v < end; ++v) {
      const int64_t i = v / (b * c), j = (v / c) % b, k = v % c;
      auto offset = [&](torch::IntArrayRef strides) {
        return i * strides[0] + j * strides[1] + k * strides[2];
      };
      rotate(x_data + offset(x_strides), cos_data + offset(cos_strides),
             sin_data + offset(sin_strides), y_data + v * d, d);
    }
  });
}

// Returns x (..., D) and cos/sin expanded to its shape, as 4-D tensors with a unit last
// stride.
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> AsVectors(const torch::Tensor& x,
                                                                  const torch::Tensor& cos,
                                                                  const torch::Tensor& sin) {
  auto four_d = [](torch::Tensor t) {
    while (t.dim() < 4) t = t.unsqueeze(0);
    return t.stride(3) == 1 ? t : t.contiguous();
  };
  torch::Tensor x4 = four_d(x);
  return {x4, four_d(cos.expand(x.sizes())), four_d(sin.expand(x.sizes()))};
}

// Sets dx = dy * cos + cat(z2, -z1) with z = dy * sin, the transpose of RotateVector.
void RotateVectorBack(const float* dy, const float* cos, const float* sin, float* dx,
                      int64_t d) {
  const int64_t half = d / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float dy1 = dy[i], dy2 = dy[i + half];
    dx[i] = dy1 * cos[i] + dy2 * sin[i + half];
    dx[i + half] = dy2 * cos[i + half] - dy1 * sin[i];
  }
}

class RotaryFunction : public torch::autograd::Function<RotaryFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin) {
    auto [x4, cos4, sin4] = AsVectors(x, cos, sin);
    auto y = torch::empty(x.sizes(), x.options());
    ForEachVector(x4, cos4, sin4, y, RotateVector);
    ctx->save_for_backward({cos, sin});
    fused_calls.fetch_add(1, std::memory_order_relaxed);
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& grad = grads[0];
    if (torch::GradMode::is_enabled()) {
      return {RotaryTransposeByOps(grad, saved[0], saved[1]), torch::Tensor(), torch::Tensor()};
    }
    auto [grad4, cos4, sin4] = AsVectors(grad, saved[0], saved[1]);
    auto dx = torch::empty(grad.sizes(), grad.options());
    ForEachVector(grad4, cos4, sin4, dx, RotateVectorBack);
    return {dx, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void RotateVector(const float* x, const float* cos, const float* sin, float* y, int64_t d) {
  const int64_t half = d / 2;
  for (int64_t i = 0; i < half; ++i) {
    // The same products and sums as RotaryByOps: x1 * cos + (-x2) * sin equals x1 * cos -
    // x2 * sin exactly.
    const float x1 = x[i], x2 = x[i + half];
    y[i] = x1 * cos[i] - x2 * sin[i];
    y[i + half] = x2 * cos[i + half] + x1 * sin[i + half];
  }
}

int64_t FusedRotaryCallsSoFar() { return fused_calls.load(std::memory_order_relaxed); }

torch::Tensor RotaryByOps(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin) {
  const torch::ScalarType dtype = x.scalar_type();
  const bool fits = x.device().is_cpu() &&
                    (dtype == torch::kFloat32 || dtype == torch::kBFloat16) &&
                    cos.scalar_type() == dtype && sin.scalar_type() == dtype &&
                    cos.device().is_cpu() && sin.device().is_cpu() && !cos.requires_grad() &&
                    !sin.requires_grad() && x.dim() >= 1 && x.dim() <= 4 &&
                    cos.dim() <= x.dim() && sin.dim() <= x.dim() &&
                    x.size(-1) % 2 == 0 && !CpuAutocastEnabled();
  if (!fits) return RotaryByOps(x, cos, sin);
  // bfloat16 rotates float32 copies and rounds once, and the copy's backward pass rounds the
  // gradient back. For float32 the conversions return the tensors themselves.
  return RotaryFunction::apply(x.to(torch::kFloat32), cos.to(torch::kFloat32),
                               sin.to(torch::kFloat32))
      .to(dtype);
}

}  // namespace aha
