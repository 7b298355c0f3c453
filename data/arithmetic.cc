// Rationals and a recursive-descent evaluator for Countdown expressions.
#include "data/arithmetic.h"

#include <cctype>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace aha::data {
namespace {

using Wide = __int128;

Wide Gcd(Wide a, Wide b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    Wide t = a % b;
    a = b;
    b = t;
  }
  return a;
}

bool FitsInt64(Wide v) {
  return v >= std::numeric_limits<int64_t>::min() && v <= std::numeric_limits<int64_t>::max();
}

// Reduces num/den (den != 0) and checks that the result fits in int64.
std::optional<Rational> Reduce(Wide num, Wide den) {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Wide g = Gcd(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  if (!FitsInt64(num) || !FitsInt64(den)) return std::nullopt;
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

// Recursive descent over: expr := term (('+'|'-') term)*, term := factor (('*'|'/') factor)*,
// factor := '-' factor | '(' expr ')' | integer.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<EvaluatedExpression> Parse() {
    EvaluatedExpression result;
    absl::StatusOr<Rational> value = Expr(result.numbers, 0);
    if (!value.ok()) return value.status();
    SkipSpaces();
    if (pos_ != text_.size()) return Error("unexpected character");
    result.value = *value;
    return result;
  }

 private:
  // Nesting deeper than this is rejected, so hostile input cannot exhaust the stack.
  static constexpr int kMaxDepth = 200;

  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("invalid expression '", std::string(text_), "': ", std::string(what),
                                                   " at offset ", pos_));
  }

  void SkipSpaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  absl::StatusOr<Rational> Combine(char op, const Rational& a, const Rational& b) {
    if (op == '/' && b.num == 0) return Error("division by zero");
    std::optional<Rational> r = ApplyOperator(op, a, b);
    if (!r) return Error("value out of range");
    return *r;
  }

  absl::StatusOr<Rational> Expr(std::vector<int64_t>& numbers, int depth) {
    absl::StatusOr<Rational> left = Term(numbers, depth);
    if (!left.ok()) return left;
    Rational value = *left;
    for (;;) {
      SkipSpaces();
      if (pos_ >= text_.size() || (text_[pos_] != '+' && text_[pos_] != '-')) return value;
      char op = text_[pos_++];
      absl::StatusOr<Rational> right = Term(numbers, depth);
      if (!right.ok()) return right;
      absl::StatusOr<Rational> combined = Combine(op, value, *right);
      if (!combined.ok()) return combined;
      value = *combined;
    }
  }

  absl::StatusOr<Rational> Term(std::vector<int64_t>& numbers, int depth) {
    absl::StatusOr<Rational> left = Factor(numbers, depth);
    if (!left.ok()) return left;
    Rational value = *left;
    for (;;) {
      SkipSpaces();
      if (pos_ >= text_.size() || (text_[pos_] != '*' && text_[pos_] != '/')) return value;
      char op = text_[pos_++];
      absl::StatusOr<Rational> right = Factor(numbers, depth);
      if (!right.ok()) return right;
      absl::StatusOr<Rational> combined = Combine(op, value, *right);
      if (!combined.ok()) return combined;
      value = *combined;
    }
  }

  absl::StatusOr<Rational> Factor(std::vector<int64_t>& numbers, int depth) {
    if (depth > kMaxDepth) return Error("nesting too deep");
    SkipSpaces();
    if (pos_ >= text_.size()) return Error("missing operand");
    char c = text_[pos_];
    if (c == '-') {
      ++pos_;
      absl::StatusOr<Rational> inner = Factor(numbers, depth + 1);
      if (!inner.ok()) return inner;
      return Combine('-', Rational::Integer(0), *inner);
    }
    if (c == '(') {
      ++pos_;
      absl::StatusOr<Rational> inner = Expr(numbers, depth + 1);
      if (!inner.ok()) return inner;
      SkipSpaces();
      if (pos_ >= text_.size() || text_[pos_] != ')') return Error("missing ')'");
      ++pos_;
      return inner;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) return Error("expected a number");
    Wide value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      value = value * 10 + (text_[pos_++] - '0');
      if (!FitsInt64(value)) return Error("number out of range");
    }
    numbers.push_back(static_cast<int64_t>(value));
    return Rational::Integer(static_cast<int64_t>(value));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string Rational::ToString() const {
  if (den == 1) return absl::StrCat(num);
  return absl::StrCat(num, "/", den);
}

bool operator==(const Rational& a, const Rational& b) { return a.num == b.num && a.den == b.den; }
bool operator!=(const Rational& a, const Rational& b) { return !(a == b); }
bool operator<(const Rational& a, const Rational& b) {
  return static_cast<Wide>(a.num) * b.den < static_cast<Wide>(b.num) * a.den;
}

std::optional<Rational> ApplyOperator(char op, const Rational& a, const Rational& b) {
  const Wide an = a.num, ad = a.den, bn = b.num, bd = b.den;
  switch (op) {
    case '+':
      return Reduce(an * bd + bn * ad, ad * bd);
    case '-':
      return Reduce(an * bd - bn * ad, ad * bd);
    case '*':
      return Reduce(an * bn, ad * bd);
    case '/':
      if (bn == 0) return std::nullopt;
      return Reduce(an * bd, ad * bn);
    default:
      return std::nullopt;
  }
}

absl::StatusOr<EvaluatedExpression> EvaluateExpression(std::string_view text) {
  return Parser(text).Parse();
}

}  // namespace aha::data
