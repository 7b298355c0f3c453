// Structure parsing for math answers: top-level splitting on commas, unions, rows and columns.
#include "rewards/math/answer_structure.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rewards/math/text_util.h"

namespace aha::math {
namespace {

using Kind = AnswerTree::Kind;

bool IsLetter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsOpen(char c) { return c == '(' || c == '[' || c == '{'; }
bool IsClose(char c) { return c == ')' || c == ']' || c == '}'; }

// True when `separator` starts at text[i] and, for a control word, is not the prefix of a longer
// one ("\pm" in "\pmod").
bool SeparatorAt(std::string_view text, size_t i, std::string_view separator) {
  if (text.compare(i, separator.size(), separator) != 0) return false;
  size_t end = i + separator.size();
  bool control_word = separator.size() > 1 && separator[0] == '\\' && IsLetter(separator[1]);
  return !control_word || end >= text.size() || !IsLetter(text[end]);
}

// Index of the bracket that closes text[0], counting ( [ { and \{ alike, or npos.
size_t WrapperEnd(std::string_view text) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      if (text[i + 1] == '{') ++depth;
      if (text[i + 1] == '}' && --depth == 0) return i + 1;
      ++i;
      continue;
    }
    if (IsOpen(c)) ++depth;
    if (IsClose(c) && --depth == 0) return i;
    if (depth < 0) return std::string_view::npos;
  }
  return std::string_view::npos;
}

absl::StatusOr<AnswerTree> Parse(std::string_view text, const StructureLimits& limits, int depth);

// Parses each element; an element that is itself a \pm list adds both of its cases.
absl::Status ParseElements(const std::vector<std::string_view>& parts, bool flatten_lists,
                           const StructureLimits& limits, int depth, AnswerTree* tree) {
  if (parts.size() > limits.max_items) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", limits.max_items, " elements"));
  }
  for (std::string_view part : parts) {
    absl::StatusOr<AnswerTree> item = Parse(part, limits, depth + 1);
    if (!item.ok()) return item.status();
    if (flatten_lists && item->kind == Kind::kList) {
      for (AnswerTree& inner : item->items) tree->items.push_back(std::move(inner));
    } else {
      tree->items.push_back(*std::move(item));
    }
  }
  if (tree->items.size() > limits.max_items) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", limits.max_items, " elements"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AnswerTree> ParseMatrix(std::string_view text, const StructureLimits& limits,
                                       int depth) {
  for (std::string_view env : {"pmatrix", "bmatrix", "Bmatrix", "matrix"}) {
    std::string begin = absl::StrCat("\\begin{", std::string(env), "}");
    std::string end = absl::StrCat("\\end{", std::string(env), "}");
    if (!StartsWith(text, begin) || !EndsWith(text, end)) continue;
    std::string_view body = text.substr(begin.size(), text.size() - begin.size() - end.size());
    std::vector<std::string_view> rows = SplitTopLevel(body, "\\\\");
    if (!rows.empty() && Trim(rows.back()).empty()) rows.pop_back();
    AnswerTree tree;
    tree.kind = Kind::kMatrix;
    for (std::string_view row : rows) {
      std::vector<std::string_view> cells = SplitTopLevel(row, "&");
      if (tree.rows > 0 && cells.size() != tree.cols) {
        return absl::InvalidArgumentError("matrix rows have different lengths");
      }
      tree.cols = cells.size();
      ++tree.rows;
      absl::Status status = ParseElements(cells, false, limits, depth, &tree);
      if (!status.ok()) return status;
    }
    if (tree.rows == 0) return absl::InvalidArgumentError("empty matrix");
    return tree;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported environment in '", std::string(text), "'"));
}

absl::StatusOr<AnswerTree> Parse(std::string_view text, const StructureLimits& limits,
                                 int depth) {
  text = Trim(text);
  if (text.empty()) return absl::InvalidArgumentError("empty element");
  if (depth > limits.max_depth) {
    return absl::InvalidArgumentError(absl::StrCat("nesting deeper than ", limits.max_depth));
  }

  std::vector<std::string_view> parts = SplitTopLevel(text, "\\cup");
  if (parts.size() > 1) {
    AnswerTree tree;
    tree.kind = Kind::kUnion;
    absl::Status status = ParseElements(parts, false, limits, depth, &tree);
    if (!status.ok()) return status;
    return tree;
  }

  if (StartsWith(text, "\\begin{")) return ParseMatrix(text, limits, depth);

  size_t wrapper_end = WrapperEnd(text);
  if (StartsWith(text, "\\{") && wrapper_end == text.size() - 1) {
    AnswerTree tree;
    tree.kind = Kind::kSet;
    std::string_view inner = Trim(text.substr(2, text.size() - 4));
    if (inner.empty()) return tree;
    absl::Status status = ParseElements(SplitTopLevel(inner, ","), true, limits, depth, &tree);
    if (!status.ok()) return status;
    return tree;
  }

  if ((text[0] == '(' || text[0] == '[') && wrapper_end == text.size() - 1 &&
      (text.back() == ')' || text.back() == ']')) {
    std::string_view inner = text.substr(1, text.size() - 2);
    std::vector<std::string_view> elements = SplitTopLevel(inner, ",");
    if (elements.size() > 1) {
      AnswerTree tree;
      tree.kind = Kind::kTuple;
      tree.open = text[0];
      tree.close = text.back();
      absl::Status status = ParseElements(elements, false, limits, depth, &tree);
      if (!status.ok()) return status;
      return tree;
    }
  }

  std::vector<std::string_view> elements = SplitTopLevel(text, ",");
  if (elements.size() > 1) {
    if (IsThousandsNumber(text)) {
      AnswerTree tree;
      for (char c : text) {
        if (c != ',') tree.text.push_back(c);
      }
      return tree;
    }
    AnswerTree tree;
    tree.kind = Kind::kList;
    absl::Status status = ParseElements(elements, true, limits, depth, &tree);
    if (!status.ok()) return status;
    return tree;
  }

  for (std::string_view sign : {"\\pm", "\\mp"}) {
    std::vector<std::string_view> halves = SplitTopLevel(text, sign);
    if (halves.size() < 2) continue;
    // Only the first sign is expanded here; the rest expand in the recursive calls.
    std::string_view head = halves[0];
    std::string_view tail = text.substr(head.size() + sign.size());
    std::string tail_group = absl::StrCat("(", std::string(tail), ")");
    std::string plus = absl::StrCat(std::string(head), sign == "\\pm" ? "+" : "-", tail_group);
    std::string minus = absl::StrCat(std::string(head), sign == "\\pm" ? "-" : "+", tail_group);
    AnswerTree tree;
    tree.kind = Kind::kList;
    absl::Status status = ParseElements({plus, minus}, true, limits, depth, &tree);
    if (!status.ok()) return status;
    return tree;
  }

  AnswerTree tree;
  tree.text = std::string(text);
  return tree;
}

}  // namespace

bool IsThousandsNumber(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  size_t first = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  size_t head = i - first;
  if (head < 1 || head > 3 || text[first] == '0') return false;
  int groups = 0;
  while (i < text.size() && text[i] == ',') {
    if (i + 3 >= text.size()) return false;
    for (size_t k = 1; k <= 3; ++k) {
      if (!IsDigit(text[i + k])) return false;
    }
    i += 4;
    ++groups;
    if (i < text.size() && IsDigit(text[i])) return false;
  }
  if (groups == 0) return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t digits = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == digits) return false;
  }
  return i == text.size();
}

std::vector<std::string_view> SplitTopLevel(std::string_view text, std::string_view separator) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (depth == 0 && SeparatorAt(text, i, separator)) {
      parts.push_back(text.substr(start, i - start));
      i += separator.size() - 1;
      start = i + 1;
      continue;
    }
    if (c == '\\' && i + 1 < text.size()) {
      if (text[i + 1] == '{') ++depth;
      if (text[i + 1] == '}') --depth;
      ++i;
      continue;
    }
    if (IsOpen(c)) ++depth;
    if (IsClose(c)) --depth;
  }
  parts.push_back(text.substr(start));
  return parts;
}

absl::StatusOr<AnswerTree> ParseAnswerStructure(std::string_view text,
                                                const StructureLimits& limits) {
  return Parse(text, limits, 0);
}

}  // namespace aha::math
