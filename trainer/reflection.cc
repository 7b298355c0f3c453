// Keyword matching for self-reflection counts; the rules are listed in reflection.h.
#include "trainer/reflection.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace aha {
namespace {

bool IsWordChar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u < 0x80 && (std::isalnum(u) || c == '_');
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One word of a text, lower-cased.
struct Word {
  std::string text;
  // True when the characters between the previous word and this one are all whitespace
  // (and there is a previous word), so a phrase may continue across the gap.
  bool joined_by_space = false;
};

// Splits `text` into words: runs of word characters, where a hyphen between two word
// characters stays inside the word.
std::vector<Word> SplitWords(std::string_view text) {
  std::vector<Word> words;
  bool gap_is_space = false;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsWordChar(text[i])) {
      gap_is_space = gap_is_space && IsSpace(text[i]);
      ++i;
      continue;
    }
    Word word;
    word.joined_by_space = !words.empty() && gap_is_space;
    while (i < text.size()) {
      const char c = text[i];
      if (IsWordChar(c)) {
        word.text.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        ++i;
      } else if (c == '-' && i + 1 < text.size() && IsWordChar(text[i + 1])) {
        word.text.push_back('-');
        ++i;
      } else {
        break;
      }
    }
    words.push_back(std::move(word));
    gap_is_space = true;
  }
  return words;
}

// Occurrences of `phrase` (lower-case words) in `words`.
int64_t CountPhrase(const std::vector<Word>& words, const std::vector<std::string>& phrase) {
  int64_t count = 0;
  if (phrase.empty() || phrase.size() > words.size()) return 0;
  for (size_t start = 0; start + phrase.size() <= words.size(); ++start) {
    bool match = true;
    for (size_t k = 0; k < phrase.size() && match; ++k) {
      const Word& word = words[start + k];
      match = word.text == phrase[k] && (k == 0 || word.joined_by_space);
    }
    count += match ? 1 : 0;
  }
  return count;
}

// Percentile `q` in [0, 100] of sorted values, interpolated linearly (numpy's default).
double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double position = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t low = static_cast<size_t>(std::floor(position));
  const size_t high = std::min(low + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(low);
  return sorted[low] + (sorted[high] - sorted[low]) * fraction;
}

}  // namespace

KeywordSet R1ReflectionWords() {
  return {"r1",
          {"wait", "mistake", "however", "but", "retry", "error", "verify", "wrong", "evaluate",
           "check"}};
}

KeywordSet OatReflectionPhrases() {
  return {"oat",
          {"recheck", "rethink", "reevaluate", "re-evaluate", "re-examine", "try again",
           "check again", "think again"}};
}

std::vector<KeywordSet> DefaultReflectionSets() {
  return {R1ReflectionWords(), OatReflectionPhrases()};
}

absl::StatusOr<KeywordSet> BuiltInReflectionSet(const std::string& name) {
  for (KeywordSet& set : DefaultReflectionSets()) {
    if (set.name == name) return set;
  }
  return absl::NotFoundError(absl::StrCat("unknown reflection keyword set '", name,
                                          "'; the built-in sets are r1 and oat"));
}

LengthStats ComputeLengthStats(std::vector<double> lengths) {
  LengthStats stats;
  if (lengths.empty()) return stats;
  std::sort(lengths.begin(), lengths.end());
  double sum = 0;
  for (double length : lengths) sum += length;
  stats.mean = sum / static_cast<double>(lengths.size());
  stats.p50 = Percentile(lengths, 50);
  stats.p90 = Percentile(lengths, 90);
  stats.max = lengths.back();
  return stats;
}

std::map<std::string, double> ReflectionMetricValues(const BatchReflectionStats& stats) {
  std::map<std::string, double> values;
  for (const ReflectionSetStats& set : stats.sets) {
    values[set.name + "_fraction"] = set.fraction;
    values[set.name + "_mean_count"] = set.mean_count;
    values[set.name + "_per_1k_tokens"] = set.per_1k_tokens;
  }
  values["any_fraction"] = stats.any_fraction;
  return values;
}

absl::StatusOr<ReflectionCounter> ReflectionCounter::Create(std::vector<KeywordSet> sets) {
  std::set<std::string> names;
  for (const KeywordSet& set : sets) {
    if (set.name.empty()) {
      return absl::InvalidArgumentError("a reflection keyword set has an empty name");
    }
    if (!names.insert(set.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("the reflection keyword set '", set.name, "' is listed twice"));
    }
    if (set.keywords.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the reflection keyword set '", set.name, "' has no keywords"));
    }
    for (const std::string& keyword : set.keywords) {
      // A valid keyword splits into words joined by single spaces and reassembles unchanged
      // (up to case); anything else (punctuation, doubled spaces) could never match.
      std::vector<Word> words = SplitWords(keyword);
      std::vector<std::string> parts;
      for (const Word& word : words) parts.push_back(word.text);
      std::string lower;
      for (char c : keyword) lower.push_back(static_cast<char>(std::tolower(
          static_cast<unsigned char>(c))));
      if (words.empty() || absl::StrJoin(parts, " ") != lower) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the reflection keyword '", keyword, "' in set '", set.name,
            "' is not words separated by single spaces; use letters, digits, underscores and "
            "inner hyphens only"));
      }
    }
  }
  return ReflectionCounter(std::move(sets));
}

ReflectionCounter::ReflectionCounter(std::vector<KeywordSet> sets) : sets_(std::move(sets)) {
  for (const KeywordSet& set : sets_) {
    std::vector<std::vector<std::string>> keywords;
    for (const std::string& keyword : set.keywords) {
      std::vector<std::string> parts;
      for (Word& word : SplitWords(keyword)) parts.push_back(std::move(word.text));
      keywords.push_back(std::move(parts));
    }
    keyword_words_.push_back(std::move(keywords));
  }
}

std::vector<int64_t> ReflectionCounter::CountKeywords(std::string_view text,
                                                      size_t set_index) const {
  const std::vector<Word> words = SplitWords(text);
  std::vector<int64_t> counts;
  for (const auto& keyword : keyword_words_.at(set_index)) {
    counts.push_back(CountPhrase(words, keyword));
  }
  return counts;
}

ResponseReflection ReflectionCounter::Count(std::string_view text, int64_t num_tokens) const {
  const std::vector<Word> words = SplitWords(text);
  ResponseReflection result;
  for (const auto& keywords : keyword_words_) {
    int64_t count = 0;
    for (const auto& keyword : keywords) count += CountPhrase(words, keyword);
    result.counts.push_back(count);
    result.per_1k_tokens.push_back(
        num_tokens > 0 ? 1000.0 * static_cast<double>(count) / static_cast<double>(num_tokens)
                       : 0.0);
    result.has_reflection = result.has_reflection || count > 0;
  }
  return result;
}

BatchReflectionStats ReflectionCounter::Summarize(
    const std::vector<ResponseInput>& responses) const {
  BatchReflectionStats stats;
  const size_t num_sets = sets_.size();
  std::vector<double> with_any(num_sets, 0), total_count(num_sets, 0);
  double total_tokens = 0, any = 0, correct_with = 0, correct_without = 0;
  std::vector<double> lengths;
  for (const ResponseInput& response : responses) {
    const ResponseReflection r = Count(response.text, response.num_tokens);
    for (size_t s = 0; s < num_sets; ++s) {
      with_any[s] += r.counts[s] > 0 ? 1 : 0;
      total_count[s] += static_cast<double>(r.counts[s]);
    }
    total_tokens += static_cast<double>(std::max<int64_t>(response.num_tokens, 0));
    lengths.push_back(static_cast<double>(response.num_tokens));
    if (r.has_reflection) {
      any += 1;
      correct_with += response.correct ? 1 : 0;
    } else {
      correct_without += response.correct ? 1 : 0;
    }
  }

  const double n = static_cast<double>(responses.size());
  for (size_t s = 0; s < num_sets; ++s) {
    ReflectionSetStats set;
    set.name = sets_[s].name;
    if (n > 0) {
      set.fraction = with_any[s] / n;
      set.mean_count = total_count[s] / n;
    }
    set.per_1k_tokens = total_tokens > 0 ? 1000.0 * total_count[s] / total_tokens : 0.0;
    stats.sets.push_back(std::move(set));
  }
  if (n > 0) stats.any_fraction = any / n;
  if (any > 0) stats.accuracy_with_reflection = correct_with / any;
  if (n - any > 0) stats.accuracy_without_reflection = correct_without / (n - any);
  stats.length = ComputeLengthStats(std::move(lengths));
  return stats;
}

}  // namespace aha
