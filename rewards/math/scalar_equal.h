// Equality of two scalar answers (numbers, expressions, equations, words), steps 1-5 of the
// policy in math_equal.h.
#ifndef AHA_REWARDS_MATH_SCALAR_EQUAL_H_
#define AHA_REWARDS_MATH_SCALAR_EQUAL_H_

#include <string_view>

#include "rewards/math/math_equal.h"

namespace aha::math {

// Both texts are normalized. Ground truth first.
EqualResult ScalarEqual(std::string_view ground_truth, std::string_view answer,
                        const EqualOptions& options);

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_SCALAR_EQUAL_H_
