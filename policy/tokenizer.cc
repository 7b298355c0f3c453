// Loading a tokenizer from a model folder, and the decoding shared by all tokenizers.
#include "policy/tokenizer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "policy/bpe_tokenizer.h"
#include "policy/char_tokenizer.h"
#include "base/utf8.h"

namespace aha {

std::string Tokenizer::Decode(absl::Span<const int32_t> ids, bool skip_special) const {
  return utf8::ReplaceInvalid(DecodeBytes(ids, skip_special));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& model_dir) {
  if (std::filesystem::exists(model_dir + "/tokenizer.json")) {
    ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> tokenizer, LoadBpeTokenizer(model_dir));
    return std::unique_ptr<Tokenizer>(std::move(tokenizer));
  }
  if (std::filesystem::exists(model_dir + "/vocab.json")) {
    ASSIGN_OR_RETURN(CharTokenizer tokenizer, CharTokenizer::Load(model_dir + "/vocab.json"));
    return std::unique_ptr<Tokenizer>(std::make_unique<CharTokenizer>(std::move(tokenizer)));
  }
  return absl::NotFoundError(absl::StrCat(
      model_dir, ": no tokenizer.json (byte-level BPE) or vocab.json (character-level) in the "
                 "folder; pass the folder of a model that has one"));
}

std::string StreamDecoder::Push(int32_t id) {
  const int32_t ids[1] = {id};
  pending_ += tokenizer_.DecodeBytes(ids, skip_special_);
  const size_t held = utf8::IncompleteSuffixLength(pending_);
  std::string text = utf8::ReplaceInvalid(std::string_view(pending_).substr(0, pending_.size() - held));
  pending_.erase(0, pending_.size() - held);
  return text;
}

std::string StreamDecoder::Flush() {
  std::string text = utf8::ReplaceInvalid(pending_);
  pending_.clear();
  return text;
}

}  // namespace aha
