// UTF-8 helpers for the tokenizers and the config reader: code point iteration, validation
// and the byte count of an incomplete trailing character.
#ifndef AHA_BASE_UTF8_H_
#define AHA_BASE_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace aha::utf8 {

// Length in bytes of the valid UTF-8 character that starts at `text[pos]`, or 0 when the
// bytes there are not one (a stray continuation byte, an overlong form, a surrogate, a
// truncated sequence). Sets `*code_point` when the length is not 0.
size_t DecodeAt(std::string_view text, size_t pos, char32_t* code_point);

// Appends the UTF-8 encoding of `code_point` to `out`.
void Append(char32_t code_point, std::string* out);

bool IsValid(std::string_view text);

// Returns `text` with each invalid byte replaced by U+FFFD, the way lossy UTF-8 decoders do.
std::string ReplaceInvalid(std::string_view text);

// Number of bytes at the end of `text` that start a UTF-8 character but do not complete it,
// so a streaming decoder can hold them back until the next token arrives (0 to 3).
size_t IncompleteSuffixLength(std::string_view text);

// Debian's Abseil is built with its own absl::string_view, distinct from std::string_view,
// so absl containers and StrCat need this conversion.
inline absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

}  // namespace aha::utf8

#endif  // AHA_BASE_UTF8_H_
