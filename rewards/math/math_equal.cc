// Structural comparison of answers; scalars are delegated to scalar_equal.cc.
#include "rewards/math/math_equal.h"

#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rewards/math/answer_extraction.h"
#include "rewards/math/latex_normalize.h"
#include "rewards/math/scalar_equal.h"
#include "rewards/math/text_util.h"

namespace aha::math {
namespace {

using Kind = AnswerTree::Kind;

EqualResult CompareTrees(const AnswerTree& truth, const AnswerTree& answer,
                         const EqualOptions& options);

EqualResult CompareInOrder(const std::vector<AnswerTree>& truth,
                           const std::vector<AnswerTree>& answer, const EqualOptions& options) {
  if (truth.size() != answer.size()) {
    return {false, absl::StrCat(truth.size(), " elements expected, got ", answer.size())};
  }
  for (size_t k = 0; k < truth.size(); ++k) {
    EqualResult element = CompareTrees(truth[k], answer[k], options);
    if (!element.equal) return {false, absl::StrCat("element ", k, ": ", element.reason)};
  }
  return {true, "all elements equal in order"};
}

// Elements in any order: a one-to-one matching by augmenting paths (Kuhn's algorithm). Equality
// under a tolerance is not transitive, so a greedy pairing could miss a valid matching.
EqualResult CompareUnordered(const std::vector<AnswerTree>& truth,
                             const std::vector<AnswerTree>& answer, const EqualOptions& options) {
  size_t n = truth.size();
  if (n != answer.size()) {
    return {false, absl::StrCat(n, " elements expected, got ", answer.size())};
  }
  std::vector<std::vector<bool>> equal(n, std::vector<bool>(n));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) equal[i][j] = CompareTrees(truth[i], answer[j], options).equal;
  }
  std::vector<int> match_of_answer(n, -1);
  std::function<bool(size_t, std::vector<bool>&)> augment = [&](size_t i,
                                                                 std::vector<bool>& seen) {
    for (size_t j = 0; j < n; ++j) {
      if (!equal[i][j] || seen[j]) continue;
      seen[j] = true;
      if (match_of_answer[j] < 0 || augment(match_of_answer[j], seen)) {
        match_of_answer[j] = static_cast<int>(i);
        return true;
      }
    }
    return false;
  };
  for (size_t i = 0; i < n; ++i) {
    std::vector<bool> seen(n);
    if (!augment(i, seen)) return {false, absl::StrCat("no match for element ", i)};
  }
  return {true, "all elements matched"};
}

bool IsUnorderedCollection(const AnswerTree& tree) {
  return tree.kind == Kind::kSet || tree.kind == Kind::kList;
}

bool IsParenthesizedTuple(const AnswerTree& tree) {
  return tree.kind == Kind::kTuple && tree.open == '(' && tree.close == ')';
}

bool IsVector(const AnswerTree& tree) {
  return tree.kind == Kind::kMatrix && (tree.rows == 1 || tree.cols == 1);
}

EqualResult CompareTrees(const AnswerTree& truth, const AnswerTree& answer,
                         const EqualOptions& options) {
  if (truth.kind == Kind::kScalar && answer.kind == Kind::kScalar) {
    return ScalarEqual(truth.text, answer.text, options);
  }
  if (truth.kind == Kind::kTuple && answer.kind == Kind::kTuple) {
    if (truth.open != answer.open || truth.close != answer.close) {
      return {false, "brackets differ"};
    }
    return CompareInOrder(truth.items, answer.items, options);
  }
  if (IsUnorderedCollection(truth) && IsUnorderedCollection(answer)) {
    return CompareUnordered(truth.items, answer.items, options);
  }
  // "0,1" and "(0,1)" are the same answer written with and without parentheses.
  if ((truth.kind == Kind::kList && IsParenthesizedTuple(answer)) ||
      (IsParenthesizedTuple(truth) && answer.kind == Kind::kList)) {
    return CompareInOrder(truth.items, answer.items, options);
  }
  if (truth.kind == Kind::kUnion && answer.kind == Kind::kUnion) {
    return CompareUnordered(truth.items, answer.items, options);
  }
  if (truth.kind == Kind::kMatrix && answer.kind == Kind::kMatrix) {
    if (truth.rows != answer.rows || truth.cols != answer.cols) {
      return {false, "matrix shapes differ"};
    }
    return CompareInOrder(truth.items, answer.items, options);
  }
  if ((IsVector(truth) && IsParenthesizedTuple(answer)) ||
      (IsParenthesizedTuple(truth) && IsVector(answer))) {
    return CompareInOrder(truth.items, answer.items, options);
  }
  if (truth.kind == Kind::kSet && truth.items.size() == 1 && answer.kind == Kind::kScalar) {
    return CompareTrees(truth.items[0], answer, options);
  }
  if (answer.kind == Kind::kSet && answer.items.size() == 1 && truth.kind == Kind::kScalar) {
    return CompareTrees(truth, answer.items[0], options);
  }
  return {false, "answer has a different structure"};
}

bool HasPercentSign(std::string_view text) { return text.find('%') != std::string_view::npos; }

}  // namespace

EqualResult CompareAnswers(std::string_view ground_truth, std::string_view answer,
                           const EqualOptions& options) {
  if (answer.size() > options.max_answer_length) {
    bool same = Trim(answer) == NormalizeGroundTruth(ground_truth);
    return {same, same ? "same text (long answer)" : "answer longer than max_answer_length"};
  }
  const std::string truth_raw = NormalizeGroundTruth(ground_truth);
  std::string truth_text = NormalizeLatex(truth_raw);
  std::string answer_text = NormalizeLatex(answer);
  if (answer_text.empty()) return {false, "empty answer"};
  if (truth_text.empty()) return {false, "empty ground truth"};
  if (answer_text.size() > options.parse_limits.max_length) {
    return {false, "answer longer than the parse limit"};
  }

  absl::StatusOr<AnswerTree> truth = ParseAnswerStructure(truth_text, options.structure_limits);
  if (!truth.ok()) return {false, absl::StrCat("ground truth: ", truth.status().message())};
  absl::StatusOr<AnswerTree> parsed = ParseAnswerStructure(answer_text, options.structure_limits);
  if (!parsed.ok()) return {false, absl::StrCat("answer: ", parsed.status().message())};
  EqualResult result = CompareTrees(*truth, *parsed, options);

  // A percentage on one side only. Normalization drops the percent sign, so "10\%" already
  // equals 10. Here it is also read as a division by 100, so it equals 0.1 too.
  const bool truth_percent = HasPercentSign(truth_raw);
  if (result.equal || truth_percent == HasPercentSign(answer) || truth->kind != Kind::kScalar ||
      parsed->kind != Kind::kScalar) {
    return result;
  }
  std::string& percent_side = truth_percent ? truth_text : answer_text;
  percent_side = absl::StrCat("\\frac{", percent_side, "}{100}");
  EqualResult as_fraction = ScalarEqual(truth_text, answer_text, options);
  if (as_fraction.equal) as_fraction.reason += " (the percentage as a fraction of 100)";
  return as_fraction.equal ? as_fraction : result;
}

bool MathEqual(std::string_view ground_truth, std::string_view answer,
               const EqualOptions& options) {
  return CompareAnswers(ground_truth, answer, options).equal;
}

}  // namespace aha::math
