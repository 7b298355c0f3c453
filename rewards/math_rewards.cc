// The `math_accuracy` and `gsm8k` rewards, built on aha_math.
#include "rewards/math_rewards.h"

#include <string>

#include "absl/status/status.h"

#include "base/status_macros.h"
#include "rewards/math/answer_extraction.h"
#include "rewards/math/math_equal.h"

namespace aha {
namespace {

absl::StatusOr<std::unique_ptr<Reward>> MakeMathReward(RewardOptions& options,
                                                       bool gsm8k_marker_default) {
  math::ExtractOptions extract;
  ASSIGN_OR_RETURN(extract.from_answer_tag, options.GetBool("from_answer_tag", true));
  ASSIGN_OR_RETURN(extract.from_boxed, options.GetBool("from_boxed", true));
  ASSIGN_OR_RETURN(extract.from_gsm8k_marker,
                   options.GetBool("from_gsm8k_marker", gsm8k_marker_default));
  if (!extract.from_answer_tag && !extract.from_boxed && !extract.from_gsm8k_marker) {
    return options.EntryError(
        "from_answer_tag, from_boxed and from_gsm8k_marker are all false, so no answer can "
        "ever be found; enable at least one");
  }
  math::EqualOptions equal;
  ASSIGN_OR_RETURN(equal.relative_tolerance,
                   options.GetDouble("relative_tolerance", equal.relative_tolerance));
  // A tolerance of 1 or more accepts any two numbers of the same sign (pi = 1000).
  if (!(equal.relative_tolerance >= 0 && equal.relative_tolerance < 1)) {
    return options.KeyError("relative_tolerance",
                            "must be at least 0 and below 1 (for example 1e-6)");
  }

  // Only the completion is searched: a \boxed{} example in the prompt must earn nothing.
  // MathEqual reduces a GSM8K solution ground truth ("... #### 18") to its final number.
  return MakePerSampleReward(
      [extract, equal](const RewardSample& sample) -> absl::StatusOr<std::optional<double>> {
        // Scoring every answer 0 against a missing reference would train on noise without a
        // sign. An error makes the data problem visible in the reward error counts.
        if (math::NormalizeGroundTruth(sample.ground_truth).empty()) {
          return absl::InvalidArgumentError(
              "the ground truth is empty: the data's answer field is missing or empty");
        }
        std::optional<std::string> answer = math::ExtractFinalAnswer(sample.completion, extract);
        if (!answer) return 0.0;
        return math::MathEqual(sample.ground_truth, *answer, equal) ? 1.0 : 0.0;
      });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reward>> MakeMathAccuracyReward(RewardOptions& options) {
  return MakeMathReward(options, /*gsm8k_marker_default=*/false);
}

absl::StatusOr<std::unique_ptr<Reward>> MakeGsm8kReward(RewardOptions& options) {
  return MakeMathReward(options, /*gsm8k_marker_default=*/true);
}

}  // namespace aha
