// Self-reflection counts in completions ("wait", "verify", "try again"): the words whose rise
// during R1-Zero training the DeepSeek-R1 report calls the "aha moment". Plain string code with
// no LibTorch, so `aha analyze` and other tools can use it without a model.
//
// Matching rules, each covered by tests/trainer/reflection_test.cc:
//  - ASCII case-insensitive, whole words only: "but" and "But," count, "butter" does not.
//  - A word is a run of letters, digits and underscores. A hyphen between two such characters
//    joins them into one word, so "re-evaluate" is one word and does not count as "evaluate".
//    Bytes >= 0x80 (non-ASCII UTF-8) separate words.
//  - A phrase ("try again") matches when its words are separated only by whitespace (spaces,
//    tabs or newlines, any number), never by punctuation: "try\nagain" counts, "try, again"
//    does not.
//  - Occurrences are counted one by one: "wait, wait" counts 2.
//
// Example:
//   ASSIGN_OR_RETURN(ReflectionCounter counter, ReflectionCounter::Create(DefaultReflectionSets()));
//   ResponseReflection r = counter.Count("Wait, let me check again.", /*num_tokens=*/7);
//   // r.counts = {2, 1} for the sets {r1, oat}; r.has_reflection = true
#ifndef AHA_TRAINER_REFLECTION_H_
#define AHA_TRAINER_REFLECTION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aha {

// A named list of keywords; each keyword is a word or a phrase of words separated by spaces.
struct KeywordSet {
  std::string name;
  std::vector<std::string> keywords;
};

// The ten words the DeepSeek-R1 report tracks: wait, mistake, however, but, retry, error,
// verify, wrong, evaluate, check. Named "r1".
KeywordSet R1ReflectionWords();
// The self-reflection phrases of Oat-Zero ("Understanding R1-Zero-Like Training", Liu et al.
// 2025): recheck, rethink, reevaluate, re-evaluate, re-examine, try again, check again, think
// again. Named "oat".
KeywordSet OatReflectionPhrases();
// {r1, oat}.
std::vector<KeywordSet> DefaultReflectionSets();
// The built-in set called `name` ("r1" or "oat"); NotFound names the choices otherwise.
absl::StatusOr<KeywordSet> BuiltInReflectionSet(const std::string& name);

// Reflection counts of one response, one entry per keyword set, in the counter's set order.
struct ResponseReflection {
  std::vector<int64_t> counts;
  std::vector<double> per_1k_tokens;  // counts * 1000 / num_tokens; 0 when num_tokens <= 0
  bool has_reflection = false;        // any set matched at least once
};

// Mean, median, 90th percentile and maximum of completion lengths in tokens. Percentiles
// interpolate linearly between order statistics, as numpy.percentile does by default.
struct LengthStats {
  double mean = 0, p50 = 0, p90 = 0, max = 0;
};
LengthStats ComputeLengthStats(std::vector<double> lengths);

// Per-set numbers over a batch of responses.
struct ReflectionSetStats {
  std::string name;
  double fraction = 0;       // share of responses with at least one keyword of the set
  double mean_count = 0;     // keywords per response
  double per_1k_tokens = 0;  // total keywords * 1000 / total tokens (token-weighted)
};

// One response as the batch summary reads it.
struct ResponseInput {
  std::string_view text;
  int64_t num_tokens = 0;
  bool correct = false;
};

struct BatchReflectionStats {
  std::vector<ReflectionSetStats> sets;
  double any_fraction = 0;  // share of responses where any set matched
  // Accuracy of the responses with (without) reflection; empty when there are none.
  std::optional<double> accuracy_with_reflection, accuracy_without_reflection;
  LengthStats length;  // of num_tokens
};

// The per-set numbers as flat metric names: "SET_fraction", "SET_mean_count",
// "SET_per_1k_tokens" for each set, and "any_fraction".
std::map<std::string, double> ReflectionMetricValues(const BatchReflectionStats& stats);

class ReflectionCounter {
 public:
  // Validates the sets: each needs a unique non-empty name and at least one keyword, and each
  // keyword must be words (letters, digits, underscores, inner hyphens) separated by single
  // spaces, so that it can match at all. Errors name the set and keyword.
  static absl::StatusOr<ReflectionCounter> Create(std::vector<KeywordSet> sets);

  ResponseReflection Count(std::string_view text, int64_t num_tokens) const;
  // Occurrences of each keyword of set `set_index` in `text`, in the set's keyword order.
  std::vector<int64_t> CountKeywords(std::string_view text, size_t set_index) const;
  BatchReflectionStats Summarize(const std::vector<ResponseInput>& responses) const;

  const std::vector<KeywordSet>& sets() const { return sets_; }

 private:
  explicit ReflectionCounter(std::vector<KeywordSet> sets);

  std::vector<KeywordSet> sets_;
  // The lower-case words of each keyword: [set][keyword][word].
  std::vector<std::vector<std::vector<std::string>>> keyword_words_;
};

}  // namespace aha

#endif  // AHA_TRAINER_REFLECTION_H_
