// The Tokenizer interface shared by the character-level tokenizer of the tiny built-in models
// and the byte-level BPE tokenizer of Hugging Face models. No LibTorch.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer("models/qwen3"));
//   std::vector<int32_t> ids = tokenizer->Encode("<|im_start|>user\nHi<|im_end|>\n");
//   std::string text = tokenizer->Decode(ids);  // the same text, for NFC-normalized input
#ifndef AHA_POLICY_TOKENIZER_H_
#define AHA_POLICY_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace aha {

// Ids of the tokens that frame a sequence. A model may have several end-of-sequence ids
// (Qwen uses both <|endoftext|> and <|im_end|>); generation stops on any of them.
struct SpecialTokens {
  std::optional<int32_t> bos_id;
  std::vector<int32_t> eos_ids;
  std::optional<int32_t> pad_id;
  // The id of text outside the vocabulary; only the character-level tokenizer has one, since
  // byte-level BPE encodes every byte.
  std::optional<int32_t> unk_id;
};

// Implementations are immutable after construction, and every method is safe to call from
// several threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes `text`. Added and special tokens that appear literally in the text are matched
  // as single ids. No BOS or EOS id is added. Invalid UTF-8 bytes in `text` are encoded as
  // U+FFFD.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;

  // Decodes `ids` into raw bytes: the concatenation of each token's bytes. Special tokens are
  // written out as their literal text unless `skip_special` is true. Ids outside
  // [0, VocabSize()) and unassigned ids contribute nothing. The result is not valid UTF-8
  // when `ids` cut a multi-byte character.
  virtual std::string DecodeBytes(absl::Span<const int32_t> ids,
                                  bool skip_special = false) const = 0;

  // Decodes `ids` into valid UTF-8 text: DecodeBytes with each invalid byte replaced by
  // U+FFFD, as the Hugging Face `tokenizers` package does.
  virtual std::string Decode(absl::Span<const int32_t> ids, bool skip_special = false) const;

  // Number of ids, including added tokens; every id is in [0, VocabSize()).
  virtual int32_t VocabSize() const = 0;

  // The id of a token given by its exact vocabulary string, or nullopt. For byte-level BPE
  // the vocabulary string is the byte-level form ("Ġthe" for " the"); added tokens are
  // their literal text.
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;

  // The vocabulary string of `id` (the inverse of TokenToId), or nullopt for an unassigned id.
  virtual std::optional<std::string> IdToToken(int32_t id) const = 0;

  // Whether `id` is a special token, which Decode drops when `skip_special` is true.
  virtual bool IsSpecial(int32_t id) const = 0;

  virtual const SpecialTokens& special_tokens() const = 0;
};

// Loads the tokenizer stored in a model folder: `tokenizer.json` (byte-level BPE, with
// `tokenizer_config.json` and `generation_config.json` for special ids) or `vocab.json` with
// `"type": "char"` (the character-level tokenizer of the built-in tiny models). Errors name
// the file and the key that is missing or invalid.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& model_dir);

// Decodes ids one at a time during generation. Push returns the text that the ids so far
// complete, holding back the bytes of a UTF-8 character that the next token may finish, so
// each returned piece is valid UTF-8 and the pieces concatenate to Decode(all ids) when the
// last id completes its character.
class StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  std::string Push(int32_t id);

  // Returns the held-back bytes, each replaced by U+FFFD (they never became a character),
  // and resets the decoder.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes of an incomplete trailing character (at most 3)
};

}  // namespace aha

#endif  // AHA_POLICY_TOKENIZER_H_
