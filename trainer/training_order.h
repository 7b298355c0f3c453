// The order in which GRPO's update reads a rollout's rows, chosen so that the micro-batches
// run the fewest tokens through the model.
#ifndef AHA_TRAINER_TRAINING_ORDER_H_
#define AHA_TRAINER_TRAINING_ORDER_H_

#include <cstdint>
#include <vector>

namespace aha {

// One rollout row's lengths and group.
struct RowShape {
  int64_t prompt = 0;      // real prompt tokens
  int64_t completion = 0;  // real completion tokens
  int64_t group = 0;       // rows of a group share their prompt
};

// Returns the tokens that scoring the rows in `order` runs through the model, micro-batch by
// micro-batch of `micro_rows` rows. Each micro-batch pads its prompts and completions to its
// longest ones, as ScoreRows does. With `share_prompts` it runs each distinct group's prompt once and every
// completion but its last token (ScoreCompletions), otherwise every row's prompt and
// completion (ScoreTokens).
int64_t ScoredTokens(const std::vector<RowShape>& rows, const std::vector<int64_t>& order,
                     int64_t micro_rows, bool share_prompts);

// Returns the order (a permutation of the row indices) that the update reads the rows in.
// Micro-batches are cut to their own longest completion, so neighbouring rows should have
// similar lengths.
// - Longest completion first: little padding when lengths vary widely.
// - With `share_prompts`, the alternative of whole groups, the group with the longest
//   completion first and each group's rows longest first, so that a micro-batch runs each
//   prompt once. It is taken when it runs fewer tokens (ScoredTokens): when a group's
//   completions have similar lengths, or its prompt is long next to them.
std::vector<int64_t> TrainingOrder(const std::vector<RowShape>& rows, int64_t micro_rows,
                                   bool share_prompts);

}  // namespace aha

#endif  // AHA_TRAINER_TRAINING_ORDER_H_
