// Added and special tokens of a Hugging Face tokenizer, split out of the text before
// normalization and pre-tokenization, with the matching flags that tokenizer.json stores.
#ifndef AHA_POLICY_ADDED_TOKENS_H_
#define AHA_POLICY_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aha {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      // dropped by Decode(skip_special = true)
  bool lstrip = false;       // the match also takes the whitespace before it
  bool rstrip = false;       // the match also takes the whitespace after it
  bool single_word = false;  // matches only where no word character touches it
  bool normalized = false;   // matched in the normalized text instead of the raw text
};

// A run of text: either one added token (id >= 0) or plain text (id == -1).
struct TextSegment {
  std::string_view text;
  int32_t id = -1;
};

// Finds added tokens in text, leftmost first and longest first among tokens that start at
// the same position, like the Hugging Face `tokenizers` AddedVocabulary.
class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }

  // Appends the segments of `text` to `segments`. Stripped whitespace (lstrip/rstrip)
  // belongs to the token's segment and is not encoded.
  void Split(std::string_view text, std::vector<TextSegment>* segments) const;

 private:
  std::vector<AddedToken> tokens_;
  // Indices into tokens_ by the token's first byte, longest token first.
  std::array<std::vector<int32_t>, 256> by_first_byte_;
};

}  // namespace aha

#endif  // AHA_POLICY_ADDED_TOKENS_H_
