// Final-answer extraction from completions and reference solutions.
#include "rewards/math/answer_extraction.h"

#include <cctype>

#include "rewards/math/latex_normalize.h"
#include "rewards/math/text_util.h"

namespace aha::math {
namespace {

constexpr std::string_view kOpenTag = "<answer>";
constexpr std::string_view kCloseTag = "</answer>";
constexpr std::string_view kGsm8kMarker = "####";

std::optional<std::string> NonEmpty(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  return std::string(text);
}

std::optional<std::string> FromAnswerTag(std::string_view completion) {
  size_t close = completion.rfind(kCloseTag);
  if (close == std::string_view::npos) return std::nullopt;
  size_t open = completion.rfind(kOpenTag, close);
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view inner = completion.substr(open + kOpenTag.size(),
                                             close - open - kOpenTag.size());
  if (std::optional<std::string> boxed = ExtractLastBoxed(inner)) return boxed;
  return NonEmpty(inner);
}

// Finds the last "\boxed" or "\fbox" that is a whole control word.
size_t FindLastBox(std::string_view text, size_t* name_size) {
  size_t best = std::string_view::npos;
  for (std::string_view name : {"\\boxed", "\\fbox"}) {
    size_t end = text.size();
    while (true) {
      size_t found = text.rfind(name, end);
      if (found == std::string_view::npos) break;
      size_t after = found + name.size();
      bool whole_word =
          after >= text.size() || !std::isalpha(static_cast<unsigned char>(text[after]));
      if (whole_word) {
        if (best == std::string_view::npos || found > best) {
          best = found;
          *name_size = name.size();
        }
        break;
      }
      if (found == 0) break;
      end = found - 1;
    }
  }
  return best;
}

// True when `tail`, what follows a leading number, is empty, punctuation, or words after a space
// ("dollars.", " eggs"), so the number alone is the answer; "/2" or "e5" continue the number.
bool IsWordTail(std::string_view tail) {
  if (tail.empty()) return true;
  if (!IsSpace(tail[0]) && tail[0] != '.' && tail[0] != ',') return false;
  for (char c : tail) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && !IsSpace(c) && c != '.' && c != ',' &&
        c != '!' && c != '\'') {
      return false;
    }
  }
  return true;
}

// True when `tail`, what follows a leading number, explains it rather than continuing it: an
// "=" ("18 = 9*2"), a parenthetical ("18 (eggs)"), or a word of prose after a space ("18
// because ...") other than "or" and "and", which list more answers.
bool IsExplanationTail(std::string_view tail) {
  std::string_view rest = Trim(tail);
  if (rest.empty() || rest.size() == tail.size()) return rest.empty();
  if (rest[0] == '=' || rest[0] == '(') return true;
  size_t word = 0;
  while (word < rest.size() && std::isalpha(static_cast<unsigned char>(rest[word]))) ++word;
  const std::string_view first = rest.substr(0, word);
  return first.size() >= 2 && first != "or" && first != "and";
}

std::optional<std::string> FromGsm8kMarker(std::string_view text) {
  size_t marker = text.rfind(kGsm8kMarker);
  if (marker == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(marker + kGsm8kMarker.size());
  rest = rest.substr(0, rest.find('\n'));
  rest = Trim(rest);

  // A leading number such as "-1,234.5", "$18" or "50%" is the answer; words after it are not.
  size_t i = 0;
  if (i < rest.size() && rest[i] == '$') ++i;
  if (i < rest.size() && rest[i] == '-') ++i;
  size_t digits_start = i;
  while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == ',' ||
                             rest[i] == '.')) {
    ++i;
  }
  if (i > digits_start && std::isdigit(static_cast<unsigned char>(rest[digits_start]))) {
    while (i > digits_start && (rest[i - 1] == ',' || rest[i - 1] == '.')) --i;
    if (i < rest.size() && rest[i] == '%') ++i;
    if (IsWordTail(rest.substr(i)) || IsExplanationTail(rest.substr(i))) {
      return std::string(rest.substr(0, i));
    }
  }
  // "5/2", "1e5" or "3 \frac{1}{2}": the whole line is the answer.
  return NonEmpty(rest);
}

}  // namespace

std::optional<std::string> ExtractLastBoxed(std::string_view text) {
  size_t name_size = 0;
  size_t box = FindLastBox(text, &name_size);
  if (box == std::string_view::npos) return std::nullopt;
  size_t i = box + name_size;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i >= text.size()) return std::nullopt;
  if (text[i] == '{') {
    size_t close = MatchingBrace(text, i);
    if (close == std::string_view::npos) return std::nullopt;
    return NonEmpty(text.substr(i + 1, close - i - 1));
  }
  // "\boxed 42": TeX takes one token, and the text up to a space or '$' is what was meant.
  if (i == box + name_size) return std::nullopt;
  size_t end = i;
  while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
         text[end] != '$') {
    ++end;
  }
  return NonEmpty(text.substr(i, end - i));
}

std::optional<std::string> ExtractFinalAnswer(std::string_view completion,
                                              const ExtractOptions& options) {
  if (options.from_answer_tag && completion.find(kCloseTag) != std::string_view::npos &&
      completion.find(kOpenTag) != std::string_view::npos) {
    std::optional<std::string> answer = FromAnswerTag(completion);
    // A tag pair decides; only a lone "</answer>" before any "<answer>" falls through.
    if (answer || completion.find(kOpenTag) < completion.rfind(kCloseTag)) return answer;
  }
  if (options.from_boxed) {
    size_t name_size = 0;
    if (FindLastBox(completion, &name_size) != std::string_view::npos) {
      return ExtractLastBoxed(completion);
    }
  }
  if (options.from_gsm8k_marker) return FromGsm8kMarker(completion);
  return std::nullopt;
}

std::string NormalizeGroundTruth(std::string_view ground_truth) {
  if (ground_truth.find(kGsm8kMarker) != std::string_view::npos) {
    return FromGsm8kMarker(ground_truth).value_or("");
  }
  // Some datasets store the full solution or "\boxed{18}" as the answer; the box is the answer.
  size_t name_size = 0;
  if (FindLastBox(ground_truth, &name_size) != std::string_view::npos) {
    if (std::optional<std::string> boxed = ExtractLastBoxed(ground_truth)) return *boxed;
  }
  return std::string(Trim(ground_truth));
}

}  // namespace aha::math
