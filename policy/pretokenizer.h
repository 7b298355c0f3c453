// The normalizer and pre-tokenizer stages of a Hugging Face byte-level BPE tokenizer: Unicode
// normalization (utf8proc), then splitting text into words with the file's regex (PCRE2 in
// UTF and Unicode-property mode, JIT-compiled), before each word goes through BPE.
#ifndef AHA_POLICY_PRETOKENIZER_H_
#define AHA_POLICY_PRETOKENIZER_H_

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aha {

// A compiled PCRE2 pattern. Matching is thread-safe: each thread has its own match data.
class Regex {
 public:
  // `literal` compiles `pattern` as a plain string. Errors give PCRE2's message and offset.
  static absl::StatusOr<std::shared_ptr<const Regex>> Compile(std::string_view pattern,
                                                              bool literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends [start, end) byte offsets of the successive non-overlapping matches in `text`,
  // which must be valid UTF-8. An empty match is skipped by advancing one character.
  void FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* matches) const;

 private:
  explicit Regex(void* code) : code_(code) {}
  void* code_;  // pcre2_code_8*
};

enum class NormalizationForm { kNfc, kNfd, kNfkc, kNfkd };

// Unicode normalization steps applied in order.
struct Normalizer {
  std::vector<NormalizationForm> steps;

  // Returns `text` normalized. `text` must be valid UTF-8.
  std::string Apply(std::string_view text) const;
};

// How a Split step treats its pattern's matches (Hugging Face's SplitDelimiterBehavior).
enum class SplitBehavior { kIsolated, kRemoved };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel };
  Kind kind = Kind::kSplit;
  // kSplit: the pattern, whether the pieces between matches count as the matches, and
  // what happens to the matches.
  std::shared_ptr<const Regex> regex;
  bool invert = false;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  // kByteLevel: GPT-2's pre-tokenizer. `use_regex` splits with GPT-2's pattern;
  // `add_prefix_space` puts a space before each piece that does not start with one.
  bool add_prefix_space = false;
  bool use_regex = true;
};

class PreTokenizer {
 public:
  // Builds a ByteLevel step; with `use_regex` it compiles GPT-2's split pattern.
  static absl::StatusOr<PreTokenizerStep> ByteLevelStep(bool add_prefix_space, bool use_regex);

  explicit PreTokenizer(std::vector<PreTokenizerStep> steps) : steps_(std::move(steps)) {}

  // Splits `text` (valid UTF-8) into words. A word is a view of `text` or of a string
  // stored in `arena` (a piece with an added prefix space).
  void Split(std::string_view text, std::deque<std::string>* arena,
             std::vector<std::string_view>* words) const;

 private:
  std::vector<PreTokenizerStep> steps_;
};

}  // namespace aha

#endif  // AHA_POLICY_PRETOKENIZER_H_
