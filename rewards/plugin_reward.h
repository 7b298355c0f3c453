// A reward loaded from a shared library through the C ABI in rewards/plugin_abi.h.
#ifndef AHA_REWARDS_PLUGIN_REWARD_H_
#define AHA_REWARDS_PLUGIN_REWARD_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rewards/external_reward.h"
#include "rewards/plugin_abi.h"
#include "rewards/reward.h"

namespace aha {

class PluginReward : public Reward {
 public:
  // Loads `path` with dlopen, checks its ABI version and function pointers, and creates a
  // scorer from `options_json`. Each failure is an error naming the path and what to fix.
  static absl::StatusOr<std::unique_ptr<PluginReward>> Load(std::string name,
                                                            const std::string& path,
                                                            const std::string& options_json,
                                                            ExternalRewardOptions options);
  ~PluginReward() override;

  // A batch for which score_batch returns an error gets options.on_error, is logged and
  // counted; with options.fail_on_error it is an error.
  absl::StatusOr<RewardResult> Score(absl::Span<const RewardSample> samples) override;

 private:
  PluginReward(std::string name, std::string path, ExternalRewardOptions options, void* handle,
               AhaRewardPluginApi api, void* scorer);

  std::string name_;
  std::string path_;
  ExternalRewardOptions options_;
  void* handle_;  // from dlopen
  AhaRewardPluginApi api_;
  void* scorer_;  // from api_.create
  int64_t batch_index_ = 0;
};

}  // namespace aha

#endif  // AHA_REWARDS_PLUGIN_REWARD_H_
