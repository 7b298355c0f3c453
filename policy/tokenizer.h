// The Tokenizer interface shared by the character-level tokenizer of the tiny built-in models
// and the byte-level BPE tokenizer of Hugging Face models. No LibTorch.
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
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes `text`. Added and special tokens that appear literally in the text are matched
  // as single ids. No BOS or EOS id is added.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;

  // Decodes `ids` into text. Special tokens are written out as their literal text unless
  // `skip_special` is true.
  virtual std::string Decode(absl::Span<const int32_t> ids, bool skip_special = false) const = 0;

  // Number of ids, including added tokens; every id is in [0, VocabSize()).
  virtual int32_t VocabSize() const = 0;

  // The id of a token given by its exact vocabulary string, or nullopt.
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;

  virtual const SpecialTokens& special_tokens() const = 0;
};

// Loads the tokenizer stored in a model folder: `tokenizer.json` (byte-level BPE, with
// `tokenizer_config.json` and `generation_config.json` for special ids) or `vocab.json` with
// `"type": "char"` (the character-level tokenizer of the built-in tiny models).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& model_dir);

}  // namespace aha

#endif  // AHA_POLICY_TOKENIZER_H_
