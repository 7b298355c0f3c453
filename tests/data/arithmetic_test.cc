// Tests exact rationals and the expression evaluator.
#include "data/arithmetic.h"

#include <gtest/gtest.h>

namespace aha::data {
namespace {

TEST(ArithmeticTest, OperatorsReduce) {
  EXPECT_EQ(ApplyOperator('/', Rational::Integer(6), Rational::Integer(4)), (Rational{3, 2}));
  EXPECT_EQ(ApplyOperator('-', Rational::Integer(3), Rational::Integer(10)), Rational::Integer(-7));
  EXPECT_EQ(ApplyOperator('*', Rational{3, 2}, Rational::Integer(4)), Rational::Integer(6));
  EXPECT_EQ(ApplyOperator('+', Rational{1, 3}, Rational{1, 6}), (Rational{1, 2}));
  EXPECT_EQ(ApplyOperator('/', Rational::Integer(1), Rational{-1, 2}), Rational::Integer(-2));
}

TEST(ArithmeticTest, DivisionByZeroRejected) {
  EXPECT_FALSE(ApplyOperator('/', Rational::Integer(5), Rational::Integer(0)).has_value());
}

TEST(ArithmeticTest, OverflowRejected) {
  const Rational big = Rational::Integer(INT64_MAX);
  EXPECT_FALSE(ApplyOperator('*', big, Rational::Integer(2)).has_value());
}

TEST(ArithmeticTest, EvaluatesWithPrecedence) {
  absl::StatusOr<EvaluatedExpression> e = EvaluateExpression("(50 - 10) / 4 + 2 * 3");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->value, Rational::Integer(16));
  EXPECT_EQ(e->numbers, (std::vector<int64_t>{50, 10, 4, 2, 3}));
}

TEST(ArithmeticTest, EvaluatesFractionsExactly) {
  absl::StatusOr<EvaluatedExpression> e = EvaluateExpression("7 / 2 * 2");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, Rational::Integer(7));
  e = EvaluateExpression("8 - 3 - 2");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, Rational::Integer(3));  // left to right
  e = EvaluateExpression("-3 + 5");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, Rational::Integer(2));
}

TEST(ArithmeticTest, BadExpressionsRejected) {
  for (const char* bad : {"", "1 +", "(1 + 2", "1 + 2)", "2 ^ 3", "4 / (2 - 2)", "x",
                          "99999999999999999999"}) {
    EXPECT_FALSE(EvaluateExpression(bad).ok()) << bad;
  }
  EXPECT_FALSE(EvaluateExpression(std::string(100000, '(') + "1").ok());
}

TEST(ArithmeticTest, ToString) {
  EXPECT_EQ(Rational::Integer(-4).ToString(), "-4");
  EXPECT_EQ((Rational{7, 2}).ToString(), "7/2");
}

}  // namespace
}  // namespace aha::data
