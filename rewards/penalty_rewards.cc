// The `length` and `repetition` penalty rewards.
#include "rewards/penalty_rewards.h"

#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "base/status_macros.h"

namespace aha {
namespace {

// Splits on ASCII whitespace, dropping empty words.
std::vector<std::string_view> SplitWords(std::string_view text) {
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    size_t begin = pos;
    while (pos < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos > begin) words.push_back(text.substr(begin, pos - begin));
  }
  return words;
}

}  // namespace

double OverlongPenalty(int64_t num_tokens, int64_t max_tokens, int64_t cache_tokens) {
  int64_t soft_limit = max_tokens - cache_tokens;
  if (num_tokens <= soft_limit) return 0.0;
  if (num_tokens > max_tokens) return -1.0;
  return static_cast<double>(soft_limit - num_tokens) / static_cast<double>(cache_tokens);
}

double RepeatedNgramShare(std::string_view text, int ngram_size) {
  std::vector<std::string_view> words = SplitWords(text);
  if (ngram_size <= 0 || words.size() < static_cast<size_t>(ngram_size)) return 0.0;
  size_t total = words.size() - ngram_size + 1;
  std::set<std::vector<std::string_view>> distinct;
  for (size_t i = 0; i < total; ++i) {
    distinct.emplace(words.begin() + i, words.begin() + i + ngram_size);
  }
  return 1.0 - static_cast<double>(distinct.size()) / static_cast<double>(total);
}

absl::StatusOr<std::unique_ptr<Reward>> MakeLengthPenaltyReward(RewardOptions& options) {
  if (!options.Has("max_tokens")) {
    return options.KeyError("max_tokens", "missing; set the length above which -1 is given");
  }
  ASSIGN_OR_RETURN(int64_t max_tokens, options.GetInt("max_tokens", 0));
  ASSIGN_OR_RETURN(int64_t cache_tokens, options.GetInt("cache_tokens", 0));
  if (max_tokens <= 0) return options.KeyError("max_tokens", "must be positive");
  if (cache_tokens < 0 || cache_tokens > max_tokens) {
    return options.KeyError("cache_tokens", "must be between 0 and max_tokens");
  }
  return MakePerSampleReward([max_tokens, cache_tokens](const RewardSample& sample)
                                 -> absl::StatusOr<std::optional<double>> {
    return OverlongPenalty(sample.num_tokens, max_tokens, cache_tokens);
  });
}

absl::StatusOr<std::unique_ptr<Reward>> MakeRepetitionPenaltyReward(RewardOptions& options) {
  ASSIGN_OR_RETURN(int64_t ngram_size, options.GetInt("ngram_size", 3));
  ASSIGN_OR_RETURN(double max_penalty, options.GetDouble("max_penalty", -1.0));
  if (ngram_size < 1 || ngram_size > 64) {
    return options.KeyError("ngram_size", "must be between 1 and 64");
  }
  if (max_penalty > 0) return options.KeyError("max_penalty", "must be 0 or negative");
  int size = static_cast<int>(ngram_size);
  return MakePerSampleReward([size, max_penalty](const RewardSample& sample)
                                 -> absl::StatusOr<std::optional<double>> {
    return max_penalty * RepeatedNgramShare(sample.completion, size);
  });
}

}  // namespace aha
