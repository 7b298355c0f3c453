// Byte-level BPE tokenizer: encoding and decoding.
#include "policy/bpe_tokenizer.h"

#include <deque>

#include "policy/byte_level.h"
#include "base/utf8.h"

namespace aha {
namespace {

std::vector<AddedToken> SelectAdded(const std::vector<AddedToken>& tokens, bool normalized) {
  std::vector<AddedToken> out;
  for (const AddedToken& token : tokens) {
    if (token.normalized == normalized) out.push_back(token);
  }
  return out;
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpeTokenizerParts parts)
    : normalizer_(std::move(parts.normalizer)),
      pre_tokenizer_(std::move(parts.pre_tokenizer)),
      model_(std::move(parts.model)),
      raw_added_(SelectAdded(parts.added_tokens, false)),
      normalized_added_(SelectAdded(parts.added_tokens, true)),
      special_tokens_(std::move(parts.special_tokens)) {
  int32_t size = 0;
  for (const auto& [bytes, id] : model_.vocab()) size = std::max(size, id + 1);
  for (const AddedToken& token : parts.added_tokens) size = std::max(size, token.id + 1);
  token_bytes_.resize(size);
  is_assigned_.assign(size, false);
  is_added_.assign(size, false);
  is_special_.assign(size, false);
  for (const auto& [bytes, id] : model_.vocab()) {
    token_bytes_[id] = bytes;
    is_assigned_[id] = true;
  }
  // An added token that shares an id with a vocabulary entry decodes to the added content.
  for (const AddedToken& token : parts.added_tokens) {
    token_bytes_[token.id] = token.content;
    is_assigned_[token.id] = true;
    is_added_[token.id] = true;
    is_special_[token.id] = token.special;
    added_ids_[token.content] = token.id;
  }
}

std::vector<int32_t> BpeTokenizer::Encode(std::string_view input) const {
  std::string sanitized;
  std::string_view text = input;
  if (!utf8::IsValid(input)) {
    sanitized = utf8::ReplaceInvalid(input);
    text = sanitized;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  std::vector<TextSegment> raw_segments;
  raw_added_.Split(text, &raw_segments);
  for (const TextSegment& segment : raw_segments) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
    } else {
      EncodePlain(segment.text, &ids);
    }
  }
  return ids;
}

void BpeTokenizer::EncodePlain(std::string_view text, std::vector<int32_t>* ids) const {
  const std::string normalized = normalizer_.Apply(text);
  std::vector<TextSegment> segments;
  if (normalized_added_.empty()) {
    segments.push_back({normalized, -1});
  } else {
    normalized_added_.Split(normalized, &segments);
  }
  std::deque<std::string> arena;
  std::vector<std::string_view> words;
  for (const TextSegment& segment : segments) {
    if (segment.id >= 0) {
      ids->push_back(segment.id);
      continue;
    }
    words.clear();
    pre_tokenizer_.Split(segment.text, &arena, &words);
    for (std::string_view word : words) model_.EncodeWord(word, ids);
  }
}

std::string BpeTokenizer::DecodeBytes(absl::Span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= VocabSize()) continue;
    if (skip_special && is_special_[id]) continue;
    bytes += token_bytes_[id];
  }
  return bytes;
}

std::optional<int32_t> BpeTokenizer::TokenToId(std::string_view token) const {
  if (const auto it = added_ids_.find(utf8::ToAbsl(token)); it != added_ids_.end()) return it->second;
  const std::optional<std::string> bytes = byte_level::SymbolsToBytes(token);
  const auto it = model_.vocab().find(bytes ? absl::string_view(*bytes) : utf8::ToAbsl(token));
  if (it == model_.vocab().end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> BpeTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= VocabSize() || !is_assigned_[id]) return std::nullopt;
  if (is_added_[id]) return token_bytes_[id];
  return byte_level::BytesToSymbols(token_bytes_[id]);
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < VocabSize() && is_special_[id];
}

}  // namespace aha
