// The `countdown` reward (TinyZero's rule): an arithmetic expression over the given numbers,
// each used once, that equals the target, checked in exact rational arithmetic.
#ifndef AHA_REWARDS_COUNTDOWN_REWARD_H_
#define AHA_REWARDS_COUNTDOWN_REWARD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rewards/reward.h"

namespace aha {

// An exact fraction num/den in lowest terms, den > 0.
struct Fraction {
  int64_t num = 0;
  int64_t den = 1;
};

// The outcome of parsing an expression of non-negative integers, + - * / and parentheses.
struct ParsedExpression {
  std::vector<int64_t> numbers;  // the integer literals, in order of appearance
  // The exact value; std::nullopt after a division by zero or a 64-bit overflow.
  std::optional<Fraction> value;
};

// Parses and evaluates `text`. Returns std::nullopt for anything outside the grammar
// (unary minus, decimals, other characters, unbalanced parentheses, an empty string).
std::optional<ParsedExpression> ParseArithmetic(std::string_view text);

enum class CountdownVerdict {
  kNoAnswer,    // no <answer> block, or its text is not an expression
  kWrong,       // an expression, but not over the given numbers or not equal to the target
  kCorrect,
};

// Judges the last <answer> block of `completion`. An answer may end in `= N`, which is
// accepted when N is the target and the left side is correct.
CountdownVerdict JudgeCountdown(std::string_view completion, const std::vector<int64_t>& nums,
                                int64_t target);

// Keys: `wrong_answer_score` (default 0.1). Reads the row fields `nums` (array of integers)
// and `target` (integer); a row without them is an error.
absl::StatusOr<std::unique_ptr<Reward>> MakeCountdownReward(RewardOptions& options);

}  // namespace aha

#endif  // AHA_REWARDS_COUNTDOWN_REWARD_H_
