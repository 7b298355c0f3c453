// Overflow-checked rational arithmetic on __int128.
#include "rewards/math/rational.h"

#include <cmath>
#include <cstdlib>

namespace aha::math {
namespace {

__int128 Abs(__int128 v) { return v < 0 ? -v : v; }

__int128 Gcd(__int128 a, __int128 b) {
  a = Abs(a);
  b = Abs(b);
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// The smallest value, -2^127, has no positive counterpart, so it is treated as overflow.
constexpr __int128 kMin = static_cast<__int128>(static_cast<unsigned __int128>(1) << 127);

bool SafeMul(__int128 a, __int128 b, __int128* out) {
  return !__builtin_mul_overflow(a, b, out) && *out != kMin;
}

bool SafeAdd(__int128 a, __int128 b, __int128* out) {
  return !__builtin_add_overflow(a, b, out) && *out != kMin;
}

// Integer n-th root of v >= 0 when it is exact.
std::optional<__int128> ExactIntRoot(__int128 v, __int128 n) {
  if (v < 2) return v;
  double guess = std::pow(static_cast<double>(v), 1.0 / static_cast<double>(n));
  __int128 center = static_cast<__int128>(std::llround(guess));
  for (__int128 r = center - 2; r <= center + 2; ++r) {
    if (r < 0) continue;
    __int128 p = 1;
    bool overflow = false;
    for (__int128 i = 0; i < n && !overflow; ++i) overflow = !SafeMul(p, r, &p);
    if (!overflow && p == v) return r;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Rational> Rational::Make(__int128 num, __int128 den) {
  if (den == 0 || num == kMin || den == kMin) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  __int128 g = Gcd(num, den);
  Rational r;
  r.num_ = g == 0 ? 0 : num / g;
  r.den_ = g == 0 ? 1 : den / g;
  return r;
}

std::optional<Rational> Rational::FromDecimal(std::string_view text) {
  __int128 num = 0;
  __int128 den = 1;
  size_t i = 0;
  bool any_digit = false;
  bool after_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (after_point) return std::nullopt;
      after_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any_digit = true;
    if (!SafeMul(num, 10, &num) || !SafeAdd(num, c - '0', &num)) return std::nullopt;
    if (after_point && !SafeMul(den, 10, &den)) return std::nullopt;
  }
  if (!any_digit) return std::nullopt;
  long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
    if (i == text.size()) return std::nullopt;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      exponent = exponent * 10 + (text[i] - '0');
      // 10^39 no longer fits in 128 bits, so larger exponents cannot be exact.
      if (exponent > 38) return std::nullopt;
    }
    if (negative) exponent = -exponent;
  }
  if (i != text.size()) return std::nullopt;
  for (long k = 0; k < std::labs(exponent); ++k) {
    if (!SafeMul(exponent > 0 ? num : den, 10, exponent > 0 ? &num : &den)) return std::nullopt;
  }
  return Make(num, den);
}

bool Rational::HasTerminatingDecimal() const {
  __int128 d = den_;
  while (d % 2 == 0) d /= 2;
  while (d % 5 == 0) d /= 5;
  return d == 1;
}

double Rational::ToDouble() const {
  return static_cast<double>(static_cast<long double>(num_) / static_cast<long double>(den_));
}

std::string Rational::ToString() const {
  auto int_to_string = [](__int128 v) {
    if (v == 0) return std::string("0");
    bool negative = v < 0;
    std::string digits;
    for (__int128 a = Abs(v); a > 0; a /= 10) digits.insert(digits.begin(), '0' + (a % 10));
    return negative ? "-" + digits : digits;
  };
  return den_ == 1 ? int_to_string(num_) : int_to_string(num_) + "/" + int_to_string(den_);
}

std::optional<Rational> Add(const Rational& a, const Rational& b) {
  __int128 left, right, num, den;
  if (!SafeMul(a.num(), b.den(), &left) || !SafeMul(b.num(), a.den(), &right) ||
      !SafeAdd(left, right, &num) || !SafeMul(a.den(), b.den(), &den)) {
    return std::nullopt;
  }
  return Rational::Make(num, den);
}

std::optional<Rational> Neg(const Rational& a) { return Rational::Make(-a.num(), a.den()); }

std::optional<Rational> Sub(const Rational& a, const Rational& b) {
  std::optional<Rational> negated = Neg(b);
  if (!negated) return std::nullopt;
  return Add(a, *negated);
}

std::optional<Rational> Mul(const Rational& a, const Rational& b) {
  // Cross-reduce first so that products that fit after reduction do not overflow on the way.
  __int128 g1 = Gcd(a.num(), b.den());
  __int128 g2 = Gcd(b.num(), a.den());
  if (g1 == 0) g1 = 1;
  if (g2 == 0) g2 = 1;
  __int128 num, den;
  if (!SafeMul(a.num() / g1, b.num() / g2, &num) || !SafeMul(a.den() / g2, b.den() / g1, &den)) {
    return std::nullopt;
  }
  return Rational::Make(num, den);
}

std::optional<Rational> Div(const Rational& a, const Rational& b) {
  if (b.IsZero()) return std::nullopt;
  std::optional<Rational> inverse = Rational::Make(b.den(), b.num());
  if (!inverse) return std::nullopt;
  return Mul(a, *inverse);
}

std::optional<Rational> Pow(const Rational& base, __int128 exponent) {
  if (exponent < 0) {
    if (base.IsZero()) return std::nullopt;
    std::optional<Rational> inverse = Rational::Make(base.den(), base.num());
    if (!inverse || exponent == kMin) return std::nullopt;
    return Pow(*inverse, -exponent);
  }
  // 0, 1 and -1 stay small under any power; this keeps 1^(10^10) exact and fast.
  if (base.IsZero()) return exponent == 0 ? Rational(1) : Rational(0);
  if (base.IsInteger() && Abs(base.num()) == 1) {
    return Rational(exponent % 2 == 0 ? 1 : base.num());
  }
  // Any other base reaches 2^128 within 128 squarings, so this loop stops early on overflow.
  Rational result(1);
  Rational square = base;
  while (exponent > 0) {
    if (exponent & 1) {
      std::optional<Rational> next = Mul(result, square);
      if (!next) return std::nullopt;
      result = *next;
    }
    exponent >>= 1;
    if (exponent > 0) {
      std::optional<Rational> next = Mul(square, square);
      if (!next) return std::nullopt;
      square = *next;
    }
  }
  return result;
}

std::optional<Rational> Root(const Rational& value, __int128 n) {
  if (n <= 0 || n > 128) return std::nullopt;
  if (n == 1) return value;
  bool negative = value.num() < 0;
  if (negative && n % 2 == 0) return std::nullopt;
  std::optional<__int128> num = ExactIntRoot(Abs(value.num()), n);
  std::optional<__int128> den = ExactIntRoot(value.den(), n);
  if (!num || !den) return std::nullopt;
  return Rational::Make(negative ? -*num : *num, *den);
}

}  // namespace aha::math
