// Splits a normalized answer into its structure: scalars, tuples, intervals, sets, lists, matrices.
#ifndef AHA_REWARDS_MATH_ANSWER_STRUCTURE_H_
#define AHA_REWARDS_MATH_ANSWER_STRUCTURE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aha::math {

// The shape of an answer. Scalars keep their text for Expression::Parse.
struct AnswerTree {
  enum class Kind {
    kScalar,  // "2/3", "x^2+1"
    kTuple,   // "(1,2)", "[0,1)", "(-\infty, 2]": ordered, brackets kept in open/close
    kSet,     // "\{1,2\}": unordered
    kList,    // "1, 2" or "1 \pm \sqrt{2}": an unordered "find all" list
    kUnion,   // "(0,1) \cup (2,3)": unordered parts
    kMatrix,  // \begin{pmatrix}...\end{pmatrix}, also bmatrix and matrix
  };
  Kind kind = Kind::kScalar;
  std::string text;                // kScalar
  char open = 0;                   // kTuple: '(' or '['
  char close = 0;                  // kTuple: ')' or ']'
  std::vector<AnswerTree> items;   // elements; for kMatrix the entries row by row
  size_t rows = 0;                 // kMatrix
  size_t cols = 0;                 // kMatrix
};

struct StructureLimits {
  int max_depth = 6;        // nested tuples and sets
  size_t max_items = 64;    // elements in one tuple, set, list or matrix
};

// Parses the output of NormalizeLatex. Commas split elements unless the whole text is a number
// with thousands separators ("115,000"): a comma separates thousands only when the groups after
// it have exactly three digits and the first group has one to three digits without a leading zero,
// so "0,1" is a list. A top-level "\pm" becomes a list of the "+" and "-" cases.
absl::StatusOr<AnswerTree> ParseAnswerStructure(std::string_view text,
                                                const StructureLimits& limits = {});

// True when `text` is a number with thousands separators, such as "1,234,567.5".
bool IsThousandsNumber(std::string_view text);

// Splits `text` at each top-level occurrence of `separator`, outside (), [], {} and \{ \}.
std::vector<std::string_view> SplitTopLevel(std::string_view text, std::string_view separator);

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_ANSWER_STRUCTURE_H_
