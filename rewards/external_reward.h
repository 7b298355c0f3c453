// What command and plugin rewards share: their error-handling keys, the sample's JSON form and
// the handling of a failed batch.
#ifndef AHA_REWARDS_EXTERNAL_REWARD_H_
#define AHA_REWARDS_EXTERNAL_REWARD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "rewards/reward.h"

namespace aha {

struct ExternalRewardOptions {
  double timeout_seconds = 30.0;     // per batch
  std::optional<double> on_error = 0.0;  // the score of each sample of a failed batch; nullopt abstains
  bool fail_on_error = false;        // stop training on the first failed batch
};

// Reads `timeout_seconds` (default `default_timeout_seconds`), `on_error` and
// `fail_on_error`.
absl::StatusOr<ExternalRewardOptions> ReadExternalRewardOptions(RewardOptions& options,
                                                                double default_timeout_seconds);

// Returns {"prompt", "completion", "ground_truth", "fields", "finish_reason", "num_tokens"}.
nlohmann::json SampleToJson(const RewardSample& sample);

// Handles a failed batch of `num_samples`: logs `reason` to stderr, then returns an error when
// fail_on_error is set, or else a result with `on_error` for every sample and one error.
absl::StatusOr<RewardResult> FailBatch(const std::string& reward_name,
                                       const ExternalRewardOptions& options, int64_t batch_index,
                                       size_t num_samples, const std::string& reason);

}  // namespace aha

#endif  // AHA_REWARDS_EXTERNAL_REWARD_H_
