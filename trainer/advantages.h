// Group-relative advantages for GRPO: each row's reward compared with the other samples of the
// same prompt.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows. Rows are grouped by prompt id, never
// by position, so a batch may interleave its groups and groups may differ in size.
//
// Estimators, with mean_g and std_g the mean and Bessel-corrected (ddof = 1) standard deviation
// of the rewards in row i's group g:
//   grpo       A_i = (r_i - mean_g) / (std_g + eps)       DeepSeekMath GRPO; TRL's default
//   dr_grpo    A_i = r_i - mean_g                         Dr. GRPO: no division by std_g, which
//                                                         up-weights near-uniform groups
//   batch_std  A_i = (r_i - mean_g) / (std_batch + eps)   REINFORCE++-style: std_batch (ddof = 1)
//                                                         over all N rewards, so the scale is
//                                                         shared and no group is amplified
// A group whose rewards are all equal gets advantages of exactly 0 (not a floating-point
// residue of r - mean), so it contributes no policy gradient.
#ifndef AHA_TRAINER_ADVANTAGES_H_
#define AHA_TRAINER_ADVANTAGES_H_

#include <cstdint>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace aha {

enum class AdvantageEstimator { kGrpo, kDrGrpo, kBatchStd };

// Parses "grpo", "dr_grpo" or "batch_std"; `key` names the config key in the error message.
absl::StatusOr<AdvantageEstimator> ParseAdvantageEstimator(absl::string_view name,
                                                           absl::string_view key);
absl::string_view AdvantageEstimatorName(AdvantageEstimator estimator);

struct AdvantageOptions {
  AdvantageEstimator estimator = AdvantageEstimator::kGrpo;
  // Added to the standard deviation before dividing (grpo, batch_std). 1e-4 is TRL's value. Its
  // effect is small because |r - mean_g| / std_g is at most (G - 1) / sqrt(G) at any reward
  // scale, and groups of equal rewards are set to 0 before any division.
  double eps = 1e-4;
};

// Per-step statistics for the metrics line.
struct AdvantageStats {
  int64_t num_groups = 0;
  // Fraction of groups whose rewards are all equal, so their advantages are 0. High values mean
  // the prompts are too easy or too hard for the policy and the step learns little.
  double zero_variance_group_fraction = 0.0;
  double reward_mean = 0.0;
  double reward_std = 0.0;        // over all N rows, ddof = 1
  double group_std_mean = 0.0;    // mean over groups of std_g (ddof = 1)
  double advantage_mean = 0.0;
  double advantage_std = 0.0;     // over all N rows, ddof = 1
};

struct Advantages {
  torch::Tensor values;  // (N) float32, on the device of the rewards
  AdvantageStats stats;
};

// Computes advantages from rewards (N), float32 or float64 on any device, and the prompt id of
// each row. Returns InvalidArgumentError when a reward is not finite (naming the row), when a
// group has a single row (naming grpo.group_size), or when the sizes disagree.
absl::StatusOr<Advantages> ComputeAdvantages(const torch::Tensor& rewards,
                                             absl::Span<const int64_t> group_ids,
                                             const AdvantageOptions& options);

// Same, with group ids as an integer tensor (N).
absl::StatusOr<Advantages> ComputeAdvantages(const torch::Tensor& rewards,
                                             const torch::Tensor& group_ids,
                                             const AdvantageOptions& options);

}  // namespace aha

#endif  // AHA_TRAINER_ADVANTAGES_H_
