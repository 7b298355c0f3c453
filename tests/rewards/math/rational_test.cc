// Tests for the overflow-checked Rational arithmetic.
#include "rewards/math/rational.h"

#include <gtest/gtest.h>

namespace aha::math {
namespace {

TEST(RationalTest, MakeReduces) {
  std::optional<Rational> r = Rational::Make(6, -4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ToString(), "-3/2");
  EXPECT_EQ(Rational::Make(1, 0), std::nullopt);
}

TEST(RationalTest, FromDecimal) {
  EXPECT_EQ(Rational::FromDecimal("0.35625")->ToString(), "57/160");
  EXPECT_EQ(Rational::FromDecimal(".5")->ToString(), "1/2");
  EXPECT_EQ(Rational::FromDecimal("016")->ToString(), "16");
  EXPECT_EQ(Rational::FromDecimal("1.5e3")->ToString(), "1500");
  EXPECT_EQ(Rational::FromDecimal("2E-2")->ToString(), "1/50");
  EXPECT_EQ(Rational::FromDecimal("1e99"), std::nullopt);
  EXPECT_EQ(Rational::FromDecimal("1.2.3"), std::nullopt);
  EXPECT_EQ(Rational::FromDecimal("abc"), std::nullopt);
}

TEST(RationalTest, TooManyDigitsIsNotExact) {
  EXPECT_EQ(Rational::FromDecimal(std::string(60, '9')), std::nullopt);
}

TEST(RationalTest, Arithmetic) {
  Rational half = *Rational::Make(1, 2);
  Rational third = *Rational::Make(1, 3);
  EXPECT_EQ(Add(half, third)->ToString(), "5/6");
  EXPECT_EQ(Sub(half, third)->ToString(), "1/6");
  EXPECT_EQ(Mul(half, third)->ToString(), "1/6");
  EXPECT_EQ(Div(half, third)->ToString(), "3/2");
  EXPECT_EQ(Div(half, Rational(0)), std::nullopt);
}

TEST(RationalTest, PowOverflowIsNullNotWrapped) {
  EXPECT_EQ(Pow(Rational(2), 100)->ToString(), "1267650600228229401496703205376");
  EXPECT_EQ(Pow(Rational(2), 127), std::nullopt);
  EXPECT_EQ(Pow(Rational(10), 10000000000LL), std::nullopt);
  EXPECT_EQ(Pow(Rational(-1), 10000000001LL)->ToString(), "-1");
  EXPECT_EQ(Pow(Rational(2), -3)->ToString(), "1/8");
  EXPECT_EQ(Pow(Rational(0), -1), std::nullopt);
}

TEST(RationalTest, MulOverflowIsNull) {
  Rational big = *Pow(Rational(10), 30);
  EXPECT_EQ(Mul(big, big), std::nullopt);
  EXPECT_EQ(Add(*Pow(Rational(2), 126), *Pow(Rational(2), 126)), std::nullopt);
}

TEST(RationalTest, Roots) {
  EXPECT_EQ(Root(*Rational::Make(4, 9), 2)->ToString(), "2/3");
  EXPECT_EQ(Root(Rational(-8), 3)->ToString(), "-2");
  EXPECT_EQ(Root(Rational(2), 2), std::nullopt);
  EXPECT_EQ(Root(Rational(-4), 2), std::nullopt);
}

TEST(RationalTest, TerminatingDecimal) {
  EXPECT_TRUE(Rational::Make(1, 8)->HasTerminatingDecimal());
  EXPECT_TRUE(Rational::Make(7, 20)->HasTerminatingDecimal());
  EXPECT_FALSE(Rational::Make(2, 3)->HasTerminatingDecimal());
}

}  // namespace
}  // namespace aha::math
