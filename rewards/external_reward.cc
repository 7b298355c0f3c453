// What command and plugin rewards share.
#include "rewards/external_reward.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace aha {

absl::StatusOr<ExternalRewardOptions> ReadExternalRewardOptions(
    RewardOptions& options, double default_timeout_seconds) {
  ExternalRewardOptions external;
  ASSIGN_OR_RETURN(external.timeout_seconds,
                   options.GetDouble("timeout_seconds", default_timeout_seconds));
  if (!(external.timeout_seconds > 0) || !std::isfinite(external.timeout_seconds)) {
    return options.KeyError("timeout_seconds", "must be a positive number of seconds");
  }
  ASSIGN_OR_RETURN(external.on_error, options.GetScoreOrNull("on_error", external.on_error));
  ASSIGN_OR_RETURN(external.fail_on_error,
                   options.GetBool("fail_on_error", external.fail_on_error));
  return external;
}

nlohmann::json SampleToJson(const RewardSample& sample) {
  return {{"prompt", sample.prompt},
          {"completion", sample.completion},
          {"ground_truth", sample.ground_truth},
          {"fields", sample.fields},
          {"finish_reason", FinishReasonName(sample.finish_reason)},
          {"num_tokens", sample.num_tokens}};
}

absl::StatusOr<RewardResult> FailBatch(const std::string& reward_name,
                                       const ExternalRewardOptions& options, int64_t batch_index,
                                       size_t num_samples, const std::string& reason) {
  std::string message = absl::StrCat("batch ", batch_index, " failed: ", reason);
  if (options.fail_on_error) {
    std::fprintf(stderr, "reward '%s': %s (fail_on_error is set, stopping)\n",
                 reward_name.c_str(), message.c_str());
    return absl::InternalError(absl::StrCat(
        message, "; set fail_on_error: false to give the on_error score and continue"));
  }
  std::string fallback = options.on_error ? absl::StrCat(*options.on_error) : "null (abstain)";
  absl::StrAppend(&message, "; gave on_error = ", fallback, " to its ", num_samples, " samples");
  std::fprintf(stderr, "reward '%s': %s\n", reward_name.c_str(), message.c_str());

  RewardResult result;
  result.scores.assign(num_samples, options.on_error);
  result.info.push_back(std::move(message));
  result.num_errors = 1;
  return result;
}

}  // namespace aha
