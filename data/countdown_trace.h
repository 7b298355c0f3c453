// Building blocks of the synthetic Countdown reasoning traces: random attempts that combine
// the numbers left to right, and the one-line text of a chain of steps.
#ifndef AHA_DATA_COUNTDOWN_TRACE_H_
#define AHA_DATA_COUNTDOWN_TRACE_H_

#include <optional>
#include <string>
#include <vector>

#include "data/countdown.h"
#include "data/rng.h"

namespace aha::data {

// A way of combining all the numbers: its steps, its expression and its value.
struct Chain {
  std::vector<CountdownStep> steps;
  std::string expression;
  Rational value;
};

// Combines the numbers in a random order, one at a time, with random operators that keep
// every step a non-negative integer below 10000 (a - b only when a >= b, so b - a is tried
// otherwise; a / b only when b divides a). Returns nullopt when no step is possible.
std::optional<Chain> RandomChain(const std::vector<int64_t>& nums, SplitMix64& rng);

// Returns a random chain whose value differs from `target`, or nullopt after 20 tries.
std::optional<Chain> RandomWrongChain(const std::vector<int64_t>& nums, int64_t target,
                                      SplitMix64& rng);

// The solver's solution as a Chain.
Chain SolutionChain(const CountdownSolution& solution);

// "50 - 10 = 40. 40 + 3 = 43": the steps joined, without a final period.
std::string StepsText(const std::vector<CountdownStep>& steps);

// "a op b = result" for one step.
std::string StepText(const CountdownStep& step);

// "3, 5 and 7".
std::string ListText(const std::vector<int64_t>& nums);

}  // namespace aha::data

#endif  // AHA_DATA_COUNTDOWN_TRACE_H_
