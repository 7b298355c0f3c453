// An example C++ reward, `think_length`: rewards reasoning up to a target number of words.
// It scores min(1, words in the think block / target_words) and abstains when the completion
// has no closed think block, leaving that case to the `format` reward.
#include <algorithm>
#include <string_view>

#include "base/status_macros.h"
#include "rewards/reward.h"
#include "rewards/tags.h"

namespace aha_example {
namespace {

int64_t CountWords(std::string_view text) {
  int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    bool is_space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!is_space && !in_word) ++words;
    in_word = !is_space;
  }
  return words;
}

// Keys: `target_words` (default 100), `prefilled_think` (default false).
absl::StatusOr<std::unique_ptr<aha::Reward>> MakeThinkLengthReward(aha::RewardOptions& options) {
  ASSIGN_OR_RETURN(int64_t target_words, options.GetInt("target_words", 100));
  ASSIGN_OR_RETURN(bool prefilled_think, options.GetBool("prefilled_think", false));
  if (target_words <= 0) return options.KeyError("target_words", "must be positive");

  return aha::MakePerSampleReward([target_words, prefilled_think](const aha::RewardSample& sample)
                                      -> absl::StatusOr<std::optional<double>> {
    std::optional<std::string_view> think = aha::ThinkBlock(sample.completion, prefilled_think);
    if (!think) return std::optional<double>();
    double share = static_cast<double>(CountWords(*think)) / static_cast<double>(target_words);
    return std::min(1.0, share);
  });
}

}  // namespace
}  // namespace aha_example

AHA_REGISTER_REWARD("think_length", aha_example::MakeThinkLengthReward);
