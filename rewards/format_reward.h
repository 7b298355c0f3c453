// The `format` reward: one <think> block, then one <answer> block, and nothing else.
#ifndef AHA_REWARDS_FORMAT_REWARD_H_
#define AHA_REWARDS_FORMAT_REWARD_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "rewards/reward.h"

namespace aha {

// Returns true when `completion` is `<think>…</think>` then `<answer>…</answer>`, each tag
// exactly once, with only whitespace before, between and after the blocks. With
// `prefilled_think` the prompt ends in `<think>`, so the completion starts inside the think
// block: `</think>` is required and any `<think>` is an error.
bool HasThinkAnswerFormat(std::string_view completion, bool prefilled_think);

// Keys: `prefilled_think` (bool, default false). Scores 1 or 0.
absl::StatusOr<std::unique_ptr<Reward>> MakeFormatReward(RewardOptions& options);

}  // namespace aha

#endif  // AHA_REWARDS_FORMAT_REWARD_H_
