// Random attempts and step text for the Countdown traces.
#include "data/countdown_trace.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace aha::data {
namespace {

// Keeps attempt numbers short enough for a tiny char model to copy.
constexpr int64_t kMaxStepValue = 10000;

// The operator pairs (first step, second step) in the order SystematicChains tries them.
constexpr std::pair<char, char> kSystematicOperators[] = {
    {'+', '-'}, {'-', '*'}, {'*', '+'}, {'*', '-'}, {'+', '+'}, {'/', '+'},
    {'/', '-'}, {'+', '*'}, {'+', '/'}, {'*', '*'}, {'*', '/'}, {'-', '/'},
    {'-', '+'}, {'-', '-'}, {'/', '*'}, {'/', '/'}};

// One step of a systematic chain: a op b for + and *, the larger value first for - and /,
// nullopt when / does not divide or a product leaves the range a tiny model copies. Sets
// `swapped` when b was written first.
std::optional<CountdownStep> OrderedStep(char op, int64_t a, int64_t b, bool* swapped) {
  *swapped = (op == '-' || op == '/') && a < b;
  if (*swapped) std::swap(a, b);
  if (op == '/' && (b == 0 || a % b != 0)) return std::nullopt;
  if (op == '*' && a * b >= kMaxStepValue) return std::nullopt;
  const Rational left = Rational::Integer(a), right = Rational::Integer(b);
  std::optional<Rational> result = ApplyOperator(op, left, right);
  if (!result || !result->IsInteger()) return std::nullopt;
  return CountdownStep{left, op, right, *result};
}

}  // namespace

std::vector<Chain> SystematicChains(const std::vector<int64_t>& nums) {
  std::vector<Chain> chains;
  if (nums.size() != 3) return chains;
  // (first, second, third) indices into nums, in prompt order.
  constexpr int kPairs[3][3] = {{0, 1, 2}, {0, 2, 1}, {1, 2, 0}};
  std::set<std::string> seen;
  for (const auto& [op1, op2] : kSystematicOperators) {
    for (const auto& pair : kPairs) {
      bool swapped_first = false, acc_right = false;
      std::optional<CountdownStep> first =
          OrderedStep(op1, nums[pair[0]], nums[pair[1]], &swapped_first);
      if (!first) continue;
      const int64_t third = nums[pair[2]];
      std::optional<CountdownStep> second = OrderedStep(op2, first->result.num, third, &acc_right);
      if (!second) continue;
      Chain chain;
      chain.steps = {*first, *second};
      const std::string inner = absl::StrCat(first->left.ToString(), " ", std::string(1, op1),
                                             " ", first->right.ToString());
      chain.expression = acc_right
                             ? absl::StrCat(third, " ", std::string(1, op2), " (", inner, ")")
                             : absl::StrCat("(", inner, ") ", std::string(1, op2), " ", third);
      chain.value = second->result;
      // 9 + 1 and 1 + 9 are the same try: the key sorts the operands of + and *.
      std::string key;
      for (const CountdownStep& step : chain.steps) {
        const bool commutes = step.op == '+' || step.op == '*';
        const bool sorted = !commutes || !(step.right < step.left);
        absl::StrAppend(&key, (sorted ? step.left : step.right).ToString(), std::string(1, step.op),
                        (sorted ? step.right : step.left).ToString(), ";");
      }
      if (!seen.insert(key).second) continue;
      chains.push_back(std::move(chain));
    }
  }
  return chains;
}

std::optional<Chain> RandomChain(const std::vector<int64_t>& nums, SplitMix64& rng) {
  if (nums.empty()) return std::nullopt;
  std::vector<int64_t> order = nums;
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
    std::swap(order[i], order[rng.UniformInt(0, i)]);
  }
  Chain chain;
  int64_t value = order[0];
  chain.expression = absl::StrCat(value);
  for (size_t i = 1; i < order.size(); ++i) {
    const int64_t x = order[i];
    // (op, acc on the left): the candidate steps that keep values small and integral.
    std::vector<std::pair<char, bool>> options = {{'+', true}};
    options.push_back({'-', value >= x});
    if (value * x < kMaxStepValue) options.push_back({'*', true});
    if (x != 0 && value % x == 0) options.push_back({'/', true});
    if (value != 0 && x % value == 0) options.push_back({'/', false});
    auto [op, acc_left] = options[rng.UniformInt(0, static_cast<int64_t>(options.size()) - 1)];
    const Rational acc = Rational::Integer(value), next = Rational::Integer(x);
    const Rational left = acc_left ? acc : next, right = acc_left ? next : acc;
    std::optional<Rational> result = ApplyOperator(op, left, right);
    if (!result || !result->IsInteger()) return std::nullopt;
    const std::string acc_text = i == 1 ? chain.expression : absl::StrCat("(", chain.expression, ")");
    const std::string op_text = absl::StrCat(" ", std::string(1, op), " ");
    chain.expression = acc_left ? absl::StrCat(acc_text, op_text, x)
                                : absl::StrCat(x, op_text, acc_text);
    chain.steps.push_back({left, op, right, *result});
    value = result->num;
  }
  chain.value = Rational::Integer(value);
  return chain;
}

std::optional<Chain> RandomWrongChain(const std::vector<int64_t>& nums, int64_t target,
                                      SplitMix64& rng) {
  for (int tries = 0; tries < 20; ++tries) {
    std::optional<Chain> chain = RandomChain(nums, rng);
    if (chain && chain->value != Rational::Integer(target)) return chain;
  }
  return std::nullopt;
}

Chain SolutionChain(const CountdownSolution& solution) {
  Chain chain;
  chain.steps = solution.steps;
  chain.expression = solution.expression;
  chain.value = solution.steps.empty() ? Rational{} : solution.steps.back().result;
  return chain;
}

std::string StepText(const CountdownStep& step) {
  return absl::StrCat(step.left.ToString(), " ", std::string(1, step.op), " ",
                      step.right.ToString(), " = ", step.result.ToString());
}

std::string StepsText(const std::vector<CountdownStep>& steps) {
  std::vector<std::string> parts;
  for (const CountdownStep& step : steps) parts.push_back(StepText(step));
  return absl::StrJoin(parts, ". ");
}

std::string ListText(const std::vector<int64_t>& nums) {
  if (nums.size() < 2) return absl::StrJoin(nums, "");
  std::vector<int64_t> head(nums.begin(), nums.end() - 1);
  return absl::StrCat(absl::StrJoin(head, ", "), " and ", nums.back());
}

}  // namespace aha::data
