// The `length` (DAPO's soft overlong penalty) and `repetition` (n-gram) penalty rewards.
// Both score 0 for a good completion and down to -1 (or `max_penalty`) for a bad one.
#ifndef AHA_REWARDS_PENALTY_REWARDS_H_
#define AHA_REWARDS_PENALTY_REWARDS_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "rewards/reward.h"

namespace aha {

// DAPO's soft overlong punishment for a completion of `num_tokens` tokens: 0 up to
// max_tokens - cache_tokens, then falling linearly to -1 at max_tokens, and -1 beyond.
double OverlongPenalty(int64_t num_tokens, int64_t max_tokens, int64_t cache_tokens);

// The share of repeated word n-grams, 1 - distinct / total, over whitespace-separated words.
// Returns 0 when there are fewer than `ngram_size` words.
double RepeatedNgramShare(std::string_view text, int ngram_size);

// Keys: `max_tokens` (required, > 0), `cache_tokens` (default 0, at most max_tokens).
absl::StatusOr<std::unique_ptr<Reward>> MakeLengthPenaltyReward(RewardOptions& options);

// Keys: `ngram_size` (default 3), `max_penalty` (default -1, at most 0). Scores
// max_penalty * RepeatedNgramShare(completion).
absl::StatusOr<std::unique_ptr<Reward>> MakeRepetitionPenaltyReward(RewardOptions& options);

}  // namespace aha

#endif  // AHA_REWARDS_PENALTY_REWARDS_H_
