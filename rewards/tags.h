// Finding <think> and <answer> blocks in a completion.
#ifndef AHA_REWARDS_TAGS_H_
#define AHA_REWARDS_TAGS_H_

#include <optional>
#include <string_view>

namespace aha {

// Returns the number of non-overlapping occurrences of `needle` in `text`.
size_t CountOccurrences(std::string_view text, std::string_view needle);

// Returns the text between the last `<answer>` and the first `</answer>` after it, or
// std::nullopt when there is no such pair. The last block wins because models often restate
// the question's format before answering.
std::optional<std::string_view> LastAnswerBlock(std::string_view completion);

// Returns the think block: the text between `<think>` and the following `</think>`. With
// `prefilled_think` the prompt already opened the block, so it runs from the start of the
// completion to the first `</think>`. Returns std::nullopt when the block is not closed.
std::optional<std::string_view> ThinkBlock(std::string_view completion, bool prefilled_think);

// Returns `text` without leading and trailing ASCII whitespace.
std::string_view TrimWhitespace(std::string_view text);

}  // namespace aha

#endif  // AHA_REWARDS_TAGS_H_
