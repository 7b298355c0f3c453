#include "policy/sampling.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>

namespace aha {
namespace {

constexpr float kRemoved = -std::numeric_limits<float>::infinity();

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::optional<SamplingProblem> FindSamplingProblem(const SamplingOptions& options,
                                                   bool allow_greedy) {
  // Below this, logits divided by the temperature can overflow float32 and the sampled
  // distribution becomes NaN; a temperature this low is greedy decoding in all but name.
  constexpr double kMinTemperature = 1e-6;
  const double t = options.temperature;
  if (!(t == 0 && allow_greedy) && !(t >= kMinTemperature && std::isfinite(t))) {
    return SamplingProblem{
        "temperature",
        allow_greedy ? "must be 0 (greedy) or a finite number >= 1e-6 (smaller positive "
                       "values overflow the float32 logits)"
                     : "must be a finite number >= 1e-6 for training (0 would be greedy, and "
                       "every completion of a group would be the same)"};
  }
  if (options.top_k < 0) return SamplingProblem{"top_k", "must be >= 0 (0 keeps every token)"};
  if (!(options.top_p > 0 && options.top_p <= 1)) {
    return SamplingProblem{"top_p", "must be in (0, 1]"};
  }
  if (!(options.min_p >= 0 && options.min_p < 1)) {
    return SamplingProblem{"min_p", "must be in [0, 1)"};
  }
  return std::nullopt;
}

torch::Tensor FilteredLogProbs(const torch::Tensor& logits, const SamplingOptions& options) {
  TORCH_CHECK(options.temperature > 0, "FilteredLogProbs needs a positive temperature");
  auto scores = logits.to(torch::kFloat32) / options.temperature;  // (N, V)
  const int64_t vocab = scores.size(-1);

  if (options.top_k > 0 && options.top_k < vocab) {
    // Keep every token whose score reaches the k-th largest, as transformers does.
    auto kth = std::get<0>(scores.topk(options.top_k, -1)).narrow(-1, options.top_k - 1, 1);
    scores = scores.masked_fill(scores < kth, kRemoved);
  }

  if (options.top_p < 1.0) {
    auto [sorted, order] = scores.sort(-1, /*descending=*/true);
    auto probs = sorted.softmax(-1);
    // A token is dropped when the tokens more likely than it already reach top_p, so the most
    // likely token always stays.
    auto mass_before = probs.cumsum(-1) - probs;
    auto drop_sorted = mass_before >= options.top_p;
    auto drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    scores = scores.masked_fill(drop, kRemoved);
  }

  if (options.min_p > 0.0) {
    auto probs = scores.softmax(-1);
    auto threshold = probs.amax(-1, /*keepdim=*/true) * options.min_p;
    scores = scores.masked_fill(probs < threshold, kRemoved);
  }

  return scores.log_softmax(-1);
}

double CounterUniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  uint64_t x = SplitMix64(seed ^ SplitMix64(stream ^ SplitMix64(counter + 0x5851F42D4C957F2Dull)));
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

torch::Tensor SampleFromLogProbsByOps(const torch::Tensor& log_probs,
                                      const torch::Tensor& uniforms) {
  auto cdf = log_probs.exp().to(torch::kFloat64).cumsum(-1);     // (N, V)
  auto total = cdf.narrow(-1, cdf.size(-1) - 1, 1);               // (N, 1)
  auto targets = uniforms.to(cdf.device()).unsqueeze(1) * total;  // (N, 1)
  // The first index whose cumulative mass exceeds the target: zero-probability tokens leave
  // the CDF flat and so are never the first to exceed it.
  auto tokens = torch::searchsorted(cdf, targets, /*out_int32=*/false, /*right=*/true);
  return tokens.squeeze(1).clamp_max(cdf.size(-1) - 1);
}

torch::Tensor SampleFromLogProbs(const torch::Tensor& log_probs, const torch::Tensor& uniforms) {
  if (!log_probs.device().is_cpu() || log_probs.scalar_type() != torch::kFloat32 ||
      log_probs.size(1) == 0) {
    return SampleFromLogProbsByOps(log_probs, uniforms);
  }
  auto probs = log_probs.exp();  // (N, V)
  const int64_t rows = probs.size(0), vocab = probs.size(1);

  // The same float64 running sums as the ops' cumsum, in the same order, without the (N, V)
  // float64 copy and its prefix sums: one pass for the total and one up to the drawn token.
  probs = probs.contiguous();
  const torch::Tensor u = uniforms.to(torch::kCPU, torch::kFloat64).contiguous();
  auto tokens = torch::empty({rows}, torch::kInt64);
  const float* p = probs.data_ptr<float>();
  const double* u_data = u.data_ptr<double>();
  int64_t* out = tokens.data_ptr<int64_t>();
  for (int64_t row = 0; row < rows; ++row) {
    const float* row_p = p + row * vocab;
    double total = 0;
    for (int64_t j = 0; j < vocab; ++j) total += static_cast<double>(row_p[j]);
    // A NaN or infinite total goes to the ops, whose searchsorted decides as before.
    if (!std::isfinite(total)) return SampleFromLogProbsByOps(log_probs, uniforms);

    // The first index whose running sum exceeds the target (searchsorted with right=true).
    const double target = u_data[row] * total;
    double running = 0;
    int64_t token = vocab - 1;
    for (int64_t j = 0; j < vocab; ++j) {
      running += static_cast<double>(row_p[j]);
      if (running > target) {
        token = j;
        break;
      }
    }
    out[row] = token;
  }
  return tokens.to(log_probs.device());
}

}  // namespace aha
