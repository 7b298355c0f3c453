// Tests for ExtractFinalAnswer, ExtractLastBoxed and NormalizeGroundTruth.
#include "rewards/math/answer_extraction.h"

#include <string>

#include <gtest/gtest.h>

#include "rewards/math/math_equal.h"

namespace aha::math {
namespace {

TEST(AnswerExtractionTest, TwoBoxesGiveTheLastNotJoined) {
  std::string completion = R"(First \boxed{840}. Checking again: \boxed{840}.)";
  std::optional<std::string> answer = ExtractFinalAnswer(completion);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(*answer, "840");
  EXPECT_TRUE(MathEqual("840", *answer));
}

TEST(AnswerExtractionTest, LastOfDifferentBoxes) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{1} then \boxed{2})"), "2");
}

TEST(AnswerExtractionTest, BoxedFractionKeepsBraces) {
  EXPECT_EQ(ExtractFinalAnswer(R"(So $\boxed{\frac{1}{2}}$.)"), R"(\frac{1}{2})");
}

TEST(AnswerExtractionTest, BoxedPowerOfRoot) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{\sqrt{2}^{3}})"), R"(\sqrt{2}^{3})");
}

TEST(AnswerExtractionTest, Fbox) { EXPECT_EQ(ExtractFinalAnswer(R"(\fbox{42})"), "42"); }

TEST(AnswerExtractionTest, FboxAfterBoxedWins) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{1} and finally \fbox{42})"), "42");
}

TEST(AnswerExtractionTest, BoxedWithoutBraces) {
  EXPECT_EQ(ExtractFinalAnswer(R"(The answer is $\boxed 7$.)"), "7");
}

TEST(AnswerExtractionTest, UnbalancedLastBoxGivesNothing) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{5} and then \boxed{\frac{1}{2})"), std::nullopt);
}

TEST(AnswerExtractionTest, EmptyBoxGivesNothing) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{ })"), std::nullopt);
}

TEST(AnswerExtractionTest, BoxedPrefixOfLongerCommandIgnored) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{3} \boxedfoo{4})"), "3");
}

TEST(AnswerExtractionTest, AnswerTagLastOne) {
  EXPECT_EQ(ExtractFinalAnswer("<answer>1</answer> later <answer> 2 </answer>"), "2");
}

TEST(AnswerExtractionTest, AnswerTagBeatsBoxOutside) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{9} <answer>3</answer>)"), "3");
}

TEST(AnswerExtractionTest, BoxInsideAnswerTag) {
  EXPECT_EQ(ExtractFinalAnswer(R"(<answer>The result is \boxed{12}.</answer>)"), "12");
}

TEST(AnswerExtractionTest, EmptyAnswerTagGivesNothing) {
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{9} <answer>  </answer>)"), std::nullopt);
}

TEST(AnswerExtractionTest, AnswerTagDisabledUsesBox) {
  ExtractOptions options;
  options.from_answer_tag = false;
  EXPECT_EQ(ExtractFinalAnswer(R"(<answer>3</answer> \boxed{9})", options), "9");
}

TEST(AnswerExtractionTest, UnclosedAnswerTagFallsBackToBox) {
  EXPECT_EQ(ExtractFinalAnswer(R"(<answer>3 \boxed{9})"), "9");
}

TEST(AnswerExtractionTest, BoxedDisabled) {
  ExtractOptions options;
  options.from_boxed = false;
  EXPECT_EQ(ExtractFinalAnswer(R"(\boxed{9})", options), std::nullopt);
}

TEST(AnswerExtractionTest, Gsm8kMarkerWithLongTail) {
  std::string completion = "Work.\n#### 42 " + std::string(500, 'x');
  EXPECT_EQ(ExtractFinalAnswer(completion), "42");
  completion = "Work.\n#### 42\n" + std::string(500, 'y');
  EXPECT_EQ(ExtractFinalAnswer(completion), "42");
}

TEST(AnswerExtractionTest, Gsm8kMarkerNumberForms) {
  EXPECT_EQ(ExtractFinalAnswer("#### $1,234."), "$1,234");
  EXPECT_EQ(ExtractFinalAnswer("#### -5"), "-5");
  EXPECT_EQ(ExtractFinalAnswer("#### 12.5%"), "12.5%");
  EXPECT_EQ(ExtractFinalAnswer("#### \\frac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(ExtractFinalAnswer("#### 42 dollars."), "42");
}

TEST(AnswerExtractionTest, Gsm8kMarkerReadsWholeExpression) {
  EXPECT_EQ(ExtractFinalAnswer("#### 5/2"), "5/2");
  EXPECT_EQ(ExtractFinalAnswer("#### 1e5"), "1e5");
  EXPECT_EQ(ExtractFinalAnswer("#### 3 \\frac{1}{2}"), "3 \\frac{1}{2}");
  EXPECT_EQ(ExtractFinalAnswer("#### 2^{10}\nmore"), "2^{10}");
  EXPECT_EQ(ExtractFinalAnswer("#### 18 + 1"), "18 + 1");
  EXPECT_EQ(ExtractFinalAnswer("#### 18 or 19"), "18 or 19");
}

// An explanation after the number is not part of the answer.
TEST(AnswerExtractionTest, Gsm8kMarkerDropsExplanations) {
  EXPECT_EQ(ExtractFinalAnswer("#### 18 = 9*2"), "18");
  EXPECT_EQ(ExtractFinalAnswer("#### 18 (eggs)"), "18");
  EXPECT_EQ(ExtractFinalAnswer("#### 18 because 9*2 = 18"), "18");
}

TEST(AnswerExtractionTest, Gsm8kMarkerDisabled) {
  ExtractOptions options;
  options.from_gsm8k_marker = false;
  EXPECT_EQ(ExtractFinalAnswer("#### 42", options), std::nullopt);
}

TEST(AnswerExtractionTest, NoAnswer) {
  EXPECT_EQ(ExtractFinalAnswer("I think it is 42."), std::nullopt);
  EXPECT_EQ(ExtractFinalAnswer(""), std::nullopt);
}

TEST(AnswerExtractionTest, NormalizeGroundTruthGsm8k) {
  EXPECT_EQ(NormalizeGroundTruth("She has 16 - 3 = <<16-3=13>>13.\n#### 13"), "13");
  EXPECT_EQ(NormalizeGroundTruth("#### 1,600"), "1,600");
  EXPECT_EQ(NormalizeGroundTruth(R"(  \frac{1}{2} )"), R"(\frac{1}{2})");
}

TEST(AnswerExtractionTest, NormalizeGroundTruthUnwrapsLastBox) {
  EXPECT_EQ(NormalizeGroundTruth(R"(\boxed{18})"), "18");
  EXPECT_EQ(NormalizeGroundTruth(R"(so we get \boxed{18}.)"), "18");
  EXPECT_EQ(NormalizeGroundTruth(R"(\boxed{1} then \boxed{\frac{1}{2}})"), R"(\frac{1}{2})");
}

}  // namespace
}  // namespace aha::math
