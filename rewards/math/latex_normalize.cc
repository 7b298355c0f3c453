// String rewrites that turn LaTeX answers into the plain form expression.h parses.
#include "rewards/math/latex_normalize.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "rewards/math/text_util.h"

namespace aha::math {
namespace {

bool IsLetter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Replaces each occurrence of `target` in `text` at [found, end) for which
// `applies(found, end)` is true with `replacement`, and keeps the others.
std::string ReplaceWhere(std::string_view text, std::string_view target,
                         std::string_view replacement,
                         const std::function<bool(size_t, size_t)>& applies) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t found = text.find(target, i);
    if (found == std::string_view::npos) break;
    const size_t end = found + target.size();
    out.append(text.substr(i, found - i));
    out.append(applies(found, end) ? replacement : target);
    i = end;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

// Removes or replaces the control word `command` (for example "\left") wherever it is not the
// prefix of a longer control word such as "\leftarrow".
std::string ReplaceControlWord(std::string_view text, std::string_view command,
                               std::string_view replacement) {
  return ReplaceWhere(text, command, replacement, [&](size_t, size_t end) {
    return end == text.size() || !IsLetter(text[end]);
  });
}

// Replaces the plain word `word` (not part of a longer word or of a control word) with
// `replacement`.
std::string ReplacePlainWord(std::string_view text, std::string_view word,
                             std::string_view replacement) {
  return ReplaceWhere(text, word, replacement, [&](size_t found, size_t end) {
    const bool starts_word =
        found == 0 || (!IsLetter(text[found - 1]) && text[found - 1] != '\\');
    return starts_word && (end == text.size() || !IsLetter(text[end]));
  });
}

// Whether `inner` is only words: letters, spaces and the '/', '-' or '.' of "m/s" or "km-h".
bool IsOnlyWords(std::string_view inner) {
  bool letter = false;
  for (char c : inner) {
    if (IsLetter(c)) {
      letter = true;
    } else if (c != ' ' && c != '/' && c != '-' && c != '.') {
      return false;
    }
  }
  return letter;
}

bool IsValueWord(std::string_view word);

// Whether `predicate` holds for one of the space-separated words of `text`.
template <typename Predicate>
bool AnyWord(std::string_view text, Predicate predicate) {
  for (size_t i = 0; i < text.size();) {
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i && predicate(text.substr(i, end - i))) return true;
    i = end + 1;
  }
  return false;
}

// Whether one of the words of `inner` is a value word ("\text{ million}").
bool HasValueWord(std::string_view inner) { return AnyWord(inner, IsValueWord); }

// Whether text[i..] contains nothing but an optional power, spaces and a final period.
bool OnlyEndFollows(std::string_view text, size_t i) {
  for (std::string_view power : {"^{2}", "^{3}", "^2", "^3"}) {
    if (text.substr(i, power.size()) == power) {
      i += power.size();
      break;
    }
  }
  std::string_view rest = Trim(text.substr(std::min(i, text.size())));
  return rest.empty() || rest == ".";
}

// Unwraps \command{X} to X, or to " " when text is left before it and X is a unit word, or
// any words at the end of the answer ("18 \text{ eggs}", "3 \times 10^8\ \text{m/s}").
std::string UnwrapTextCommand(std::string_view text, std::string_view command) {
  std::string out;
  // Whether `out` has a non-space character, kept as it grows: trimming `out` at every group
  // was quadratic on answers of many units.
  bool text_before = false;
  auto append = [&](std::string_view chunk) {
    out.append(chunk);
    text_before = text_before || !Trim(chunk).empty();
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t found = text.find(command, i);
    if (found == std::string_view::npos) break;
    size_t brace = found + command.size();
    while (brace < text.size() && text[brace] == ' ') ++brace;
    if (brace >= text.size() || text[brace] != '{' ||
        (found + command.size() < text.size() && IsLetter(text[found + command.size()]))) {
      append(text.substr(i, found + command.size() - i));
      i = found + command.size();
      continue;
    }
    size_t close = MatchingBrace(text, brace);
    if (close == std::string_view::npos) break;
    append(text.substr(i, found - i));
    std::string_view inner = text.substr(brace + 1, close - brace - 1);
    std::string_view word = Trim(inner);
    i = close + 1;
    if (text_before && (IsUnitWord(word) || (IsOnlyWords(word) && !HasValueWord(word) &&
                                             OnlyEndFollows(text, i)))) {
      out.push_back(' ');
      // The power belongs to the unit: "15\mbox{ cm}^2" is 15.
      for (std::string_view power : {"^{2}", "^{3}", "^2", "^3"}) {
        if (text.substr(i, power.size()) == power) {
          i += power.size();
          break;
        }
      }
    } else {
      append(inner);
    }
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

// Drops unit words at the end, for example "864 inches^2" -> "864", "12 square feet" -> "12".
std::string StripTrailingUnits(std::string_view text) {
  while (true) {
    std::string_view view = TrimRight(text);
    size_t end = view.size();
    if (end >= 2 && view[end - 2] == '^' && (view[end - 1] == '2' || view[end - 1] == '3')) {
      end -= 2;
    } else if (end >= 4 && view.substr(end - 4) == "^{2}") {
      end -= 4;
    } else if (end >= 4 && view.substr(end - 4) == "^{3}") {
      end -= 4;
    }
    size_t start = end;
    while (start > 0 && IsLetter(view[start - 1])) --start;
    std::string_view word = view.substr(start, end - start);
    // A single letter might be a variable, and "\in" or "\pi" are commands, not words.
    if (word.size() < 2 || !IsUnitWord(word) || (start > 0 && view[start - 1] == '\\')) break;
    std::string_view before = TrimRight(view.substr(0, start));
    if (before.empty() || (start > 0 && view[start - 1] != ' ' && !std::isdigit(
                                                                      static_cast<unsigned char>(
                                                                          view[start - 1])))) {
      break;
    }
    text = before;
  }
  return std::string(text);
}

// Words after a number that change its value, so dropping them would make "5 million" equal 5:
// math words ("2 pi", "3 sqrt"), multipliers and operations.
bool IsValueWord(std::string_view word) {
  for (std::string_view name :
       {"pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "mod",
        "infty", "inf", "hundred", "hundreds", "thousand", "thousands", "million", "millions",
        "billion", "billions", "trillion", "trillions", "dozen", "dozens", "score", "squared",
        "cubed", "factorial", "half", "halves", "third", "thirds", "quarter", "quarters",
        "fourths", "fifths", "sixths", "eighths", "tenths", "hundredths", "thousandths", "times",
        "percent"}) {
    if (EqualsIgnoreCase(word, name)) return true;
  }
  return false;
}

// Whether `word` reads as a noun rather than a product of variables ("xy", "kT", "abc", "GM"):
// four letters or more, lower case after the first, with a vowel.
bool IsNounWord(std::string_view word) {
  if (word.size() < 4) return false;
  bool vowel = false;
  for (size_t i = 0; i < word.size(); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(word[i])));
    if (i > 0 && word[i] != c) return false;
    vowel = vowel || std::string_view("aeiouy").find(c) != std::string_view::npos;
  }
  return vowel;
}

// Drops a run of plain words after a number: "18 pages" -> "18", "3 little pigs" -> "3". The
// run must end in a noun (IsNounWord), so "5 x" and "3 kT" keep their variables, and no word
// may change the value (IsValueWord).
std::string StripTrailingWords(std::string_view text) {
  const std::string_view view = TrimRight(text);
  size_t start = view.size();
  while (start > 0 && (IsLetter(view[start - 1]) || view[start - 1] == ' ')) --start;
  if (start == view.size() || view[start] != ' ') return std::string(text);
  const std::string_view before = TrimRight(view.substr(0, start));
  if (before.empty() ||
      !(std::isdigit(static_cast<unsigned char>(before.back())) || before.back() == '}' ||
        before.back() == ')')) {
    return std::string(text);
  }
  const auto kept = [](std::string_view word) { return word.size() < 2 || IsValueWord(word); };
  if (AnyWord(view.substr(start), kept)) return std::string(text);
  const size_t last = view.rfind(' ');
  if (!IsNounWord(view.substr(last + 1))) return std::string(text);
  return std::string(before);
}

// Turns ",\\!" and the spaces after it into ",", in one pass.
std::string JoinThousandsSeparators(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t found = text.find(",\\!", i);
    if (found == std::string_view::npos) break;
    out.append(text.substr(i, found - i));
    out.push_back(',');
    i = found + 3;
    while (i < text.size() && text[i] == ' ') ++i;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

// Drops the Unicode spaces (U+00A0, U+2009, U+202F) that separate thousands, as in "1 000":
// those between a digit and a group of exactly three digits. Other such spaces become spaces.
std::string JoinDigitGroups(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    size_t width = 0;
    if (text.compare(i, 2, "\xC2\xA0") == 0) width = 2;
    if (text.compare(i, 3, "\xE2\x80\x89") == 0 || text.compare(i, 3, "\xE2\x80\xAF") == 0) {
      width = 3;
    }
    if (width > 0 && !out.empty() && std::isdigit(static_cast<unsigned char>(out.back()))) {
      size_t digits = i + width;
      while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
        ++digits;
      }
      if (digits - (i + width) == 3) {
        i += width - 1;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string CollapseWhitespace(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Drops a leading "x \in " so that "x \in [-2,7]" compares as the interval.
std::string StripMembershipPrefix(std::string text) {
  size_t i = 0;
  while (i < text.size() && IsLetter(text[i])) ++i;
  if (i == 0) return text;
  size_t j = i;
  while (j < text.size() && text[j] == ' ') ++j;
  if (text.compare(j, 3, "\\in") == 0 && (j + 3 == text.size() || !IsLetter(text[j + 3]))) {
    return std::string(TrimLeft(text.substr(j + 3)));
  }
  return text;
}

// Drops a leading "\approx" or "\sim": "\approx 1.6" is the answer 1.6.
std::string StripApproximatePrefix(std::string text) {
  for (std::string_view command : {"\\approx", "\\sim"}) {
    if (StartsWith(text, command) &&
        (text.size() == command.size() || !IsLetter(text[command.size()]))) {
      return std::string(TrimLeft(std::string_view(text).substr(command.size())));
    }
  }
  return text;
}

// One relation of an inequality: "<", ">", "\le" or "\ge" at `at`, `size` bytes long.
struct Relation {
  size_t at, size;
  bool less, inclusive;
};

// Returns the relations of `text` outside brackets and braces, or nothing when it has "=",
// "\ne" or a comma there, which an interval cannot state.
std::vector<Relation> TopLevelRelations(std::string_view text) {
  std::vector<Relation> relations;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth != 0) continue;
    if (c == '=' || c == ',') return {};
    if (c == '<' || c == '>') relations.push_back({i, 1, c == '<', false});
    if (c != '\\') continue;
    const std::string_view word = text.substr(i + 1, 2);
    const bool ends = i + 3 >= text.size() || !IsLetter(text[i + 3]);
    if (word == "ne" && ends) return {};
    if ((word == "le" || word == "ge") && ends) relations.push_back({i, 3, word == "le", true});
  }
  return relations;
}

bool IsOneLetter(std::string_view text) { return text.size() == 1 && IsLetter(text[0]); }

// Rewrites a one-variable inequality as the interval of its solutions, so that "x \le 5",
// "5 \ge x" and "(-\infty,5]" compare equal. "x > 2" becomes "(2,\infty)" and
// "1 \le x < 2" becomes "[1,2)". Any other text is returned as it is.
std::string InequalityAsInterval(const std::string& text) {
  const std::vector<Relation> relations = TopLevelRelations(text);
  if (relations.empty() || relations.size() > 2) return text;
  std::vector<std::string_view> operands;
  size_t start = 0;
  for (const Relation& relation : relations) {
    operands.push_back(Trim(std::string_view(text).substr(start, relation.at - start)));
    start = relation.at + relation.size;
  }
  operands.push_back(Trim(std::string_view(text).substr(start)));
  for (std::string_view operand : operands) {
    if (operand.empty()) return text;
  }

  const auto interval = [](bool lower_inclusive, std::string_view lower, std::string_view upper,
                           bool upper_inclusive) {
    return std::string(lower_inclusive ? "[" : "(") + std::string(lower) + "," +
           std::string(upper) + (upper_inclusive ? "]" : ")");
  };
  const Relation& first = relations[0];

  if (relations.size() == 1) {
    // "x < a" and "a > x" bound x from above, "x > a" and "a < x" from below.
    const bool variable_left = IsOneLetter(operands[0]) && !IsOneLetter(operands[1]);
    const bool variable_right = IsOneLetter(operands[1]) && !IsOneLetter(operands[0]);
    if (!variable_left && !variable_right) return text;
    const std::string_view bound = variable_left ? operands[1] : operands[0];
    if (first.less == variable_left) return interval(false, "-\\infty", bound, first.inclusive);
    return interval(first.inclusive, bound, "\\infty", false);
  }
  const Relation& second = relations[1];
  if (!IsOneLetter(operands[1]) || first.less != second.less) return text;
  if (first.less) return interval(first.inclusive, operands[0], operands[2], second.inclusive);
  return interval(second.inclusive, operands[2], operands[0], first.inclusive);
}

}  // namespace

bool IsUnitWord(std::string_view word) {
  for (const char* unit : kUnitWords) {
    if (EqualsIgnoreCase(word, unit)) return true;
  }
  return false;
}

size_t MatchingBrace(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      ++i;  // Skips the escaped character, so "\{" and "\}" do not count.
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

namespace {

// Writes a root sign before a number as a braced root: "√13" as "\sqrt{13}" and "∛2" as
// "\sqrt[3]{2}", so that "3√13" is not read as 3\sqrt{1}3. `command` is the LaTeX root, such
// as "\sqrt" or "\sqrt[3]". A sign before anything else becomes the bare command.
std::string WrapRootOfNumber(std::string_view text, std::string_view sign,
                             std::string_view command) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t found = text.find(sign, i);
    if (found == std::string_view::npos) break;
    size_t end = found + sign.size();
    // A minus sign right before digits belongs to the radicand: "∛-8" is \sqrt[3]{-8}.
    if (end + 1 < text.size() && text[end] == '-' &&
        std::isdigit(static_cast<unsigned char>(text[end + 1]))) {
      ++end;
    }
    while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) ||
                                 text[end] == '.')) {
      ++end;
    }
    out.append(text.substr(i, found - i));
    out.append(command);
    if (end > found + sign.size()) {
      out += "{";
      out.append(text.substr(found + sign.size(), end - found - sign.size()));
      out += "}";
    } else {
      out += " ";
    }
    i = end;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

// Maps the fullwidth forms of ASCII (U+FF01 to U+FF5E, as in "１２" or "３．５"), which CJK
// input methods write, to ASCII.
std::string NarrowFullwidth(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    // U+FF01 to U+FF3F are EF BC 81 to EF BC BF, and U+FF40 to U+FF5E are EF BD 80 to EF BD 9E.
    if (i + 2 < text.size() && byte(i) == 0xEF && (byte(i + 1) == 0xBC || byte(i + 1) == 0xBD)) {
      const int code = ((byte(i + 1) - 0xBC) << 6) + (byte(i + 2) & 0x3F);  // 0x01..0x5E
      if ((byte(i + 2) & 0xC0) == 0x80 && code >= 0x01 && code <= 0x5E) {
        out += static_cast<char>(0x20 + code);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// Returns the decimal digits of `value`.
std::string DecimalString(unsigned __int128 value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value > 0);
  return digits;
}

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Returns the end of the run of digits that starts at `at`.
size_t DigitsEnd(std::string_view text, size_t at) {
  while (at < text.size() && IsDigit(text[at])) ++at;
  return at;
}

// Writes a binomial coefficient of two integers as its value: "\binom{5}{2}" (or \dbinom,
// \tbinom) as "10". Coefficients above 10^30, and binomials of anything else, such as
// "\binom{n}{2}", stay as they are.
std::string BinomialsOfIntegers(const std::string& text) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t name_size = 0;
    for (std::string_view name : {std::string_view("\\binom{"), std::string_view("\\dbinom{"),
                                  std::string_view("\\tbinom{")}) {
      if (std::string_view(text).substr(at, name.size()) == name) name_size = name.size();
    }
    const size_t n_end = name_size > 0 ? DigitsEnd(text, at + name_size) : 0;
    const size_t k_end = n_end > at + name_size && text.compare(n_end, 2, "}{") == 0
                             ? DigitsEnd(text, n_end + 2)
                             : 0;
    if (k_end <= n_end + 2 || k_end >= text.size() || text[k_end] != '}' ||
        n_end - at - name_size > 4 || k_end - n_end - 2 > 4) {
      out += text[at++];
      continue;
    }
    const int n = std::stoi(text.substr(at + name_size, n_end - at - name_size));
    int k = std::stoi(text.substr(n_end + 2, k_end - n_end - 2));
    if (k > n) {
      out += "{0}";
      at = k_end + 1;
      continue;
    }
    k = std::min(k, n - k);
    // C(n, i) = C(n, i - 1) * (n - i + 1) / i stays an integer at every step.
    unsigned __int128 value = 1;
    bool fits = true;
    constexpr unsigned __int128 kLimit = static_cast<unsigned __int128>(1000000000000000ULL) *
                                         1000000000000000ULL;  // 10^30
    for (int i = 1; i <= k && fits; ++i) {
      value = value * static_cast<unsigned>(n - i + 1) / static_cast<unsigned>(i);
      fits = value <= kLimit;
    }
    if (!fits) {
      out += text[at++];
      continue;
    }
    // Braced, so that "2\binom{5}{2}" reads as 2 times 10, not as 210.
    out += "{" + DecimalString(value) + "}";
    at = k_end + 1;
  }
  return out;
}

// Returns the size of the ellipsis at `at` ("...", "\ldots", "\dots", "\cdots" or U+2026), or
// 0 when there is none.
size_t EllipsisSize(std::string_view text, size_t at) {
  for (std::string_view ellipsis : {std::string_view("..."), std::string_view("\\ldots"),
                                    std::string_view("\\cdots"), std::string_view("\\dots"),
                                    std::string_view("\xE2\x80\xA6")}) {
    if (text.substr(at, ellipsis.size()) == ellipsis) return ellipsis.size();
  }
  return 0;
}

// Returns the digit that "\dot{d}" or "\dot d" at `at` marks, and sets `size` to the
// marker's length. Returns 0 (not a digit) when there is no such marker.
char DottedDigit(std::string_view text, size_t at, size_t* size) {
  if (text.substr(at, 4) != "\\dot") return 0;
  size_t next = at + 4;
  while (next < text.size() && text[next] == ' ') ++next;
  if (next + 2 < text.size() && text[next] == '{' && IsDigit(text[next + 1]) &&
      text[next + 2] == '}') {
    *size = next + 3 - at;
    return text[next + 1];
  }
  if (next < text.size() && IsDigit(text[next]) && next > at + 4) {
    *size = next + 1 - at;
    return text[next];
  }
  return 0;
}

// Rewrites the other notations of a repeating decimal as "\overline{R}", which
// RepeatingDecimalsAsFractions reads:
//  - parentheses: "0.(3)" and "0.1(6)";
//  - dots over the first and last repeating digits: "0.\dot{3}" and "0.\dot{1}4\dot{2}";
//  - an ellipsis after a block written at least twice: "0.333...", "0.1666\ldots" and
//    "0.142857142857...". The shortest such block of up to 9 digits is taken. A decimal with no
//    repeated block before its ellipsis ("3.14159...") stays as it is.
std::string RepeatingNotationsAsOverline(std::string_view text) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    // A decimal point with digits or the start of a number before it: "W.F" with W maybe empty.
    const bool starts_number = at == 0 || (!IsDigit(text[at - 1]) && text[at - 1] != '.');
    const size_t whole_end = starts_number ? DigitsEnd(text, at) : at;
    if (!starts_number || whole_end >= text.size() || text[whole_end] != '.') {
      out += text[at++];
      continue;
    }
    const size_t fraction_end = DigitsEnd(text, whole_end + 1);
    const std::string_view decimal = text.substr(at, fraction_end - at);  // "W.F"
    const std::string_view fraction = text.substr(whole_end + 1, fraction_end - whole_end - 1);

    // "W.F(R)"
    if (fraction_end < text.size() && text[fraction_end] == '(') {
      const size_t repeating_end = DigitsEnd(text, fraction_end + 1);
      if (repeating_end > fraction_end + 1 && repeating_end < text.size() &&
          text[repeating_end] == ')') {
        out.append(decimal).append("\\overline{");
        out.append(text.substr(fraction_end + 1, repeating_end - fraction_end - 1)).append("}");
        at = repeating_end + 1;
        continue;
      }
    }

    // "W.F\overline3" or "W.F\bar3": without braces the bar covers one digit.
    bool bar_without_braces = false;
    for (std::string_view bar : {std::string_view("\\overline"), std::string_view("\\bar")}) {
      const size_t digit = fraction_end + bar.size();
      if (text.substr(fraction_end, bar.size()) == bar && digit < text.size() &&
          IsDigit(text[digit])) {
        out.append(decimal).append("\\overline{").append(1, text[digit]).append("}");
        at = digit + 1;
        bar_without_braces = true;
        break;
      }
    }
    if (bar_without_braces) continue;

    // "W.F\dot{a}" or "W.F\dot{a}B\dot{c}"
    size_t first_size = 0;
    if (const char first = DottedDigit(text, fraction_end, &first_size); first != 0) {
      std::string repeating(1, first);
      size_t end = fraction_end + first_size;
      const size_t middle_end = DigitsEnd(text, end);
      size_t last_size = 0;
      if (const char last = DottedDigit(text, middle_end, &last_size); last != 0) {
        repeating += std::string(text.substr(end, middle_end - end)) + last;
        end = middle_end + last_size;
      }
      out.append(decimal).append("\\overline{").append(repeating).append("}");
      at = end;
      continue;
    }

    // "W.FRR..." with the block R written at least twice at the end of F.
    if (const size_t ellipsis = EllipsisSize(text, fraction_end); ellipsis > 0) {
      for (size_t period = 1; period <= 9 && 2 * period <= fraction.size(); ++period) {
        const std::string_view last = fraction.substr(fraction.size() - period);
        if (fraction.substr(fraction.size() - 2 * period, period) != last) continue;
        out.append(text.substr(at, whole_end + 1 - at));
        out.append(fraction.substr(0, fraction.size() - period));
        out.append("\\overline{").append(last).append("}");
        at = fraction_end + ellipsis;
        break;
      }
      if (at < fraction_end) {
        out += decimal;
        at = fraction_end;
      }
      continue;
    }
    out += decimal;
    at = fraction_end;
  }
  return out;
}

// Writes a repeating decimal as its exact fraction: "0.\overline{3}" as "\frac{3}{9}" and
// "1.2\overline{45}" as "\frac{1233}{990}". "\bar{3}" reads as "\overline{3}" after digits.
// Decimals of more than 36 digits, which could overflow the grader's 128-bit fractions, stay
// as they are.
std::string RepeatingDecimalsAsFractions(std::string_view text) {
  std::string out;
  size_t copied = 0;
  size_t search = 0;
  while (true) {
    // The next "\overline{" or "\bar{", whichever comes first.
    size_t found = std::string_view::npos;
    size_t marker_size = 0;
    for (std::string_view marker : {std::string_view("\\overline{"), std::string_view("\\bar{")}) {
      const size_t at = text.find(marker, search);
      if (at < found) {
        found = at;
        marker_size = marker.size();
      }
    }
    if (found == std::string_view::npos) break;
    search = found + 1;
    const size_t close = MatchingBrace(text, found + marker_size - 1);
    if (close == std::string_view::npos) break;
    const std::string_view repeating =
        Trim(text.substr(found + marker_size, close - found - marker_size));
    // The digits before: "W.F" right before the bar, with W possibly empty.
    size_t start = found;
    while (start > copied && std::isdigit(static_cast<unsigned char>(text[start - 1]))) --start;
    const std::string_view fraction_digits = text.substr(start, found - start);
    if (start == copied || text[start - 1] != '.') continue;
    size_t whole_start = start - 1;
    while (whole_start > copied &&
           std::isdigit(static_cast<unsigned char>(text[whole_start - 1]))) {
      --whole_start;
    }
    const std::string_view whole = text.substr(whole_start, start - 1 - whole_start);
    const bool all_digits = !repeating.empty() &&
                            std::all_of(repeating.begin(), repeating.end(), [](char c) {
                              return std::isdigit(static_cast<unsigned char>(c)) != 0;
                            });
    if (!all_digits || whole.size() + fraction_digits.size() + repeating.size() > 36) continue;
    // x = W.F(R repeating): x = (WFR - WF) / (10^|F| * (10^|R| - 1)).
    const auto value = [](std::string_view digits) {
      unsigned __int128 v = 0;
      for (char c : digits) v = v * 10 + static_cast<unsigned>(c - '0');
      return v;
    };
    const std::string prefix = std::string(whole) + std::string(fraction_digits);
    const unsigned __int128 numerator = value(prefix + std::string(repeating)) - value(prefix);
    unsigned __int128 denominator = 1;
    for (size_t k = 0; k < repeating.size(); ++k) denominator *= 10;
    denominator -= 1;
    for (size_t k = 0; k < fraction_digits.size(); ++k) denominator *= 10;
    out.append(text.substr(copied, whole_start - copied));
    out += "\\frac{" + DecimalString(numerator) + "}{" + DecimalString(denominator) + "}";
    copied = close + 1;
    search = copied;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace

std::string NormalizeLatex(std::string_view answer) {
  std::string text = NarrowFullwidth(answer);
  text = RepeatingDecimalsAsFractions(RepeatingNotationsAsOverline(JoinDigitGroups(text)));
  text = BinomialsOfIntegers(text);
  text = WrapRootOfNumber(text, "\xE2\x88\x9A", "\\sqrt");     // square root
  text = WrapRootOfNumber(text, "\xE2\x88\x9B", "\\sqrt[3]");  // cube root
  text = WrapRootOfNumber(text, "\xE2\x88\x9C", "\\sqrt[4]");  // fourth root
  text = absl::StrReplaceAll(text, {
                                                  {"\xE2\x88\x92", "-"},           // U+2212 minus
                                                  {"\xCF\x80", "\\pi "},          // pi
                                                  {"\xC2\xB1", "\\pm "},          // plus-minus
                                                  {"\xE2\x88\x93", "\\mp "},      // minus-plus
                                                  {"\xE2\x89\xA4", "\\le "},      // less or equal
                                                  {"\xE2\x89\xA5", "\\ge "},      // greater or equal
                                                  {"\xE2\x89\xA0", "\\ne "},      // not equal
                                                  {"\xCE\xB1", "\\alpha "},       // Greek letters
                                                  {"\xCE\xB2", "\\beta "},
                                                  {"\xCE\xB3", "\\gamma "},
                                                  {"\xCE\xB4", "\\delta "},
                                                  {"\xCE\xB8", "\\theta "},
                                                  {"\xCE\xBB", "\\lambda "},
                                                  {"\xCE\xBC", "\\mu "},
                                                  {"\xCF\x83", "\\sigma "},
                                                  {"\xCF\x86", "\\phi "},
                                                  {"\xCF\x89", "\\omega "},
                                                  {"\xCE\xB5", "\\epsilon "},
                                                  {"\xCF\x95", "\\phi "},        // phi symbol
                                                  {"\xC2\xB5", "\\mu "},         // micro sign
                                                  {"\xCE\x94", "\\Delta "},
                                                  {"<=", "\\le "},
                                                  {">=", "\\ge "},
                                                  {"!=", "\\ne "},
                                                  {"\xC3\x97", "\\times "},       // times
                                                  {"\xC2\xB7", "\\cdot "},        // middle dot
                                                  {"\xC3\xB7", "\\div "},         // division
                                                  {"\xE2\x88\x9E", "\\infty "},  // infinity
                                                  {"\xE2\x88\x85", "\\emptyset "},  // empty set
                                                  {"\xC2\xBD", "\\frac{1}{2}"},   // one half
                                                  {"\xC2\xBC", "\\frac{1}{4}"},   // one quarter
                                                  {"\xC2\xBE", "\\frac{3}{4}"},   // 3 quarters
                                                  {"\xE2\x89\x88", "\\approx "},  // approx
                                                  {"\xC2\xB2", "^2"},               // superscript 2
                                                  {"\xC2\xB3", "^3"},               // superscript 3
                                                  {"\xC2\xA0", " "},                // no-break space
                                                  {"\xE2\x80\x89", " "},           // thin space
                                                  {"\xE2\x80\xAF", " "},           // narrow nbsp
                                                  {"\\$", ""},
                                                  {"$", ""},
                                                  {"\\%", ""},
                                                  {"%", ""},
                                                  {"^\\circ", ""},
                                                  {"^{\\circ}", ""},
                                                  {"^{ \\circ }", ""},
                                                  {"\xC2\xB0", ""},
                                                  {"\\dfrac", "\\frac"},
                                                  {"\\cfrac", "\\frac"},
                                                  {"{,}", ","},
                                                  {"\\tfrac", "\\frac"},
                                                  {"\\left.", ""},
                                                  {"\\right.", ""}});

  // ",\!" is the thousands separator in MATH-style answers; spaces after it are layout only.
  text = JoinThousandsSeparators(text);
  // "\\" maps to itself so that a matrix row break followed by a space stays a row break.
  text = absl::StrReplaceAll(text, {{"\\\\", "\\\\"},
                                    {"\\!", ""},
                                    {"\\,", " "},
                                    {"\\;", " "},
                                    {"\\:", " "},
                                    {"\\ ", " "},
                                    {"~", " "}});
  for (std::string_view command : {"\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr",
                                   "\\big", "\\Big", "\\displaystyle", "\\degree", "\\circ"}) {
    text = ReplaceControlWord(text, command, "");
  }
  for (std::string_view command : {"\\qquad", "\\quad"}) {
    text = ReplaceControlWord(text, command, " ");
  }
  // One spelling of the empty set and of infinity. In a final answer "\inf" (the infimum
  // command) and the words "inf" and "infinity" mean infinity.
  text = ReplaceControlWord(text, "\\varnothing", "\\emptyset");
  text = ReplaceControlWord(text, "\\inf", "\\infty");
  for (std::string_view word : {"infinity", "Infinity", "inf"}) {
    text = ReplacePlainWord(text, word, "\\infty");
  }
  // One spelling of each Greek variant, as the Unicode letters map to the plain commands.
  for (const auto& [command, letter] :
       {std::pair{"\\varphi", "\\phi"}, std::pair{"\\varepsilon", "\\epsilon"},
        std::pair{"\\vartheta", "\\theta"}}) {
    text = ReplaceControlWord(text, command, letter);
  }
  // One spelling of each relation, so that "x \leq 5" and "x ≤ 5" compare equal as text.
  for (const auto& [command, relation] :
       {std::pair{"\\leqslant", "\\le"}, std::pair{"\\geqslant", "\\ge"},
        std::pair{"\\leq", "\\le"}, std::pair{"\\geq", "\\ge"}, std::pair{"\\neq", "\\ne"}}) {
    text = ReplaceControlWord(text, command, relation);
  }
  for (std::string_view command : {"\\textbf", "\\textit", "\\textrm", "\\textnormal", "\\text",
                                   "\\mathrm", "\\mathbf", "\\mathit", "\\mbox"}) {
    text = UnwrapTextCommand(text, command);
  }

  text = CollapseWhitespace(text);
  text = absl::StrReplaceAll(text, {{" or ", ","}, {" and ", ","}});
  text = StripTrailingUnits(text);
  text = StripMembershipPrefix(text);
  text = StripApproximatePrefix(text);
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  text = StripTrailingWords(text);
  text = std::string(Trim(text));
  if (text == "\\{\\}" || text == "\\{ \\}" || text == "{}") return "\\emptyset";
  // The real line, as a set or as an interval.
  if (text == "\\mathbb{R}" || text == "\\mathbb R" || text == "\xE2\x84\x9D") {
    return "(-\\infty,\\infty)";
  }
  return InequalityAsInterval(text);
}

}  // namespace aha::math
