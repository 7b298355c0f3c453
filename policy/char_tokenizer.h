// The character-level tokenizer of the tiny built-in models: one id per UTF-8 code point,
// plus multi-character tokens (special and added tokens such as the think/answer tags).
//
// It is stored as `vocab.json` in the model folder:
//
//   {"type": "char",
//    "tokens": ["<|endoftext|>", "<unk>", "<think>", "</think>", "a", "b", ...],
//    "special": ["<|endoftext|>", "<unk>"],
//    "bos": null, "eos": ["<|endoftext|>"], "pad": "<|endoftext|>", "unk": "<unk>"}
//
// - "tokens": the vocabulary; a token's id is its index. Entries are distinct, non-empty
//   strings. An entry that is one code point is a character; a longer entry is a
//   multi-character token.
// - "unk" (required): the token that every character outside the vocabulary encodes to,
//   one unk id per unknown code point (or per invalid UTF-8 byte).
// - "bos", "pad" (optional, string or null) and "eos" (optional, string or list of strings)
//   name tokens from "tokens".
// - "special" (optional): tokens that Decode drops when `skip_special` is true. bos, eos,
//   pad and unk are always special.
//
// Encode scans the text left to right; at each position the longest multi-character token
// that matches wins, otherwise the code point maps to its id or to unk. Decode concatenates
// the token strings, so it is exact for text whose characters are all in the vocabulary.
#ifndef AHA_POLICY_CHAR_TOKENIZER_H_
#define AHA_POLICY_CHAR_TOKENIZER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "policy/tokenizer.h"

namespace aha {

// What a character vocabulary is built from, before ids are assigned.
struct CharVocabSpec {
  std::vector<std::string> tokens;   // id order
  std::vector<std::string> special;  // beyond bos/eos/pad/unk, which are always special
  std::optional<std::string> bos;
  std::vector<std::string> eos;
  std::optional<std::string> pad;
  std::string unk = "<unk>";
};

class CharTokenizer : public Tokenizer {
 public:
  // Checks `spec` (distinct non-empty tokens; bos/eos/pad/unk/special are among them).
  static absl::StatusOr<CharTokenizer> Create(CharVocabSpec spec);

  // Builds a vocabulary: `added_tokens` first (in order), then "<unk>" unless it is already
  // an added token, then each distinct code point of `alphabet` in first-seen order. The first
  // added token is the EOS and pad token; every added token is special except the ones in
  // `non_special` (such as "<think>", which a model must see in decoded text).
  static absl::StatusOr<CharTokenizer> FromAlphabet(
      const std::vector<std::string>& added_tokens, std::string_view alphabet,
      const std::vector<std::string>& non_special = {});

  // Like FromAlphabet, with the alphabet made of the code points that occur in `corpus`,
  // sorted by code point so that the ids do not depend on the order of the texts.
  static absl::StatusOr<CharTokenizer> FromCorpus(
      const std::vector<std::string>& added_tokens, const std::vector<std::string>& corpus,
      const std::vector<std::string>& non_special = {});

  // Reads `path` (a vocab.json in the format above); errors name the file and the key.
  static absl::StatusOr<CharTokenizer> Load(const std::string& path);

  // Writes `dir`/vocab.json, creating `dir` if needed.
  absl::Status Save(const std::string& dir) const;

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string DecodeBytes(absl::Span<const int32_t> ids,
                          bool skip_special = false) const override;
  int32_t VocabSize() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override;
  const SpecialTokens& special_tokens() const override { return special_tokens_; }

  const CharVocabSpec& spec() const { return spec_; }

 private:
  CharTokenizer() = default;

  CharVocabSpec spec_;
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<bool> is_special_;  // [V]
  SpecialTokens special_tokens_;
  int32_t unk_id_ = 0;
  // Multi-character token ids by first byte, longest first, so the first match is the
  // longest one.
  std::array<std::vector<int32_t>, 256> multi_by_first_byte_;
};

}  // namespace aha

#endif  // AHA_POLICY_CHAR_TOKENIZER_H_
