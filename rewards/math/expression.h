// A parsed scalar math expression (LaTeX or plain text) with exact and numeric evaluation.
#ifndef AHA_REWARDS_MATH_EXPRESSION_H_
#define AHA_REWARDS_MATH_EXPRESSION_H_

#include <complex>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rewards/math/rational.h"

namespace aha::math {

// Bounds that keep parsing and evaluation fast on hostile input. Past any of them the parse fails,
// which MathEqual scores as wrong.
struct ParseLimits {
  size_t max_length = 4000;  // characters of normalized text
  int max_depth = 64;        // nested groups, fractions, roots and function calls
  size_t max_nodes = 2000;   // syntax-tree nodes
};

// What the parser reads, after NormalizeLatex:
//  - numbers: "12", "0.5", ".5", "1.5e-3" (an "e" is an exponent only when digits follow it);
//  - + - * / ^ ! and \cdot, \times, \div; implicit products "2x", "3\sqrt{2}", "(a+5)(b+2)",
//    except before a digit ("2 3" is rejected);
//  - groups ( ), [ ], { }, |x|; \frac{a}{b} and the one-character forms \frac12, \frac 34,
//    \frac9{19}; \sqrt{x}, \sqrt2, \sqrt[n]{x};
//  - a mixed number: an integer followed by \frac of two integers, "1\frac{4}{5}" = 9/5;
//  - constants \pi (also "pi"), e (Euler's number), i (the imaginary unit), \infty;
//  - functions \sin \cos \tan \cot \sec \csc \arcsin \arccos \arctan \sinh \cosh \tanh \exp \ln
//    \log (natural) and \log_b, also without the backslash; "\sin^2 x" squares the value, and
//    "\sin^{-1} x", "\cos^{-1}", "\tan^{-1}" are arcsin, arccos, arctan;
//  - variables: any other single letter, Greek letters (\alpha, \theta, ...), with an optional
//    subscript ("a_1", "x_{n}").
// A run of letters that is not a known name reads as a product of one-letter variables.
// NOTE: nested absolute values ("||x|-1|") are not parsed.
class Expression {
 public:
  static absl::StatusOr<Expression> Parse(std::string_view text, const ParseLimits& limits = {});

  // The exact value when the expression has no variables, no irrational constant or function,
  // and no 128-bit overflow on the way; nullopt otherwise.
  std::optional<Rational> EvaluateExact() const;

  // The value in complex floating point, with each variable set by `variable_value`, which maps a
  // variable name to its value. Returns a non-finite value when the result overflows.
  template <typename Lookup>
  std::complex<double> Evaluate(const Lookup& variable_value) const {
    std::vector<std::complex<double>> values(variables_.size());
    for (size_t k = 0; k < variables_.size(); ++k) values[k] = variable_value(variables_[k]);
    return EvaluateNode(root_, values);
  }

  // Sorted variable names.
  const std::vector<std::string>& variables() const { return variables_; }
  // True when a number was written with a decimal point and digits after it.
  bool has_decimal() const { return has_decimal_; }
  // True when \infty appears; any other infinite value is an overflow.
  bool has_infinity() const { return has_infinity_; }

  enum class Op {
    kNumber, kVariable, kPi, kEuler, kImaginary, kInfinity, kAdd, kSub, kMul, kDiv, kPow,
    kNeg, kRoot, kFactorial, kAbs, kFunction, kLog,
  };
  struct Node {
    Op op;
    int left = -1;   // first operand (the radicand for kRoot, the argument for kFunction)
    int right = -1;  // second operand (the index for kRoot, the base for kLog)
    std::optional<Rational> literal;  // kNumber
    double number = 0;                // kNumber
    int variable = -1;                // kVariable: index into variables_
    std::string name;                 // kFunction: "sin", "cos", ...
    bool integer_fraction = false;    // kDiv written as \frac of two integer literals
  };

 private:
  friend class ExpressionParser;

  std::optional<Rational> EvaluateNodeExact(int node) const;
  std::complex<double> EvaluateNode(int node,
                                    const std::vector<std::complex<double>>& values) const;

  std::vector<Node> nodes_;
  int root_ = -1;
  std::vector<std::string> variables_;
  bool has_decimal_ = false;
  bool has_infinity_ = false;
};

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_EXPRESSION_H_
