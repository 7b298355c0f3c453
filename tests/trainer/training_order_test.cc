#include "trainer/training_order.h"

#include <gtest/gtest.h>

namespace aha {
namespace {

// `groups` groups of `size` rows, prompts of `prompt` tokens, completions from `completion`.
std::vector<RowShape> Groups(int64_t groups, int64_t size, int64_t prompt,
                             const std::vector<int64_t>& completion) {
  std::vector<RowShape> rows;
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t i = 0; i < size; ++i) {
      rows.push_back({prompt, completion[(g * size + i) % completion.size()], g});
    }
  }
  return rows;
}

TEST(TrainingOrderTest, ScoredTokensCountsEachPromptOnce) {
  // Two groups of 2: prompts of 10 and completions of 4, 2 | 3, 1.
  std::vector<RowShape> rows = {{10, 4, 0}, {10, 2, 0}, {10, 3, 1}, {10, 1, 1}};
  // One micro-batch: 2 prompts, and 4 rows of 4 - 1 completion tokens.
  EXPECT_EQ(ScoredTokens(rows, {0, 1, 2, 3}, 4, true), 2 * 10 + 4 * 3);
  EXPECT_EQ(ScoredTokens(rows, {0, 1, 2, 3}, 4, false), 4 * (10 + 4));
  // Micro-batches {0, 2} and {1, 3} each hold both groups.
  EXPECT_EQ(ScoredTokens(rows, {0, 2, 1, 3}, 2, true), (20 + 2 * 3) + (20 + 2 * 1));
  // Micro-batches {0, 1} and {2, 3} hold one group each.
  EXPECT_EQ(ScoredTokens(rows, {0, 1, 2, 3}, 2, true), (10 + 2 * 3) + (10 + 2 * 2));
}

TEST(TrainingOrderTest, WithoutSharedPromptsReadsLongestCompletionFirst) {
  std::vector<RowShape> rows = {{5, 1, 0}, {5, 7, 0}, {5, 3, 1}, {5, 7, 1}};
  EXPECT_EQ(TrainingOrder(rows, 2, false), (std::vector<int64_t>{1, 3, 2, 0}));
}

TEST(TrainingOrderTest, SimilarLengthsKeepWholeGroupsTogether) {
  // Long prompts and even completions: whole groups run each prompt once per micro-batch.
  std::vector<RowShape> rows = Groups(4, 4, 64, {30, 31, 32, 33, 29});
  std::vector<int64_t> order = TrainingOrder(rows, 4, true);
  for (size_t start = 0; start < order.size(); start += 4) {
    for (size_t i = start; i < start + 4; ++i) {
      EXPECT_EQ(rows[order[i]].group, rows[order[start]].group) << "micro-batch " << start / 4;
    }
  }
  EXPECT_LE(ScoredTokens(rows, order, 4, true),
            ScoredTokens(rows, TrainingOrder(rows, 4, false), 4, true));
}

TEST(TrainingOrderTest, OneLongCompletionPerGroupSortsByLength) {
  // As in the demo: every group has one long search among short guesses, so whole groups
  // would pad every micro-batch to the long one.
  std::vector<RowShape> rows = Groups(4, 4, 40, {400, 20, 25, 30});
  std::vector<int64_t> order = TrainingOrder(rows, 4, true);
  EXPECT_EQ(order, TrainingOrder(rows, 4, false));
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(rows[order[i]].completion, 400);
}

}  // namespace
}  // namespace aha
