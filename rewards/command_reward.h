// A reward computed by a persistent child process that speaks JSON Lines on stdin/stdout.
//
// Per batch, aha writes one line {"samples": [{"prompt", "completion", "ground_truth",
// "fields", "finish_reason", "num_tokens"}, ...]} and reads one line back: a JSON array with
// one number or null (abstain) per sample. See docs/rewards.md.
#ifndef AHA_REWARDS_COMMAND_REWARD_H_
#define AHA_REWARDS_COMMAND_REWARD_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rewards/child_process.h"
#include "rewards/external_reward.h"
#include "rewards/reward.h"

namespace aha {

class CommandReward : public Reward {
 public:
  // Starts the command at once, so a program that cannot be executed is a config error.
  static absl::StatusOr<std::unique_ptr<CommandReward>> Create(std::string name,
                                                               std::vector<std::string> argv,
                                                               ExternalRewardOptions options);

  // A failed batch (timeout, crash, invalid reply) gets options.on_error, is logged to stderr
  // and counted, and the command is killed and restarted before the next batch. Returns an
  // error only with options.fail_on_error.
  absl::StatusOr<RewardResult> Score(absl::Span<const RewardSample> samples) override;

  // Returns the process id of the running command, or -1 when it is stopped.
  pid_t pid() const { return child_ ? child_->pid() : -1; }

 private:
  CommandReward(std::string name, std::vector<std::string> argv, ExternalRewardOptions options,
                std::unique_ptr<ChildProcess> child);

  // Returns the scores of one exchange, or the reason it failed.
  absl::StatusOr<std::vector<std::optional<double>>> Exchange(
      absl::Span<const RewardSample> samples);

  std::string name_;
  std::vector<std::string> argv_;
  ExternalRewardOptions options_;
  std::unique_ptr<ChildProcess> child_;  // nullptr after a failure, until the next batch
  int64_t batch_index_ = 0;
};

// Parses a command's reply line to request `request_id`: a JSON array of `num_samples` finite
// numbers or nulls, or {"id": request_id, "scores": that array}. An object with another id is
// an error. A bare array cannot be matched to its request, so a line the command wrote after
// aha's check before the request would be read as the reply.
absl::StatusOr<std::vector<std::optional<double>>> ParseScoresLine(const std::string& line,
                                                                   size_t num_samples,
                                                                   int64_t request_id);

}  // namespace aha

#endif  // AHA_REWARDS_COMMAND_REWARD_H_
