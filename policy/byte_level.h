// The byte-level alphabet of GPT-2-style BPE: each of the 256 byte values is shown as one
// printable code point, so vocabulary and merge strings never contain raw control bytes or
// spaces (byte 0x20 is shown as "Ġ", byte 0x0A as "Ċ").
#ifndef AHA_POLICY_BYTE_LEVEL_H_
#define AHA_POLICY_BYTE_LEVEL_H_

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace aha::byte_level {

// The UTF-8 string that shows byte `b`, for b in [0, 256).
const std::array<std::string, 256>& ByteToSymbol();

// Maps a vocabulary string back to the raw bytes it shows, or nullopt when it contains a
// code point outside the byte-level alphabet.
std::optional<std::string> SymbolsToBytes(std::string_view symbols);

// Maps raw bytes to their byte-level vocabulary string.
std::string BytesToSymbols(std::string_view bytes);

}  // namespace aha::byte_level

#endif  // AHA_POLICY_BYTE_LEVEL_H_
