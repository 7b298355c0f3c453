// The `format` reward: one <think> block, then one <answer> block, and nothing else.
#include "rewards/format_reward.h"

#include "absl/strings/ascii.h"
#include "base/status_macros.h"
#include "rewards/tags.h"

namespace aha {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kAnswerOpen = "<answer>";
constexpr std::string_view kAnswerClose = "</answer>";

size_t SkipWhitespace(std::string_view text, size_t pos) {
  while (pos < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  return pos;
}

bool StartsWithAt(std::string_view text, size_t pos, std::string_view prefix) {
  return text.substr(pos, prefix.size()) == prefix;
}

}  // namespace

bool HasThinkAnswerFormat(std::string_view completion, bool prefilled_think) {
  // With each tag present exactly once, find() locates the only occurrence, so checking the
  // gaps between tags is enough.
  size_t expected_think_opens = prefilled_think ? 0 : 1;
  if (CountOccurrences(completion, kThinkOpen) != expected_think_opens ||
      CountOccurrences(completion, kThinkClose) != 1 ||
      CountOccurrences(completion, kAnswerOpen) != 1 ||
      CountOccurrences(completion, kAnswerClose) != 1) {
    return false;
  }

  size_t pos = 0;
  if (!prefilled_think) {
    pos = SkipWhitespace(completion, 0);
    if (!StartsWithAt(completion, pos, kThinkOpen)) return false;
    pos += kThinkOpen.size();
  }

  size_t think_close = completion.find(kThinkClose, pos);
  if (think_close == std::string_view::npos) return false;
  pos = SkipWhitespace(completion, think_close + kThinkClose.size());
  if (!StartsWithAt(completion, pos, kAnswerOpen)) return false;

  size_t answer_close = completion.find(kAnswerClose, pos + kAnswerOpen.size());
  if (answer_close == std::string_view::npos) return false;
  pos = SkipWhitespace(completion, answer_close + kAnswerClose.size());
  return pos == completion.size();
}

absl::StatusOr<std::unique_ptr<Reward>> MakeFormatReward(RewardOptions& options) {
  ASSIGN_OR_RETURN(bool prefilled_think, options.GetBool("prefilled_think", false));
  return MakePerSampleReward(
      [prefilled_think](const RewardSample& sample) -> absl::StatusOr<std::optional<double>> {
        return HasThinkAnswerFormat(sample.completion, prefilled_think) ? 1.0 : 0.0;
      });
}

}  // namespace aha
