// The built-in rewards' names and factories.
#include "rewards/builtin_rewards.h"

#include "rewards/countdown_reward.h"
#include "rewards/format_reward.h"
#include "rewards/language_reward.h"
#include "rewards/penalty_rewards.h"
#ifdef AHA_HAVE_MATH_REWARDS
#include "rewards/math_rewards.h"
#endif

namespace aha {

std::vector<std::pair<std::string, RewardFactory>> BuiltinRewardFactories() {
  std::vector<std::pair<std::string, RewardFactory>> factories = {
      {"format", MakeFormatReward},
      {"countdown", MakeCountdownReward},
      {"length", MakeLengthPenaltyReward},
      {"repetition", MakeRepetitionPenaltyReward},
      {"language_consistency", MakeLanguageConsistencyReward},
  };
#ifdef AHA_HAVE_MATH_REWARDS
  factories.emplace_back("math_accuracy", MakeMathAccuracyReward);
  factories.emplace_back("gsm8k", MakeGsm8kReward);
#endif
  return factories;
}

}  // namespace aha
