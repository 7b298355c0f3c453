// UTF-8 helpers for the tokenizers.
#include "base/utf8.h"

namespace aha::utf8 {
namespace {

// Number of bytes that a character starting with `lead` takes, or 0 for a byte that cannot
// start one.
size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool IsContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

size_t DecodeAt(std::string_view text, size_t pos, char32_t* code_point) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const size_t length = SequenceLength(lead);
  if (length == 0 || pos + length > text.size()) return 0;
  if (length == 1) {
    *code_point = lead;
    return 1;
  }
  char32_t value = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[pos + i]);
    if (!IsContinuation(byte)) return 0;
    value = (value << 6) | (byte & 0x3F);
  }
  // Overlong 3- and 4-byte forms, surrogates and values past U+10FFFF are invalid.
  if (length == 3 && (value < 0x800 || (value >= 0xD800 && value <= 0xDFFF))) return 0;
  if (length == 4 && (value < 0x10000 || value > 0x10FFFF)) return 0;
  *code_point = value;
  return length;
}

void Append(char32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

bool IsValid(std::string_view text) {
  char32_t code_point;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = DecodeAt(text, pos, &code_point);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

std::string ReplaceInvalid(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char32_t code_point;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = DecodeAt(text, pos, &code_point);
    if (length == 0) {
      Append(0xFFFD, &out);
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

size_t IncompleteSuffixLength(std::string_view text) {
  // A character is at most 4 bytes, so only the last 3 bytes can be an incomplete start.
  const size_t lookback = text.size() < 3 ? text.size() : 3;
  for (size_t back = 1; back <= lookback; ++back) {
    const auto byte = static_cast<unsigned char>(text[text.size() - back]);
    if (IsContinuation(byte)) continue;
    const size_t length = SequenceLength(byte);
    return length > back ? back : 0;
  }
  return 0;
}

}  // namespace aha::utf8
