// Scalar comparison: exact rationals first, then tolerance on complex values at random points.
#include "rewards/math/scalar_equal.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "rewards/math/answer_structure.h"
#include "rewards/math/expression.h"
#include "rewards/math/text_util.h"

namespace aha::math {
namespace {

using Complex = std::complex<double>;

// Points where fewer than this many sides are defined cannot confirm an identity.
constexpr int kMinDefinedPoints = 3;

std::string RemoveSpaces(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

bool IsFinite(Complex z) { return std::isfinite(z.real()) && std::isfinite(z.imag()); }

// `reference` is the ground truth's value. The absolute tolerance applies only when it is 0:
// physics answers such as 2.88e-19 are far below any absolute tolerance, which would make
// them equal every other small number. A reference computed in floating point
// (`reference_exact` false: \sin(\pi), \cos(\frac{\pi}{2})) counts as 0 when it is within the
// absolute tolerance of 0, since its rounding error is that large.
bool NumbersClose(Complex reference, Complex b, const EqualOptions& options,
                  bool reference_exact) {
  if (!IsFinite(reference) || !IsFinite(b)) {
    return std::isinf(reference.real()) && reference.real() == b.real() &&
           reference.imag() == 0 && b.imag() == 0;
  }
  double diff = std::abs(reference - b);
  if (reference == Complex(0) ||
      (!reference_exact && std::abs(reference) <= options.absolute_tolerance)) {
    return diff <= options.absolute_tolerance;
  }
  return diff <= options.relative_tolerance * std::max(std::abs(reference), std::abs(b));
}

// SplitMix64, so that points do not depend on the standard library's generators.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Variables take magnitudes in [0.5, 2.5]. Points cycle through three sign patterns: all
// positive, all negative, and a sign per variable drawn from the hash, so that x and |x|, or
// \sqrt{x^2} and x, differ at some point.
double PointValue(uint64_t seed, int point, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the name
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  uint64_t bits = Mix(seed ^ Mix(h + static_cast<uint64_t>(point)));
  double magnitude = 0.5 + 2.0 * static_cast<double>(bits >> 11) / static_cast<double>(1ULL << 53);
  bool negative = point % 3 == 1 || (point % 3 == 2 && (bits & 1) != 0);
  return negative ? -magnitude : magnitude;
}

bool IsNonReal(Complex z) { return std::abs(z.imag()) > 1e-9 * std::max(1.0, std::abs(z)); }

// A point is skipped when either side is undefined there, or when one side is real and the other
// is not: a real answer compared on its real domain. So \ln(x^2) equals 2\ln x (equal for x > 0,
// where both are real) and \sqrt{x} equals x^{1/2} (equal everywhere, complex for x < 0), while
// x + i never equals x (no point where both are real or both are not).
bool SkipPoint(Complex a, Complex b) {
  return !IsFinite(a) || !IsFinite(b) || IsNonReal(a) != IsNonReal(b);
}

// Returns the variable lookup for one random point.
auto PointLookup(uint64_t seed, int point) {
  return [seed, point](const std::string& name) { return Complex(PointValue(seed, point, name)); };
}

// Variable-free comparison: exact when both sides are rationals, else within tolerance.
EqualResult CompareConstants(const Expression& truth, const Expression& answer,
                             const EqualOptions& options) {
  std::optional<Rational> exact_truth = truth.EvaluateExact();
  std::optional<Rational> exact_answer = exact_truth ? answer.EvaluateExact() : std::nullopt;
  if (exact_truth && exact_answer) {
    if (*exact_truth == *exact_answer) return {true, "exact values equal"};
    bool approximation = (answer.has_decimal() && !exact_truth->HasTerminatingDecimal()) ||
                         (truth.has_decimal() && !exact_answer->HasTerminatingDecimal());
    if (!approximation) {
      return {false, absl::StrCat("exact values differ: ", exact_truth->ToString(), " vs ",
                                  exact_answer->ToString())};
    }
  }
  auto no_variables = [](const std::string&) { return Complex(0); };
  Complex a = truth.Evaluate(no_variables);
  Complex b = answer.Evaluate(no_variables);
  // 10^{10^{10}} overflows to infinity, which must not equal another overflow.
  if ((!IsFinite(a) && !truth.has_infinity()) || (!IsFinite(b) && !answer.has_infinity())) {
    return {false, "value overflows or is undefined"};
  }
  if (NumbersClose(a, b, options, exact_truth.has_value())) {
    return {true, "values within tolerance"};
  }
  return {false, "values differ"};
}

EqualResult CompareAtPoints(const Expression& truth, const Expression& answer,
                            const EqualOptions& options) {
  // A ground truth without variables (2.88e-19 against an answer in J) is exact when rational.
  const bool truth_exact = truth.variables().empty() && truth.EvaluateExact().has_value();
  int defined = 0;
  for (int point = 0; point < options.random_points; ++point) {
    Complex a = truth.Evaluate(PointLookup(options.seed, point));
    Complex b = answer.Evaluate(PointLookup(options.seed, point));
    if (SkipPoint(a, b)) continue;
    if (!NumbersClose(a, b, options, truth_exact)) {
      return {false, absl::StrCat("values differ at random point ", point)};
    }
    ++defined;
  }
  if (defined < kMinDefinedPoints) return {false, "too few points where both are defined"};
  return {true, "values equal at random points"};
}

EqualResult CompareExpressions(const Expression& truth, const Expression& answer,
                               const EqualOptions& options) {
  if (truth.variables().empty() && answer.variables().empty()) {
    return CompareConstants(truth, answer, options);
  }
  return CompareAtPoints(truth, answer, options);
}

// "A = B" is compared through A - B; the two differences must be proportional.
EqualResult CompareEquations(const Expression& truth, const Expression& answer,
                             const EqualOptions& options) {
  std::optional<Complex> ratio;
  int defined = 0;
  for (int point = 0; point < options.random_points; ++point) {
    Complex a = truth.Evaluate(PointLookup(options.seed, point));
    Complex b = answer.Evaluate(PointLookup(options.seed, point));
    if (SkipPoint(a, b)) continue;
    bool a_zero = std::abs(a) <= options.absolute_tolerance;
    bool b_zero = std::abs(b) <= options.absolute_tolerance;
    if (a_zero != b_zero) return {false, "equations differ"};
    if (a_zero) continue;
    Complex r = a / b;
    if (ratio && !NumbersClose(*ratio, r, options, /*reference_exact=*/false)) {
      return {false, "equations differ"};
    }
    ratio = r;
    ++defined;
  }
  if (defined < kMinDefinedPoints) return {false, "too few points to compare equations"};
  return {true, "equations are multiples"};
}

// True for exactly one variable: a letter or a Greek command, with an optional subscript ("x",
// "x_1", "a_{n}", "\alpha"). "2x" or "|x|" is not: dropping it would turn "2x = 3" into "3".
bool IsSingleVariable(std::string_view text) {
  std::string compact = RemoveSpaces(text);
  size_t end = 0;
  if (!compact.empty() && compact[0] == '\\') ++end;
  size_t letters = end;
  while (end < compact.size() && std::isalpha(static_cast<unsigned char>(compact[end]))) ++end;
  if (end == letters || (letters == 0 && end != 1)) return false;
  if (end < compact.size()) {
    if (compact[end] != '_' || end + 1 == compact.size()) return false;
    std::string_view sub = std::string_view(compact).substr(end + 1);
    bool braced = sub.size() >= 3 && sub.front() == '{' && sub.back() == '}' &&
                  sub.find_first_of("{}", 1) == sub.size() - 1;
    if (!braced && sub.size() != 1) return false;
  }
  // The parse rejects commands that are not Greek letters and constants such as e, i and \pi.
  absl::StatusOr<Expression> parsed = Expression::Parse(compact);
  return parsed.ok() && parsed->variables().size() == 1;
}

// A single variable or "f(x)".
bool IsSimpleLeftSide(std::string_view lhs) {
  if (IsSingleVariable(lhs)) return true;
  size_t paren = lhs.find('(');
  if (paren == std::string_view::npos || lhs.back() != ')' || paren == 0) return false;
  for (size_t i = 0; i < paren; ++i) {
    if (!std::isalpha(static_cast<unsigned char>(lhs[i]))) return false;
  }
  return paren <= 2;
}

// True for a side without variables, such as the "18 + 522" of "18 + 522 = 540": worked
// arithmetic whose result is the right side.
bool IsConstantSide(std::string_view side, const EqualOptions& options) {
  absl::StatusOr<Expression> parsed = Expression::Parse(side, options.parse_limits);
  return parsed.ok() && parsed->variables().empty();
}

struct Equation {
  std::string_view lhs;
  std::string_view rhs;
};

// A chain "x = 2 + 3 = 5" is read as its first and last sides, "x = 5".
std::optional<Equation> SplitEquation(std::string_view text) {
  std::vector<std::string_view> sides = SplitTopLevel(text, "=");
  if (sides.size() < 2) return std::nullopt;
  Equation equation{Trim(sides.front()), Trim(sides.back())};
  if (equation.lhs.empty() || equation.rhs.empty()) return std::nullopt;
  return equation;
}

// Numerals in a base: "2516_8", "4210_{5}". Returns the digits and the base text.
std::optional<std::pair<std::string, std::string>> SplitBaseNumeral(std::string_view text) {
  std::string compact = RemoveSpaces(text);
  size_t underscore = compact.find('_');
  if (underscore == std::string::npos || underscore == 0) return std::nullopt;
  std::string digits = compact.substr(0, underscore);
  std::string base = compact.substr(underscore + 1);
  if (base.size() >= 2 && base.front() == '{' && base.back() == '}') {
    base = base.substr(1, base.size() - 2);
  }
  if (base.empty()) return std::nullopt;
  for (char c : digits) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
  }
  for (char c : base) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  if (!std::isdigit(static_cast<unsigned char>(digits[0]))) return std::nullopt;
  return std::make_pair(absl::AsciiStrToUpper(digits), base);
}

bool IsWords(std::string_view text) {
  int letters = 0;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      ++letters;
    } else if (c != ' ') {
      return false;
    }
  }
  return letters >= 2;
}

EqualResult CompareParsed(std::string_view truth_text, std::string_view answer_text,
                          const EqualOptions& options) {
  absl::StatusOr<Expression> truth = Expression::Parse(truth_text, options.parse_limits);
  if (!truth.ok()) return {false, absl::StrCat("ground truth: ", truth.status().message())};
  absl::StatusOr<Expression> answer = Expression::Parse(answer_text, options.parse_limits);
  if (!answer.ok()) return {false, absl::StrCat("answer: ", answer.status().message())};
  return CompareExpressions(*truth, *answer, options);
}

EqualResult CompareEquationPair(const Equation& truth, const Equation& answer,
                                const EqualOptions& options) {
  auto difference = [](const Equation& e) {
    return "(" + std::string(e.lhs) + ")-(" + std::string(e.rhs) + ")";
  };
  std::string truth_difference = difference(truth);
  std::string answer_difference = difference(answer);
  absl::StatusOr<Expression> a = Expression::Parse(truth_difference, options.parse_limits);
  absl::StatusOr<Expression> b = Expression::Parse(answer_difference, options.parse_limits);
  if (a.ok() && b.ok()) {
    EqualResult result = CompareEquations(*a, *b, options);
    if (result.equal) return result;
  }
  if (IsSimpleLeftSide(truth.lhs) && IsSimpleLeftSide(answer.lhs)) {
    return CompareParsed(truth.rhs, answer.rhs, options);
  }
  return {false, "equations differ"};
}

}  // namespace

EqualResult ScalarEqual(std::string_view ground_truth, std::string_view answer,
                        const EqualOptions& options) {
  if (answer.empty()) return {false, "empty answer"};
  if (ground_truth.empty()) return {false, "empty ground truth"};
  if (options.match_identical_text && RemoveSpaces(ground_truth) == RemoveSpaces(answer)) {
    return {true, "same text"};
  }

  if (auto truth_numeral = SplitBaseNumeral(ground_truth)) {
    std::optional<std::pair<std::string, std::string>> answer_numeral = SplitBaseNumeral(answer);
    std::string answer_digits =
        answer_numeral ? answer_numeral->first : absl::AsciiStrToUpper(RemoveSpaces(answer));
    bool same_base = !answer_numeral || answer_numeral->second == truth_numeral->second;
    if (same_base && answer_digits == truth_numeral->first) return {true, "same numeral"};
    return {false, "different numeral"};
  }

  if (IsWords(ground_truth)) {
    if (absl::AsciiStrToLower(RemoveSpaces(ground_truth)) ==
        absl::AsciiStrToLower(RemoveSpaces(answer))) {
      return {true, "same words"};
    }
    return {false, "different words"};
  }

  std::optional<Equation> truth_equation = SplitEquation(ground_truth);
  std::optional<Equation> answer_equation = SplitEquation(answer);
  if (truth_equation && answer_equation) {
    return CompareEquationPair(*truth_equation, *answer_equation, options);
  }
  std::string_view truth_text = ground_truth;
  std::string_view answer_text = answer;
  // Only one side is an equation here, so its left side is dropped when it names the quantity
  // ("x = 5"). An answer's is also dropped when it works the result out ("18 + 522 = 540"). A
  // ground truth such as "\pi = 3" states a relation, so its constant side stays.
  if (truth_equation && IsSimpleLeftSide(truth_equation->lhs)) truth_text = truth_equation->rhs;
  if (answer_equation && (IsSimpleLeftSide(answer_equation->lhs) ||
                          IsConstantSide(answer_equation->lhs, options))) {
    answer_text = answer_equation->rhs;
  }
  return CompareParsed(truth_text, answer_text, options);
}

}  // namespace aha::math
