// The byte-level alphabet of GPT-2-style BPE.
#include "policy/byte_level.h"

#include "absl/container/flat_hash_map.h"
#include "base/utf8.h"

namespace aha::byte_level {
namespace {

// Printable bytes (33..126, 161..172, 174..255) show as the code point of the same value;
// the other 68 bytes show as U+0100, U+0101, ... in byte order. This is the mapping that
// GPT-2's encoder.py defines and that every byte-level BPE vocabulary is written in.
std::array<char32_t, 256> BuildCodePoints() {
  std::array<char32_t, 256> code_points{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    code_points[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return code_points;
}

const absl::flat_hash_map<char32_t, unsigned char>& SymbolToByte() {
  static const auto* const table = [] {
    auto* map = new absl::flat_hash_map<char32_t, unsigned char>();
    const std::array<char32_t, 256> code_points = BuildCodePoints();
    for (int b = 0; b < 256; ++b) (*map)[code_points[b]] = static_cast<unsigned char>(b);
    return map;
  }();
  return *table;
}

}  // namespace

const std::array<std::string, 256>& ByteToSymbol() {
  static const auto* const table = [] {
    auto* symbols = new std::array<std::string, 256>();
    const std::array<char32_t, 256> code_points = BuildCodePoints();
    for (int b = 0; b < 256; ++b) utf8::Append(code_points[b], &(*symbols)[b]);
    return symbols;
  }();
  return *table;
}

std::optional<std::string> SymbolsToBytes(std::string_view symbols) {
  const auto& table = SymbolToByte();
  std::string bytes;
  bytes.reserve(symbols.size());
  char32_t code_point;
  for (size_t pos = 0; pos < symbols.size();) {
    const size_t length = utf8::DecodeAt(symbols, pos, &code_point);
    if (length == 0) return std::nullopt;
    const auto it = table.find(code_point);
    if (it == table.end()) return std::nullopt;
    bytes.push_back(static_cast<char>(it->second));
    pos += length;
  }
  return bytes;
}

std::string BytesToSymbols(std::string_view bytes) {
  const auto& table = ByteToSymbol();
  std::string symbols;
  symbols.reserve(bytes.size() * 2);
  for (char byte : bytes) symbols += table[static_cast<unsigned char>(byte)];
  return symbols;
}

}  // namespace aha::byte_level
