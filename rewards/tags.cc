// Finding <think> and <answer> blocks in a completion.
#include "rewards/tags.h"

#include "absl/strings/ascii.h"

namespace aha {

size_t CountOccurrences(std::string_view text, std::string_view needle) {
  size_t count = 0;
  for (size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

std::optional<std::string_view> LastAnswerBlock(std::string_view completion) {
  constexpr std::string_view kOpen = "<answer>";
  constexpr std::string_view kClose = "</answer>";
  size_t open = completion.rfind(kOpen);
  if (open == std::string_view::npos) return std::nullopt;
  size_t begin = open + kOpen.size();
  size_t close = completion.find(kClose, begin);
  if (close == std::string_view::npos) return std::nullopt;
  return completion.substr(begin, close - begin);
}

std::optional<std::string_view> ThinkBlock(std::string_view completion, bool prefilled_think) {
  constexpr std::string_view kOpen = "<think>";
  constexpr std::string_view kClose = "</think>";
  size_t begin = 0;
  if (!prefilled_think) {
    size_t open = completion.find(kOpen);
    if (open == std::string_view::npos) return std::nullopt;
    begin = open + kOpen.size();
  }
  size_t close = completion.find(kClose, begin);
  if (close == std::string_view::npos) return std::nullopt;
  return completion.substr(begin, close - begin);
}

std::string_view TrimWhitespace(std::string_view text) {
  auto is_space = [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace aha
