// The GRPO policy loss: clipped surrogate with DAPO's asymmetric clip range, an optional k3 KL
// penalty to a frozen reference and an optional entropy bonus, aggregated so that micro-batches
// can be accumulated.
//
// Shapes: N rows of the whole batch, n rows of one micro-batch, C completion tokens
// (right-padded). The function takes log-prob tensors and never runs a model.
//
// Per valid token t of row i, with ratio = exp(logp - old_logp) and A_i the row's advantage:
//   l_it = -min(ratio * A_i, clip(ratio, 1 - eps_low, 1 + eps_high) * A_i)
//          + beta * k3_it - entropy_coef * H_it
//   k3_it = exp(d) - d - 1,  d = clamp(ref_logp - logp, -log_ratio_clamp, log_ratio_clamp)
// This is TRL GRPOTrainer's per-token loss (the min with the sign outside, epsilon /
// epsilon_high, KL added per token before aggregation) and verl's compute_policy_loss without
// its dual clip. Clip fractions are counted the way TRL counts them: low where ratio < 1 - eps_low
// and A < 0, high where ratio > 1 + eps_high and A > 0, the regions where the gradient is 0.
//
// Aggregations (TRL loss_type / verl loss_agg_mode):
//   grpo     sum_i (1 / |o_i|) sum_t l_it / N_seq    TRL "grpo", verl "seq-mean-token-mean"
//   token    sum_i sum_t l_it / N_tokens             TRL "bnpo" and DAPO, verl "token-mean"
//   dr_grpo  sum_i sum_t l_it / (N * C_max)          TRL "dr_grpo", verl
//                                                    "seq-mean-token-sum-norm" with
//                                                    loss_scale_factor = C_max
// where |o_i| is row i's valid token count, N_seq the rows with at least one valid token (as
// recent verl does; TRL counts every row, which differs only when whole rows are masked),
// N_tokens the valid tokens of the whole batch and C_max `max_completion_length`.
// Length bias: grpo gives every row the same total weight, so each token of a short row weighs
// more, and a wrong long answer (A < 0) is penalized less per token. token and dr_grpo weigh
// every token alike; dr_grpo also keeps the denominator fixed across steps.
//
// Micro-batching: each sum above runs over rows, so the loss of the batch is the sum of the
// losses of its micro-batches when every micro-batch divides by the same whole-batch
// denominator. The trainer computes a LossNormalizer once per batch and passes it to each
// PolicyLoss call; calling backward on each micro-batch loss then accumulates the exact
// whole-batch gradient.
#ifndef AHA_TRAINER_POLICY_LOSS_H_
#define AHA_TRAINER_POLICY_LOSS_H_

#include <cstdint>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aha {

enum class LossAggregation { kGrpo, kToken, kDrGrpo };

// Parses "grpo", "token" or "dr_grpo"; `key` names the config key in the error message.
absl::StatusOr<LossAggregation> ParseLossAggregation(absl::string_view name,
                                                     absl::string_view key);
absl::string_view LossAggregationName(LossAggregation aggregation);

struct PolicyLossOptions {
  double eps_low = 0.2;   // PPO's 0.2; ratios below 1 - eps_low stop pushing down A < 0 tokens
  double eps_high = 0.2;  // DAPO's clip-higher uses 0.28, so rare tokens can gain probability
  LossAggregation aggregation = LossAggregation::kGrpo;
  // dr_grpo's constant per-row token count, normally the sampler's max_new_tokens. Must be at
  // least C. Unused by the other aggregations.
  int64_t max_completion_length = 0;
  // DAPO's overlong filtering: rows whose completion was cut at the length limit get no loss,
  // because their reward judges an unfinished answer.
  bool mask_truncated = false;
  double kl_beta = 0.0;       // weight of the k3 KL to the reference; 0 needs no reference
  double entropy_coef = 0.0;  // weight of the entropy bonus; 0 needs no entropy tensor
  // Bound on |log ratio| before exp, for the ratio and for k3: exp(20) is about 4.9e8, so both
  // stay finite in float32. Beyond the bound the clamped term has zero gradient.
  double log_ratio_clamp = 20.0;
};

// Returns InvalidArgumentError naming the grpo.* key of the first invalid option.
absl::Status ValidatePolicyLossOptions(const PolicyLossOptions& options);

// The whole-batch denominator of the aggregation (see the file comment), at least 1 so that a
// batch with every row masked yields a zero loss instead of 0/0.
struct LossNormalizer {
  double value = 1.0;
};

// Computes the normalizer from the whole batch's mask (N, C) bool and, when
// options.mask_truncated, its truncated flags (N) bool. Validates the options.
absl::StatusOr<LossNormalizer> ComputeLossNormalizer(const torch::Tensor& mask,
                                                     const torch::Tensor& truncated,
                                                     const PolicyLossOptions& options);

// The aggregation's denominator over the rows of `mask` before the clamp to 1: valid tokens
// (token), rows with a valid token (grpo) or rows * C_max (dr_grpo). Denominators of disjoint
// row sets add up, so data-parallel ranks sum theirs and clamp the total.
absl::StatusOr<double> ComputeLossDenominator(const torch::Tensor& mask,
                                              const torch::Tensor& truncated,
                                              const PolicyLossOptions& options);

// One micro-batch. Every tensor has n rows and lives on one device.
struct PolicyLossInputs {
  torch::Tensor logprobs;      // (n, C) float, with grad: current policy
  torch::Tensor old_logprobs;  // (n, C): sampling policy; detached before use
  torch::Tensor advantages;    // (n)
  torch::Tensor mask;          // (n, C) bool: valid completion tokens
  torch::Tensor truncated;     // (n) bool; required when options.mask_truncated
  torch::Tensor ref_logprobs;  // (n, C): frozen reference; required when kl_beta > 0
  torch::Tensor entropy;       // (n, C), with grad; required when entropy_coef > 0
};

// Logging statistics as token counts and sums, so micro-batches merge exactly with Add.
struct PolicyLossStats {
  int64_t tokens = 0;        // valid tokens after truncation masking
  int64_t clipped_low = 0;   // ratio < 1 - eps_low with A < 0
  int64_t clipped_high = 0;  // ratio > 1 + eps_high with A > 0
  double ratio_sum = 0.0;
  double kl_sum = 0.0;       // k3 summed over tokens; 0 without a reference
  double entropy_sum = 0.0;  // 0 without an entropy tensor
  // The surrogate term's share of the loss (no KL, no entropy), under the same normalizer, so
  // it too sums over micro-batches to the whole batch's value.
  double policy_gradient_loss = 0.0;

  void Add(const PolicyLossStats& other);
  double ClipLowFraction() const;
  double ClipHighFraction() const;
  double RatioMean() const;
  double KlMean() const;
  double EntropyMean() const;
};

struct PolicyLossResult {
  torch::Tensor loss;  // scalar, this micro-batch's share of the batch loss
  PolicyLossStats stats;
};

// Per-token k3 estimator of KL(pi || ref) for samples from pi: exp(d) - d - 1 with
// d = ref_logprobs - logprobs clamped to [-clamp, clamp]. Finite and >= 0 for any finite input.
torch::Tensor K3Kl(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs,
                   double clamp);

// Computes one micro-batch's loss. Tensor shape or dtype mismatches are programming errors and
// fail TORCH_CHECK; option errors are caught earlier by ComputeLossNormalizer.
PolicyLossResult PolicyLoss(const PolicyLossInputs& inputs, const PolicyLossOptions& options,
                            const LossNormalizer& normalizer);

}  // namespace aha

#endif  // AHA_TRAINER_POLICY_LOSS_H_
