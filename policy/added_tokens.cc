// Added and special tokens of a Hugging Face tokenizer.
#include "policy/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>

#include "base/utf8.h"

namespace aha {
namespace {

// Unicode White_Space, the set Rust's char::is_whitespace uses for lstrip/rstrip.
bool IsWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Word characters for single_word: letters and numbers (Unicode categories L* and N*) and
// the underscore. Rust's is_alphanumeric, which `tokenizers` uses, also counts a few
// alphabetic marks, so the two can differ next to combining marks.
bool IsWordCharacter(char32_t c) {
  if (c == '_') return true;
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// The code point that ends at byte `end` (exclusive), or 0 at the start of the text.
char32_t CodePointBefore(std::string_view text, size_t end, size_t* length) {
  *length = 0;
  if (end == 0) return 0;
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80 &&
         end - start < 4) {
    --start;
  }
  char32_t code_point = 0;
  *length = utf8::DecodeAt(text, start, &code_point);
  if (*length != end - start) {
    *length = 1;
    return static_cast<unsigned char>(text[end - 1]);
  }
  return code_point;
}

char32_t CodePointAt(std::string_view text, size_t pos, size_t* length) {
  char32_t code_point = 0;
  *length = pos < text.size() ? utf8::DecodeAt(text, pos, &code_point) : 0;
  if (pos < text.size() && *length == 0) {
    *length = 1;
    return static_cast<unsigned char>(text[pos]);
  }
  return code_point;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(
        static_cast<int32_t>(i));
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [this](int32_t a, int32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

void AddedTokenMatcher::Split(std::string_view text, std::vector<TextSegment>* segments) const {
  size_t segment_start = 0;  // start of the plain text not yet emitted
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* found = nullptr;
    for (int32_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& token = tokens_[index];
      if (text.compare(pos, token.content.size(), token.content) != 0) continue;
      if (token.single_word) {
        size_t length;
        const bool word_before = IsWordCharacter(CodePointBefore(text, pos, &length));
        const char32_t after = CodePointAt(text, pos + token.content.size(), &length);
        const bool word_after = length > 0 && IsWordCharacter(after);
        if (word_before || word_after) continue;
      }
      found = &token;
      break;
    }
    if (found == nullptr) {
      ++pos;
      continue;
    }

    size_t start = pos;
    size_t end = pos + found->content.size();
    if (found->lstrip) {
      // Whitespace already consumed by the previous token's rstrip stays with it.
      size_t length;
      while (start > segment_start && IsWhitespace(CodePointBefore(text, start, &length))) {
        start -= length;
      }
    }
    if (found->rstrip) {
      size_t length;
      while (end < text.size() && IsWhitespace(CodePointAt(text, end, &length))) end += length;
    }
    if (start > segment_start) {
      segments->push_back({text.substr(segment_start, start - segment_start), -1});
    }
    segments->push_back({text.substr(start, end - start), found->id});
    segment_start = end;
    pos = end;
  }
  if (segment_start < text.size()) {
    segments->push_back({text.substr(segment_start), -1});
  }
}

}  // namespace aha
