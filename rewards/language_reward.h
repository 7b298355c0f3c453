// The `language_consistency` reward (DeepSeek-R1): the share of the think block's words that
// are written in the target language's script.
#ifndef AHA_REWARDS_LANGUAGE_REWARD_H_
#define AHA_REWARDS_LANGUAGE_REWARD_H_

#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "rewards/reward.h"

namespace aha {

// The script families a word is counted in.
enum class Script { kLatin, kCjk, kOther };

struct ScriptWordCounts {
  int64_t latin = 0;  // runs of Latin letters (ASCII and accented), one per word
  int64_t cjk = 0;    // Han, kana and Hangul characters, one per character
  int64_t other = 0;  // runs of letters of other scripts (Greek, Cyrillic, Arabic, ...)
};

// Counts words in UTF-8 `text`. Digits, punctuation, symbols and invalid bytes separate
// words and count as none, so math notation does not lower the share.
ScriptWordCounts CountScriptWords(std::string_view text);

// Returns the share of words in `script`, or std::nullopt when `text` has no words.
std::optional<double> ScriptShare(std::string_view text, Script script);

// Keys: `language` (`en` for Latin script, default; `zh`, `ja` or `ko` for CJK),
// `prefilled_think` (bool, default false). Abstains when there is no closed think block or
// the block has no words.
absl::StatusOr<std::unique_ptr<Reward>> MakeLanguageConsistencyReward(RewardOptions& options);

}  // namespace aha

#endif  // AHA_REWARDS_LANGUAGE_REWARD_H_
