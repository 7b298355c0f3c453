// Decides whether a model's final answer equals the reference answer of a math problem.
#ifndef AHA_REWARDS_MATH_MATH_EQUAL_H_
#define AHA_REWARDS_MATH_MATH_EQUAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "rewards/math/answer_structure.h"
#include "rewards/math/expression.h"

namespace aha::math {

// The equality policy. The ground truth always comes first; it goes through NormalizeGroundTruth
// (GSM8K "... #### 42" becomes "42", "so we get \boxed{42}." becomes "42"), then both sides go
// through NormalizeLatex (see
// latex_normalize.h for the clean-up and the table of unit words that are dropped).
//
// Both sides are split by ParseAnswerStructure, then compared as wholes:
//  - tuples and intervals: same brackets, same length, equal elements in order;
//  - sets "\{..\}" and bare comma lists ("find all" answers, "1 \pm \sqrt{2}"): same size and a
//    one-to-one matching of equal elements in any order, so a partial list is wrong;
//  - a bare list equals a "( )" tuple with the same elements in order ("0,1" = "(0,1)");
//  - a set of one element equals that element;
//  - unions of intervals: the parts in any order;
//  - matrices: same shape and equal entries; a one-row or one-column matrix also equals a "( )"
//    tuple of its entries.
// Scalars are equal when, in this order:
//  1. the normalized texts are identical (ignoring spaces);
//  2. the reference is a numeral with a base subscript ("2516_8"): the answer has the same digits,
//     with or without the same subscript;
//  3. the reference is plain words ("Evelyn", "even"): the answer is the same words in any case;
//  4. both are equations "A = B": A-B of one is a constant nonzero multiple of A-B of the other at
//     every random point, or both left sides are single variables and the right sides are equal;
//     when only one side is an equation with a single variable or f(x) on the left ("x = 5",
//     "f(x) = x^2"), its right side is compared; a chain "x = 2 + 3 = 5" reads as "x = 5";
//  5. both parse as expressions (see expression.h) and:
//     - without variables, when both are exact rationals: they are equal exactly. The one
//       exception: a side written with a decimal point may approximate a rational whose decimal
//       expansion does not end (2/3 vs 0.6666667), within the relative tolerance. So 2/3 vs 0.67
//       is wrong (relative error 5e-3), 1000000 vs 1000000.5 is wrong, 1/8 vs 0.125 is right;
//     - without variables otherwise (\sqrt, \pi, e, i, functions, or 128-bit overflow): their
//       complex values agree within the relative tolerance, or within the absolute tolerance
//       when the reference value is exactly 0 (so 5e-19 is not 2.88e-19);
//       +\infty equals only +\infty;
//     - with variables: the values agree, as above, at `random_points` points where every
//       variable takes a value of magnitude in [0.5, 2.5], positive, negative or of mixed signs,
//       drawn from a generator seeded by `seed` and the variable's name (deterministic across
//       runs and platforms). A point where either side is undefined, or where one side is real
//       and the other is not (\ln(x^2) vs 2\ln x at x < 0), is skipped; at least 3 points must
//       be compared.
//       NOTE: a value that is real only through complex intermediates counts as real, so
//       \sqrt{x}\sqrt{y} (= -\sqrt{xy} when both are negative) does not equal \sqrt{xy}.
// When only one side has a percent sign and both are scalars that differ, that side is compared
// once more as a fraction of 100, so "10\%" equals both 10 and 0.1.
// Anything else is wrong: an empty answer, an answer that fails to parse (no number is pulled out
// of it), text past ParseLimits, exponents that overflow to infinity (10^{10^{10}}), and nesting
// past the limits. Every step is bounded, so a hostile answer returns quickly.
struct EqualOptions {
  double relative_tolerance = 1e-6;
  double absolute_tolerance = 1e-12;  // used only when the reference value is exactly 0
  int random_points = 12;
  uint64_t seed = 0x5eed5eedULL;
  // Step 1 of the scalar policy. Turning it off makes every scalar go through parsing, which the
  // tests use to measure how many reference answers the parser reads.
  bool match_identical_text = true;
  // An extracted answer longer than this many characters is compared with the ground truth as
  // exact text only, never normalized or parsed: a real final answer is short, and the clean-up
  // of a megabyte of "\text{cm}" or ",\!" would cost time on every rollout.
  size_t max_answer_length = 1000;
  ParseLimits parse_limits;
  StructureLimits structure_limits;
};

// MathEqual's verdict with a short reason for logs ("exact values differ", "answer: unexpected
// 'x'").
struct EqualResult {
  bool equal = false;
  std::string reason;
};

// Compares under the policy above. Ground truth first.
EqualResult CompareAnswers(std::string_view ground_truth, std::string_view answer,
                           const EqualOptions& options = {});

// Returns true when `answer` equals `ground_truth` under the policy above.
bool MathEqual(std::string_view ground_truth, std::string_view answer,
               const EqualOptions& options = {});

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_MATH_EQUAL_H_
