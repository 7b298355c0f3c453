// The `math_accuracy` and `gsm8k` rewards, built on aha_math.
#include "rewards/math_rewards.h"

#include <string>
#include <string_view>

#include "base/status_macros.h"
#include "rewards/math/answer_extraction.h"
#include "rewards/math/math_equal.h"
#include "rewards/tags.h"

namespace aha {
namespace {

absl::StatusOr<math::ExtractOptions> ReadExtractOptions(RewardOptions& options,
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
  return extract;
}

// Scores 1 or 0, and abstains on none: a completion without an answer is wrong.
std::unique_ptr<Reward> MakeMathReward(math::ExtractOptions extract, bool strip_gsm8k_solution) {
  return MakePerSampleReward([extract, strip_gsm8k_solution](const RewardSample& sample)
                                 -> absl::StatusOr<std::optional<double>> {
    std::optional<std::string> answer = math::ExtractFinalAnswer(sample.completion, extract);
    if (!answer) return 0.0;
    std::string_view truth = sample.ground_truth;
    if (size_t marker = truth.rfind("####");
        strip_gsm8k_solution && marker != std::string_view::npos) {
      truth = TrimWhitespace(truth.substr(marker + 4));
    }
    return math::MathEqual(truth, *answer) ? 1.0 : 0.0;
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reward>> MakeMathAccuracyReward(RewardOptions& options) {
  ASSIGN_OR_RETURN(math::ExtractOptions extract, ReadExtractOptions(options, false));
  return MakeMathReward(extract, /*strip_gsm8k_solution=*/false);
}

absl::StatusOr<std::unique_ptr<Reward>> MakeGsm8kReward(RewardOptions& options) {
  ASSIGN_OR_RETURN(math::ExtractOptions extract, ReadExtractOptions(options, true));
  return MakeMathReward(extract, /*strip_gsm8k_solution=*/true);
}

}  // namespace aha
