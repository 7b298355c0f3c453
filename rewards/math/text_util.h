// Small std::string_view helpers. Debian's Abseil 20220623 has its own absl::string_view that
// does not convert from std::string_view, so absl/strings functions cannot take these views.
#ifndef AHA_REWARDS_MATH_TEXT_UTIL_H_
#define AHA_REWARDS_MATH_TEXT_UTIL_H_

#include <cctype>
#include <string_view>

namespace aha::math {

inline bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

inline std::string_view TrimLeft(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  return text;
}

inline std::string_view TrimRight(std::string_view text) {
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

inline std::string_view Trim(std::string_view text) { return TrimLeft(TrimRight(text)); }

inline bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

inline bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_TEXT_UTIL_H_
