#include "policy/rope.h"

#include <cmath>

#include <torch/torch.h>

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

torch::Tensor ApplyRotary(const torch::Tensor& x, const torch::Tensor& cos,
                          const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = torch::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

}  // namespace aha
