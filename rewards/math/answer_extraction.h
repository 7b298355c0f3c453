// Finds the final answer in a model completion: <answer> tags, \boxed{} / \fbox{}, or "#### N".
#ifndef AHA_REWARDS_MATH_ANSWER_EXTRACTION_H_
#define AHA_REWARDS_MATH_ANSWER_EXTRACTION_H_

#include <optional>
#include <string>
#include <string_view>

namespace aha::math {

// Where ExtractFinalAnswer looks. The sources are tried in the order of the fields, and the first
// enabled source that is present decides: a completion with an <answer> tag is never read for a
// \boxed{} outside it.
struct ExtractOptions {
  // The content of the last complete <answer>...</answer>. When that content has a \boxed{} or
  // \fbox{}, the last box inside it is the answer.
  bool from_answer_tag = true;
  // The content of the last \boxed{...} or \fbox{...}, with balanced braces. When that last box
  // never closes, there is no answer; an earlier box is not used, and boxes are never joined.
  // "\boxed 42" (a space and one token) is read too.
  bool from_boxed = true;
  // What follows the last "####" on its line, as in GSM8K solutions: the leading number when
  // only words follow it ("#### 42 dollars" gives "42"), otherwise the whole line ("#### 5/2",
  // "#### 1e5", "#### 3 \frac{1}{2}").
  bool from_gsm8k_marker = true;
};

// Returns the final answer in the completion, trimmed, or nullopt when there is none or it is
// empty. Takes the completion only: the prompt must not be passed in, since a boxed example in a
// prompt would be scored as the model's answer.
std::optional<std::string> ExtractFinalAnswer(std::string_view completion,
                                              const ExtractOptions& options = {});

// Returns the content of the last \boxed{} or \fbox{} in `text`, or nullopt when there is none or
// when the last one is not closed.
std::optional<std::string> ExtractLastBoxed(std::string_view text);

// Returns the answer part of a reference answer: the text after the last "####" for GSM8K-style
// solutions ("... so she has 18.\n#### 18" gives "18"), else the content of the last \boxed{} or
// \fbox{} ("so we get \boxed{18}." gives "18"), or `ground_truth` trimmed otherwise.
// MathEqual applies it to its ground truth.
std::string NormalizeGroundTruth(std::string_view ground_truth);

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_ANSWER_EXTRACTION_H_
