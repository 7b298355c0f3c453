// The clipped-surrogate policy loss with k3 KL and entropy terms, and its whole-batch
// normalizer. See policy_loss.h for the formulas and the conventions followed.
#include "trainer/policy_loss.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace aha {
namespace {

// exp(88) overflows float32. 80 leaves headroom for the ratio times an advantage.
constexpr double kMaxLogRatioClamp = 80.0;

absl::Status CheckNonNegative(double value, absl::string_view key) {
  if (std::isfinite(value) && value >= 0.0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(key, ": must be a finite number >= 0, got ", value));
}

// Valid tokens that take part in the loss: mask (n, C) bool, minus every token of a truncated
// row (n) when options.mask_truncated.
torch::Tensor EffectiveMask(const torch::Tensor& mask, const torch::Tensor& truncated,
                            const PolicyLossOptions& options) {
  torch::Tensor effective = mask.to(torch::kBool);
  if (!options.mask_truncated) return effective;
  TORCH_CHECK(truncated.defined(), "PolicyLoss: mask_truncated is set but no truncated flags");
  TORCH_CHECK(truncated.dim() == 1 && truncated.size(0) == mask.size(0),
              "PolicyLoss: truncated must be (n) = (", mask.size(0), "), got ",
              truncated.sizes());
  return effective.logical_and(truncated.to(torch::kBool).logical_not().unsqueeze(1));
}

// Per-token weight (n, C) of l_it in the batch loss: the aggregation with the whole-batch
// denominator. Zero outside `mask`.
torch::Tensor AggregationWeights(const torch::Tensor& mask, torch::ScalarType dtype,
                                 const PolicyLossOptions& options,
                                 const LossNormalizer& normalizer) {
  torch::Tensor weights = mask.to(dtype);
  if (options.aggregation == LossAggregation::kGrpo) {
    weights = weights / weights.sum(1, /*keepdim=*/true).clamp_min(1.0);
  }
  return weights / normalizer.value;
}

void CheckInputs(const PolicyLossInputs& in, const PolicyLossOptions& options) {
  TORCH_CHECK(in.logprobs.defined() && in.logprobs.dim() == 2,
              "PolicyLoss: logprobs must be (n, C)");
  TORCH_CHECK(in.logprobs.is_floating_point(), "PolicyLoss: logprobs must be floating point");
  const auto shape = in.logprobs.sizes();
  TORCH_CHECK(in.old_logprobs.defined() && in.old_logprobs.sizes() == shape,
              "PolicyLoss: old_logprobs must be ", shape);
  TORCH_CHECK(in.mask.defined() && in.mask.sizes() == shape, "PolicyLoss: mask must be ",
              shape);
  TORCH_CHECK(in.advantages.defined() && in.advantages.dim() == 1 &&
                  in.advantages.size(0) == shape[0],
              "PolicyLoss: advantages must be (", shape[0], ")");
  if (options.kl_beta > 0.0) {
    TORCH_CHECK(in.ref_logprobs.defined() && in.ref_logprobs.sizes() == shape,
                "PolicyLoss: kl_beta > 0 needs ref_logprobs of shape ", shape);
  }
  if (options.entropy_coef > 0.0) {
    TORCH_CHECK(in.entropy.defined() && in.entropy.sizes() == shape,
                "PolicyLoss: entropy_coef > 0 needs entropy of shape ", shape);
  }
}

double PerToken(double sum, int64_t tokens) {
  return tokens > 0 ? sum / static_cast<double>(tokens) : 0.0;
}

}  // namespace

absl::StatusOr<LossAggregation> ParseLossAggregation(absl::string_view name,
                                                     absl::string_view key) {
  if (name == "grpo") return LossAggregation::kGrpo;
  if (name == "token") return LossAggregation::kToken;
  if (name == "dr_grpo") return LossAggregation::kDrGrpo;
  return absl::InvalidArgumentError(absl::StrCat(key, ": unknown loss aggregation \"", name,
                                                 "\"; expected grpo, token or dr_grpo"));
}

absl::string_view LossAggregationName(LossAggregation aggregation) {
  switch (aggregation) {
    case LossAggregation::kGrpo:
      return "grpo";
    case LossAggregation::kToken:
      return "token";
    case LossAggregation::kDrGrpo:
      return "dr_grpo";
  }
  return "unknown";
}

absl::Status ValidatePolicyLossOptions(const PolicyLossOptions& options) {
  if (!(options.eps_low >= 0.0 && options.eps_low < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpo.eps_low: must be in [0, 1) so that 1 - eps_low stays positive, got ",
        options.eps_low));
  }
  RETURN_IF_ERROR(CheckNonNegative(options.eps_high, "grpo.eps_high"));
  RETURN_IF_ERROR(CheckNonNegative(options.kl_beta, "grpo.kl_beta"));
  RETURN_IF_ERROR(CheckNonNegative(options.entropy_coef, "grpo.entropy_coef"));
  if (!(options.log_ratio_clamp > 0.0 && options.log_ratio_clamp <= kMaxLogRatioClamp)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpo.log_ratio_clamp: must be in (0, ", kMaxLogRatioClamp,
        "] so that exp stays finite in float32, got ", options.log_ratio_clamp));
  }
  if (options.aggregation == LossAggregation::kDrGrpo && options.max_completion_length < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpo.max_completion_length: the dr_grpo aggregation divides by it, so set it to the "
        "sampler's maximum number of new tokens (got ",
        options.max_completion_length, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LossNormalizer> ComputeLossNormalizer(const torch::Tensor& mask,
                                                     const torch::Tensor& truncated,
                                                     const PolicyLossOptions& options) {
  ASSIGN_OR_RETURN(double value, ComputeLossDenominator(mask, truncated, options));
  return LossNormalizer{std::max(value, 1.0)};
}

absl::StatusOr<double> ComputeLossDenominator(const torch::Tensor& mask,
                                              const torch::Tensor& truncated,
                                              const PolicyLossOptions& options) {
  RETURN_IF_ERROR(ValidatePolicyLossOptions(options));
  if (!mask.defined() || mask.dim() != 2) {
    return absl::InvalidArgumentError("loss normalizer: mask must be a (N, C) tensor");
  }
  if (options.mask_truncated &&
      (!truncated.defined() || truncated.dim() != 1 || truncated.size(0) != mask.size(0))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "loss normalizer: grpo.mask_truncated is set, so pass one truncated flag per row (",
        mask.size(0), " rows)"));
  }
  const int64_t rows = mask.size(0);
  const int64_t max_length = mask.size(1);
  double value = 0.0;
  switch (options.aggregation) {
    case LossAggregation::kToken:
      value = EffectiveMask(mask, truncated, options).sum().item<double>();
      break;
    case LossAggregation::kGrpo:
      value = EffectiveMask(mask, truncated, options).any(1).sum().item<double>();
      break;
    case LossAggregation::kDrGrpo:
      if (options.max_completion_length < max_length) {
        return absl::InvalidArgumentError(absl::StrCat(
            "grpo.max_completion_length: ", options.max_completion_length,
            " is shorter than the batch's completions (", max_length,
            " tokens); set it to the sampler's maximum number of new tokens"));
      }
      value = static_cast<double>(rows) * static_cast<double>(options.max_completion_length);
      break;
  }
  return value;
}

torch::Tensor K3Kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs,
                   double clamp) {
  torch::Tensor log_ratio = (ref_logprobs - logprobs).clamp(-clamp, clamp);
  return log_ratio.exp() - log_ratio - 1.0;
}

PolicyLossResult PolicyLoss(const PolicyLossInputs& inputs, const PolicyLossOptions& options,
                            const LossNormalizer& normalizer) {
  CheckInputs(inputs, options);
  const torch::ScalarType dtype = inputs.logprobs.scalar_type();
  const torch::Tensor mask = EffectiveMask(inputs.mask, inputs.truncated, options);  // (n, C)
  const torch::Tensor weights = AggregationWeights(mask, dtype, options, normalizer);
  const double clamp = options.log_ratio_clamp;

  // Padding positions of scored tensors may contain any value, even NaN. Zeroing them first keeps
  // NaN out of both the forward values and the backward products.
  const torch::Tensor zero = torch::zeros({}, inputs.logprobs.options());
  auto valid_only = [&](const torch::Tensor& t) { return torch::where(mask, t.to(dtype), zero); };
  const torch::Tensor logprobs = valid_only(inputs.logprobs);
  const torch::Tensor old_logprobs = valid_only(inputs.old_logprobs.detach());

  // Surrogate: -min(ratio * A, clip(ratio) * A), (n, C).
  const torch::Tensor advantages = inputs.advantages.detach().to(dtype).unsqueeze(1);
  const torch::Tensor ratio = (logprobs - old_logprobs).clamp(-clamp, clamp).exp();
  const torch::Tensor clipped_ratio = ratio.clamp(1.0 - options.eps_low, 1.0 + options.eps_high);
  const torch::Tensor surrogate = -torch::minimum(ratio * advantages, clipped_ratio * advantages);
  torch::Tensor per_token = surrogate;

  // KL penalty to the frozen reference, added per token as TRL does.
  torch::Tensor kl;
  if (inputs.ref_logprobs.defined()) {
    kl = K3Kl(logprobs, valid_only(inputs.ref_logprobs.detach()), clamp);
    if (options.kl_beta > 0.0) per_token = per_token + options.kl_beta * kl;
  }

  // Entropy bonus: subtracting it rewards spread-out next-token distributions.
  torch::Tensor entropy;
  if (inputs.entropy.defined()) {
    entropy = valid_only(inputs.entropy);
    if (options.entropy_coef > 0.0) per_token = per_token - options.entropy_coef * entropy;
  }

  PolicyLossResult result;
  result.loss = (per_token * weights).sum();

  // Statistics, summed in float64 and moved to the host in one transfer.
  torch::NoGradGuard no_grad;
  const torch::Tensor mask_float = mask.to(torch::kFloat64);
  auto masked_sum = [&](const torch::Tensor& t) {
    return t.defined() ? (t.to(torch::kFloat64) * mask_float).sum() : mask_float.new_zeros({});
  };
  const torch::Tensor low = ratio.lt(1.0 - options.eps_low).logical_and(advantages.lt(0));
  const torch::Tensor high = ratio.gt(1.0 + options.eps_high).logical_and(advantages.gt(0));
  const torch::Tensor host =
      torch::stack({mask_float.sum(), masked_sum(low), masked_sum(high), masked_sum(ratio),
                    masked_sum(kl), masked_sum(entropy),
                    (surrogate * weights).sum().to(torch::kFloat64)})
          .to(torch::kCPU);
  const double* values = host.data_ptr<double>();
  result.stats.tokens = static_cast<int64_t>(std::llround(values[0]));
  result.stats.clipped_low = static_cast<int64_t>(std::llround(values[1]));
  result.stats.clipped_high = static_cast<int64_t>(std::llround(values[2]));
  result.stats.ratio_sum = values[3];
  result.stats.kl_sum = values[4];
  result.stats.entropy_sum = values[5];
  result.stats.policy_gradient_loss = values[6];
  return result;
}

void PolicyLossStats::Add(const PolicyLossStats& other) {
  tokens += other.tokens;
  clipped_low += other.clipped_low;
  clipped_high += other.clipped_high;
  ratio_sum += other.ratio_sum;
  kl_sum += other.kl_sum;
  entropy_sum += other.entropy_sum;
  policy_gradient_loss += other.policy_gradient_loss;
}

double PolicyLossStats::ClipLowFraction() const {
  return PerToken(static_cast<double>(clipped_low), tokens);
}
double PolicyLossStats::ClipHighFraction() const {
  return PerToken(static_cast<double>(clipped_high), tokens);
}
double PolicyLossStats::RatioMean() const { return PerToken(ratio_sum, tokens); }
double PolicyLossStats::KlMean() const { return PerToken(kl_sum, tokens); }
double PolicyLossStats::EntropyMean() const { return PerToken(entropy_sum, tokens); }

}  // namespace aha
