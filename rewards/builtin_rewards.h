// The built-in rewards' names and factories, added to the registry on its first use.
#ifndef AHA_REWARDS_BUILTIN_REWARDS_H_
#define AHA_REWARDS_BUILTIN_REWARDS_H_

#include <string>
#include <utility>
#include <vector>

#include "rewards/reward.h"

namespace aha {

// Returns format, countdown, length, repetition and language_consistency, plus
// math_accuracy and gsm8k when aha_math is built.
std::vector<std::pair<std::string, RewardFactory>> BuiltinRewardFactories();

}  // namespace aha

#endif  // AHA_REWARDS_BUILTIN_REWARDS_H_
