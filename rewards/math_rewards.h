// The `math_accuracy` and `gsm8k` rewards: the final answer of the completion, compared with
// the ground truth by aha_math's MathEqual.
#ifndef AHA_REWARDS_MATH_REWARDS_H_
#define AHA_REWARDS_MATH_REWARDS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "rewards/reward.h"

namespace aha {

// Keys: `from_answer_tag`, `from_boxed` (default true), `from_gsm8k_marker` (default false),
// `relative_tolerance` (default 1e-6). Scores 1 when the answer extracted from the completion
// (never the prompt) equals the ground truth, else 0.
absl::StatusOr<std::unique_ptr<Reward>> MakeMathAccuracyReward(RewardOptions& options);

// As math_accuracy, with the `#### N` marker also searched by default. A ground truth in
// GSM8K's raw form (a solution ending in `#### N`) is compared by its N.
absl::StatusOr<std::unique_ptr<Reward>> MakeGsm8kReward(RewardOptions& options);

}  // namespace aha

#endif  // AHA_REWARDS_MATH_REWARDS_H_
