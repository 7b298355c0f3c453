// Countdown: expression enumeration over subsets, the solver and the seeded generator.
#include "data/countdown.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "data/rng.h"

namespace aha::data {
namespace {

// How a value of a subset of the numbers was made: a leaf (op == 0) or `left op right`,
// where left and right are values of two disjoint subsets (bit masks over the numbers).
struct Node {
  char op = 0;
  uint32_t left_mask = 0;
  uint32_t right_mask = 0;
  Rational left;
  Rational right;
};

using ValueMap = std::map<Rational, Node>;

constexpr int kMaxCount = 5;

// Returns, for every non-empty subset mask of `nums`, each value its numbers can make (all
// of them used once) with the first way found. Masks are filled in increasing order, so both
// halves of a split are ready when a mask is built, and std::map keeps the order of "first
// found" the same on every platform.
std::vector<ValueMap> EnumerateValues(const std::vector<int64_t>& nums, bool integer_only) {
  const uint32_t full = (1u << nums.size()) - 1;
  std::vector<ValueMap> table(full + 1);
  for (uint32_t mask = 1; mask <= full; ++mask) {
    ValueMap& values = table[mask];
    if ((mask & (mask - 1)) == 0) {
      int index = __builtin_ctz(mask);
      values.emplace(Rational::Integer(nums[index]), Node{});
      continue;
    }
    auto try_insert = [&](char op, uint32_t lm, const Rational& l, uint32_t rm,
                          const Rational& r) {
      std::optional<Rational> result = ApplyOperator(op, l, r);
      if (!result || (integer_only && !result->IsInteger())) return;
      values.emplace(*result, Node{op, lm, rm, l, r});
    };
    for (uint32_t sub = (mask - 1) & mask; sub > 0; sub = (sub - 1) & mask) {
      const uint32_t other = mask ^ sub;
      if (sub < other) continue;  // visit each unordered split once
      for (const auto& [a, unused_a] : table[sub]) {
        for (const auto& [b, unused_b] : table[other]) {
          try_insert('+', sub, a, other, b);
          try_insert('*', sub, a, other, b);
          try_insert('-', sub, a, other, b);
          try_insert('-', other, b, sub, a);
          try_insert('/', sub, a, other, b);
          try_insert('/', other, b, sub, a);
        }
      }
    }
  }
  return table;
}

bool IsLeaf(const std::vector<ValueMap>& table, uint32_t mask, const Rational& value) {
  return table[mask].at(value).op == 0;
}

// Writes the expression for `value` of `mask`, parenthesizing compound operands, and appends
// its steps in evaluation order.
std::string Render(const std::vector<ValueMap>& table, uint32_t mask, const Rational& value,
                   std::vector<CountdownStep>& steps) {
  const Node& node = table[mask].at(value);
  if (node.op == 0) return value.ToString();
  std::string left = Render(table, node.left_mask, node.left, steps);
  std::string right = Render(table, node.right_mask, node.right, steps);
  if (!IsLeaf(table, node.left_mask, node.left)) left = absl::StrCat("(", left, ")");
  if (!IsLeaf(table, node.right_mask, node.right)) right = absl::StrCat("(", right, ")");
  steps.push_back({node.left, node.op, node.right, value});
  return absl::StrCat(left, " ", std::string(1, node.op), " ", right);
}

bool ValidCount(size_t count) { return count >= 1 && count <= kMaxCount; }

}  // namespace

absl::Status ValidateCountdownOptions(const CountdownOptions& o) {
  if (o.min_count < 2 || o.max_count > kMaxCount || o.min_count > o.max_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "countdown: min_count and max_count must satisfy 2 <= min_count <= max_count <= ",
        kMaxCount, ", got ", o.min_count, " and ", o.max_count));
  }
  if (o.min_number < 1 || o.max_number > 1000000 || o.min_number > o.max_number) {
    return absl::InvalidArgumentError(absl::StrCat(
        "countdown: min_number and max_number must satisfy 1 <= min_number <= max_number <= "
        "1000000, got ",
        o.min_number, " and ", o.max_number));
  }
  if (o.min_target > o.max_target) {
    return absl::InvalidArgumentError(absl::StrCat("countdown: min_target (", o.min_target,
                                                   ") is greater than max_target (",
                                                   o.max_target, ")"));
  }
  if (o.train_size < 0 || o.test_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "countdown: train_size and test_size must not be negative, got ", o.train_size,
        " and ", o.test_size));
  }
  return absl::OkStatus();
}

std::optional<CountdownSolution> SolveCountdown(const std::vector<int64_t>& nums, int64_t target,
                                                bool integer_intermediates) {
  if (!ValidCount(nums.size())) return std::nullopt;
  std::vector<ValueMap> table = EnumerateValues(nums, integer_intermediates);
  const uint32_t full = (1u << nums.size()) - 1;
  const Rational goal = Rational::Integer(target);
  if (table[full].count(goal) == 0) return std::nullopt;
  CountdownSolution solution;
  solution.expression = Render(table, full, goal, solution.steps);
  return solution;
}

std::vector<int64_t> ReachableTargets(const std::vector<int64_t>& nums, int64_t min_target,
                                      int64_t max_target, bool integer_intermediates) {
  std::vector<int64_t> targets;
  if (!ValidCount(nums.size())) return targets;
  std::vector<ValueMap> table = EnumerateValues(nums, integer_intermediates);
  const uint32_t full = (1u << nums.size()) - 1;
  auto it = table[full].lower_bound(Rational::Integer(min_target));
  for (; it != table[full].end(); ++it) {
    const Rational& v = it->first;
    if (Rational::Integer(max_target) < v) break;
    if (v.IsInteger()) targets.push_back(v.num);
  }
  return targets;
}

std::string CountdownProblemKey(const CountdownProblem& problem) {
  std::vector<int64_t> sorted = problem.nums;
  std::sort(sorted.begin(), sorted.end());
  return absl::StrCat(absl::StrJoin(sorted, ","), ":", problem.target);
}

absl::StatusOr<std::vector<CountdownProblem>> GenerateCountdownProblems(
    const CountdownOptions& options, uint64_t seed, int64_t count,
    const std::vector<std::string>& excluded, bool distinct) {
  RETURN_IF_ERROR(ValidateCountdownOptions(options));
  std::unordered_set<std::string> seen(excluded.begin(), excluded.end());
  std::vector<CountdownProblem> problems;
  problems.reserve(count);
  SplitMix64 rng(seed);
  // Each attempt draws fresh numbers; the cap turns exhausted ranges into an error instead
  // of an endless loop.
  const int64_t max_attempts = 50 * count + 1000;
  for (int64_t attempt = 0; attempt < max_attempts && static_cast<int64_t>(problems.size()) < count;
       ++attempt) {
    CountdownProblem problem;
    const int n = static_cast<int>(rng.UniformInt(options.min_count, options.max_count));
    for (int i = 0; i < n; ++i) {
      problem.nums.push_back(rng.UniformInt(options.min_number, options.max_number));
    }
    std::vector<int64_t> targets = ReachableTargets(problem.nums, options.min_target,
                                                    options.max_target,
                                                    options.integer_intermediates);
    if (targets.empty()) continue;
    problem.target = targets[rng.UniformInt(0, static_cast<int64_t>(targets.size()) - 1)];
    const std::string key = CountdownProblemKey(problem);
    if (distinct ? !seen.insert(key).second : seen.count(key) > 0) continue;
    problems.push_back(std::move(problem));
  }
  if (static_cast<int64_t>(problems.size()) < count) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "countdown: found only ", problems.size(), " problems of the ", count,
        " requested after ", max_attempts,
        " draws; widen the number or target range, or lower train_size/test_size"));
  }
  return problems;
}

absl::StatusOr<CountdownSplits> GenerateCountdown(const CountdownOptions& options) {
  RETURN_IF_ERROR(ValidateCountdownOptions(options));
  ASSIGN_OR_RETURN(std::vector<CountdownProblem> test,
                   GenerateCountdownProblems(options, DeriveSeed(options.seed, kCountdownTestStream),
                                             options.test_size));
  std::vector<std::string> test_keys;
  for (const CountdownProblem& p : test) test_keys.push_back(CountdownProblemKey(p));
  ASSIGN_OR_RETURN(std::vector<CountdownProblem> train,
                   GenerateCountdownProblems(options, DeriveSeed(options.seed, kCountdownTrainStream),
                                             options.train_size, test_keys));

  CountdownSplits splits;
  for (size_t i = 0; i < train.size(); ++i) {
    splits.train.push_back(MakeCountdownExample(static_cast<int64_t>(i), train[i]));
  }
  for (size_t i = 0; i < test.size(); ++i) {
    splits.test.push_back(MakeCountdownExample(static_cast<int64_t>(i), test[i]));
  }
  return splits;
}

std::string FormatNumberList(const std::vector<int64_t>& nums) {
  return absl::StrCat("[", absl::StrJoin(nums, ", "), "]");
}

std::string CountdownQuestion(const CountdownProblem& problem) {
  return absl::StrCat("Using the numbers ", FormatNumberList(problem.nums),
                      ", create an equation that equals ", problem.target,
                      ". You can use basic arithmetic operations (+, -, *, /) and each number "
                      "can only be used once");
}

Example MakeCountdownExample(int64_t id, const CountdownProblem& problem) {
  Example example;
  example.id = id;
  example.question = CountdownQuestion(problem);
  example.ground_truth = absl::StrCat(problem.target);
  example.fields = nlohmann::json::object();
  example.fields["nums"] = problem.nums;
  example.fields["target"] = problem.target;
  return example;
}

absl::StatusOr<CountdownProblem> CountdownProblemFromFields(const nlohmann::json& fields) {
  if (!fields.is_object() || !fields.contains("nums") || !fields.contains("target")) {
    return absl::InvalidArgumentError(
        "countdown: the row needs the keys 'nums' (array of integers) and 'target' (integer)");
  }
  const nlohmann::json& nums = fields["nums"];
  const nlohmann::json& target = fields["target"];
  if (!nums.is_array() || nums.empty() || !target.is_number_integer()) {
    return absl::InvalidArgumentError(
        "countdown: 'nums' must be a non-empty array of integers and 'target' an integer");
  }
  CountdownProblem problem;
  for (const nlohmann::json& n : nums) {
    if (!n.is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat("countdown: 'nums' holds a non-integer value ", n.dump()));
    }
    problem.nums.push_back(n.get<int64_t>());
  }
  problem.target = target.get<int64_t>();
  return problem;
}

}  // namespace aha::data
