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

// Every distinct way of combining three numbers with two steps, in a fixed order that a small
// model can follow. The outer loop runs over the operator pairs of kSystematicOperators, the
// inner one over the pairs of numbers in prompt order: (n0, n1) then n2, (n0, n2) then n1,
// (n1, n2) then n0. A step writes the larger value first for - and /, and / appears only where
// it divides. A chain that repeats an earlier one up to the order of a sum or product is left
// out. The operator pairs come roughly in order of how many demo problems each solves beyond
// the pairs before it. Measured with `aha data corpus` on 15000 entries of the demo ranges with
// max_length 600: careful traces in this order reached the target in 0.677 of the entries
// (mean 349 characters), in random order 0.526 (382).
// Returns an empty list unless there are exactly 3 numbers.
std::vector<Chain> SystematicChains(const std::vector<int64_t>& nums);

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
