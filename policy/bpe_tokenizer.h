// Byte-level BPE tokenizer of the Qwen2, Qwen3, Llama 3 and GPT-2 families, built from a
// Hugging Face tokenizer.json by LoadBpeTokenizer.
//
// Encode follows the `tokenizers` pipeline: split out added tokens that are matched in the
// raw text; normalize the rest (NFC for Qwen); split out added tokens that are matched in
// normalized text; pre-tokenize into words with the file's regex; map each word to bytes
// and apply BPE merges by rank.
#ifndef AHA_POLICY_BPE_TOKENIZER_H_
#define AHA_POLICY_BPE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "policy/added_tokens.h"
#include "policy/bpe_model.h"
#include "policy/pretokenizer.h"
#include "policy/tokenizer.h"

namespace aha {

// The parts of a byte-level BPE tokenizer, as read from tokenizer.json and its config files.
struct BpeTokenizerParts {
  Normalizer normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;
  BpeModel model;
  std::vector<AddedToken> added_tokens;
  SpecialTokens special_tokens;
};

class BpeTokenizer : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeTokenizerParts parts);

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string DecodeBytes(absl::Span<const int32_t> ids,
                          bool skip_special = false) const override;
  int32_t VocabSize() const override { return static_cast<int32_t>(token_bytes_.size()); }
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  std::optional<std::string> IdToToken(int32_t id) const override;
  bool IsSpecial(int32_t id) const override;
  const SpecialTokens& special_tokens() const override { return special_tokens_; }

 private:
  // Sets special_tokens_, which are resolved by name through the finished tokenizer.
  friend absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadBpeTokenizer(const std::string&);

  // Normalizes, pre-tokenizes and merges a run of text that holds no raw-matched added token.
  void EncodePlain(std::string_view text, std::vector<int32_t>* ids) const;

  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  BpeModel model_;
  AddedTokenMatcher raw_added_;         // tokens with normalized = false
  AddedTokenMatcher normalized_added_;  // tokens with normalized = true
  absl::flat_hash_map<std::string, int32_t> added_ids_;  // content -> id
  SpecialTokens special_tokens_;
  std::vector<std::string> token_bytes_;  // [V] raw bytes, or an added token's content
  std::vector<bool> is_assigned_;         // [V] false for ids that no token uses
  std::vector<bool> is_added_;            // [V]
  std::vector<bool> is_special_;          // [V]
};

// Reads `model_dir`/tokenizer.json and, when present, tokenizer_config.json and
// generation_config.json. Errors name the file and the key that is missing or invalid, or
// the feature (model type, normalizer, pre-tokenizer) that is not supported.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadBpeTokenizer(const std::string& model_dir);

}  // namespace aha

#endif  // AHA_POLICY_BPE_TOKENIZER_H_
