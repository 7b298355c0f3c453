// Exact rational arithmetic for Countdown: the solver, the generator and the checks in tests
// compute with reduced fractions, so 7 / 2 * 2 is exactly 7 and never 6.9999.
#ifndef AHA_DATA_ARITHMETIC_H_
#define AHA_DATA_ARITHMETIC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aha::data {

// A reduced fraction with a positive denominator.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;

  static Rational Integer(int64_t value) { return {value, 1}; }
  bool IsInteger() const { return den == 1; }
  // "7" for integers, "7/2" otherwise.
  std::string ToString() const;
};

bool operator==(const Rational& a, const Rational& b);
bool operator!=(const Rational& a, const Rational& b);
bool operator<(const Rational& a, const Rational& b);

// Applies `op` (one of + - * /) to a and b. Returns nullopt on division by zero or when the
// reduced result does not fit in int64.
std::optional<Rational> ApplyOperator(char op, const Rational& a, const Rational& b);

// An arithmetic expression of integers, + - * /, parentheses and spaces, evaluated exactly
// with the usual precedence (left to right within a level, unary minus allowed).
struct EvaluatedExpression {
  Rational value;
  std::vector<int64_t> numbers;  // the integer literals, in the order written
};

// Evaluates `text`. Returns InvalidArgument for any other character, unbalanced parentheses,
// a division by zero or an overflow.
absl::StatusOr<EvaluatedExpression> EvaluateExpression(std::string_view text);

}  // namespace aha::data

#endif  // AHA_DATA_ARITHMETIC_H_
