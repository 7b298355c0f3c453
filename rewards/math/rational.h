// Exact rational numbers on 128-bit integers, used to compare math answers without rounding.
#ifndef AHA_REWARDS_MATH_RATIONAL_H_
#define AHA_REWARDS_MATH_RATIONAL_H_

#include <optional>
#include <string>
#include <string_view>

namespace aha::math {

// A reduced fraction num/den with den > 0. Every operation that could overflow 128 bits returns
// nullopt instead of wrapping, so callers fall back to floating point ("not exact").
class Rational {
 public:
  Rational() = default;
  explicit Rational(__int128 value) : num_(value) {}

  // Returns nullopt when den == 0 or when reducing overflows.
  static std::optional<Rational> Make(__int128 num, __int128 den);

  // Parses "123", "0.35625", ".5", "1e-3", "2.5E4". Returns nullopt when the text is not a plain
  // decimal literal or needs more than 128 bits (more than about 36 significant digits).
  static std::optional<Rational> FromDecimal(std::string_view text);

  __int128 num() const { return num_; }
  __int128 den() const { return den_; }
  bool IsInteger() const { return den_ == 1; }
  bool IsZero() const { return num_ == 0; }
  // True when the decimal expansion ends, that is when den has no prime factor besides 2 and 5.
  bool HasTerminatingDecimal() const;
  double ToDouble() const;
  std::string ToString() const;

  friend bool operator==(const Rational& a, const Rational& b) {
    return a.num_ == b.num_ && a.den_ == b.den_;
  }
  friend bool operator!=(const Rational& a, const Rational& b) { return !(a == b); }

 private:
  __int128 num_ = 0;
  __int128 den_ = 1;
};

std::optional<Rational> Add(const Rational& a, const Rational& b);
std::optional<Rational> Sub(const Rational& a, const Rational& b);
std::optional<Rational> Mul(const Rational& a, const Rational& b);
// Returns nullopt when b is zero.
std::optional<Rational> Div(const Rational& a, const Rational& b);
std::optional<Rational> Neg(const Rational& a);
// Integer powers by repeated squaring; nullopt on overflow or 0 to a negative power.
std::optional<Rational> Pow(const Rational& base, __int128 exponent);
// The exact n-th root when num and den are perfect n-th powers (odd n allows negatives).
std::optional<Rational> Root(const Rational& value, __int128 n);

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_RATIONAL_H_
