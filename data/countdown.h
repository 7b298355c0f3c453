// The Countdown task (as in TinyZero): reach a target from 3 or 4 numbers with + - * /, each
// number used exactly once. A seeded generator with disjoint train/test splits, and a solver.
//
// Arithmetic is exact. Intermediate results may be negative, and by default may be fractions
// (7 / 2 * 4 = 14 counts), because TinyZero's reward evaluates answers with Python's true
// division; `integer_intermediates` restricts every step to integers. Division by zero is never
// a step. Targets are integers.
#ifndef AHA_DATA_COUNTDOWN_H_
#define AHA_DATA_COUNTDOWN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/arithmetic.h"
#include "data/example.h"

namespace aha::data {

struct CountdownOptions {
  int min_count = 3;  // numbers per problem, at least 2
  int max_count = 4;  // at most 5: the number of expressions grows like 6^(n-1) * n!^2
  int min_number = 1;
  int max_number = 100;
  int min_target = 1;
  int max_target = 100;
  bool integer_intermediates = false;
  uint64_t seed = 42;
  int64_t train_size = 10000;
  int64_t test_size = 1000;
};

// Checks ranges and sizes; the message names the offending option.
absl::Status ValidateCountdownOptions(const CountdownOptions& options);

struct CountdownProblem {
  std::vector<int64_t> nums;  // in the order shown to the model
  int64_t target = 0;
};

// One step of a solution, `left op right = result`.
struct CountdownStep {
  Rational left;
  char op = '+';
  Rational right;
  Rational result;
};

struct CountdownSolution {
  std::string expression;            // e.g. "(50 - 10) / 4"; uses each number once
  std::vector<CountdownStep> steps;  // in evaluation order; the last result is the target
};

// Returns one solution, or nullopt when the target is unreachable. Deterministic: the same
// numbers in the same order give the same expression.
std::optional<CountdownSolution> SolveCountdown(const std::vector<int64_t>& nums, int64_t target,
                                                bool integer_intermediates = false);

// Returns the integers in [min_target, max_target] reachable from `nums`, ascending.
std::vector<int64_t> ReachableTargets(const std::vector<int64_t>& nums, int64_t min_target,
                                      int64_t max_target, bool integer_intermediates = false);

// Stream numbers mixed into the seed (DeriveSeed) for each use of the generator.
constexpr uint64_t kCountdownTestStream = 1;
constexpr uint64_t kCountdownTrainStream = 2;
constexpr uint64_t kCountdownCorpusStream = 3;

struct CountdownSplits {
  std::vector<Example> train;
  std::vector<Example> test;
};

// Generates `train_size` and `test_size` problems. Each split has no repeated problem and the
// splits share none, where a problem is its sorted numbers plus its target. The test split
// depends only on the seed, test_size and the ranges, so growing the training set keeps the
// test set. Fails when the ranges hold too few distinct problems for the sizes.
absl::StatusOr<CountdownSplits> GenerateCountdown(const CountdownOptions& options);

// Generates `count` problems from the stream `seed`, skipping any whose key (see
// CountdownProblemKey) is in `excluded`. With `distinct` no problem repeats.
absl::StatusOr<std::vector<CountdownProblem>> GenerateCountdownProblems(
    const CountdownOptions& options, uint64_t seed, int64_t count,
    const std::vector<std::string>& excluded = {}, bool distinct = true);

// "3,5,7:22": the sorted numbers and the target, which identify a problem for split checks.
std::string CountdownProblemKey(const CountdownProblem& problem);

// "[3, 5, 7]", the way TinyZero's prompt prints a Python list.
std::string FormatNumberList(const std::vector<int64_t>& nums);

// "Using the numbers [3, 5, 7], create an equation that equals 22. ..." without a final period,
// so "User: {prompt}. Assistant:" reads right.
std::string CountdownQuestion(const CountdownProblem& problem);

// Builds the Example: fields {"nums": [...], "target": N}, ground truth the target as text.
Example MakeCountdownExample(int64_t id, const CountdownProblem& problem);

// Reads the problem back from an Example's fields; an error names the missing or bad key.
absl::StatusOr<CountdownProblem> CountdownProblemFromFields(const nlohmann::json& fields);

}  // namespace aha::data

#endif  // AHA_DATA_COUNTDOWN_H_
