#include "trainer/rollout.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

// A scored batch of `prompts` groups of G = 2 rows with prompt width P and completion width C.
// Token ids encode their place: prompt ids 100 * row + column + 1, completion ids
// 1000 + 100 * row + column. Row r gets reward `rewards[r]`.
RolloutBatch MakeBatch(int64_t prompts, int64_t p, int64_t c, const std::vector<double>& rewards,
                       int64_t first_id) {
  const int64_t g = 2;
  const int64_t n = prompts * g;
  RolloutBatch batch;
  batch.rollouts.group_size = g;
  batch.rollouts.prompt_ids = torch::zeros({n, p}, torch::kInt64);
  batch.rollouts.completion_ids = torch::zeros({n, c}, torch::kInt64);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t j = 0; j < p; ++j) batch.rollouts.prompt_ids[row][j] = 100 * row + j + 1;
    for (int64_t j = 0; j < c; ++j) batch.rollouts.completion_ids[row][j] = 1000 + 100 * row + j;
  }
  batch.rollouts.prompt_mask = torch::ones({n, p}, torch::kBool);
  batch.rollouts.completion_mask = torch::ones({n, c}, torch::kBool);
  batch.rollouts.sampled_logprobs = torch::full({n, c}, -0.5);
  batch.scores.components.resize(1);
  batch.scores.error_counts = {1};
  for (int64_t group = 0; group < prompts; ++group) {
    data::Example example;
    example.id = first_id + group;
    batch.examples.push_back(example);
    batch.prompts.push_back("prompt " + std::to_string(example.id));
  }
  for (int64_t row = 0; row < n; ++row) {
    RewardSample sample;
    sample.completion = "completion " + std::to_string(first_id * g + row);
    batch.samples.push_back(sample);
    batch.scores.total.push_back(rewards[row]);
    batch.scores.all_abstained.push_back(false);
    batch.scores.components[0].push_back(rewards[row]);
    batch.correct.push_back(rewards[row] > 0.5);
    batch.rollouts.finish_reasons.push_back(FinishReason::kStop);
    batch.rollouts.completion_lengths.push_back(c);
    batch.rollouts.generated_tokens += c;
  }
  return batch;
}

TEST(RolloutTest, GroupsWithRewardVariance) {
  RolloutBatch batch = MakeBatch(3, 2, 2, {1, 1, 0, 1, 0.5, 0.5}, 0);
  EXPECT_EQ(GroupsWithRewardVariance(batch), (std::vector<int64_t>{1}));
}

TEST(RolloutTest, AppendGroupsPadsBothWidths) {
  RolloutBatch batch = MakeBatch(1, 2, 3, {0, 1}, 0);
  RolloutBatch more = MakeBatch(1, 4, 1, {1, 1}, 7);
  const int64_t pad = 9;
  AppendGroups(batch, more, pad);

  ASSERT_EQ(batch.examples.size(), 2u);
  EXPECT_EQ(batch.examples[1].id, 7);
  ASSERT_EQ(batch.samples.size(), 4u);
  EXPECT_EQ(batch.scores.total, (std::vector<double>{0, 1, 1, 1}));
  EXPECT_EQ(batch.scores.components[0].size(), 4u);
  EXPECT_EQ(batch.scores.error_counts[0], 2);
  EXPECT_EQ(batch.rollouts.generated_tokens, 2 * 3 + 2 * 1);
  // (N, P): the first group's prompts are left-padded from width 2 to 4.
  ASSERT_EQ(batch.rollouts.prompt_ids.sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_TRUE(torch::equal(batch.rollouts.prompt_ids[0],
                           torch::tensor({9, 9, 1, 2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(batch.rollouts.prompt_mask[0],
                           torch::tensor({0, 0, 1, 1}, torch::kInt64).to(torch::kBool)));
  EXPECT_TRUE(torch::equal(batch.rollouts.prompt_ids[3],
                           torch::tensor({101, 102, 103, 104}, torch::kInt64)));
  // (N, C): the second group's completions are right-padded from width 1 to 3.
  ASSERT_EQ(batch.rollouts.completion_ids.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_TRUE(torch::equal(batch.rollouts.completion_ids[2],
                           torch::tensor({1000, 9, 9}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(batch.rollouts.completion_mask[2],
                           torch::tensor({1, 0, 0}, torch::kInt64).to(torch::kBool)));
  EXPECT_TRUE(torch::equal(batch.rollouts.completion_ids[1],
                           torch::tensor({1100, 1101, 1102}, torch::kInt64)));
  EXPECT_EQ(batch.rollouts.sampled_logprobs.sizes(), (std::vector<int64_t>{4, 3}));
}

TEST(RolloutTest, SelectGroupsKeepsTheirRows) {
  RolloutBatch batch = MakeBatch(3, 2, 2, {0, 1, 1, 1, 0.25, 0.75}, 0);
  RolloutBatch kept = SelectGroups(batch, std::vector<int64_t>{2, 0});
  ASSERT_EQ(kept.examples.size(), 2u);
  EXPECT_EQ(kept.examples[0].id, 2);
  EXPECT_EQ(kept.examples[1].id, 0);
  EXPECT_EQ(kept.prompts[0], "prompt 2");
  EXPECT_EQ(kept.scores.total, (std::vector<double>{0.25, 0.75, 0, 1}));
  EXPECT_EQ(kept.scores.components[0].size(), 4u);
  EXPECT_EQ(kept.correct, (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(kept.samples[0].completion, "completion 4");
  EXPECT_EQ(kept.rollouts.group_size, 2);
  EXPECT_EQ(kept.rollouts.generated_tokens, 8);
  ASSERT_EQ(kept.rollouts.prompt_ids.size(0), 4);
  EXPECT_TRUE(torch::equal(kept.rollouts.prompt_ids[0], batch.rollouts.prompt_ids[4]));
  EXPECT_TRUE(torch::equal(kept.rollouts.completion_ids[3], batch.rollouts.completion_ids[1]));
  EXPECT_EQ(kept.rollouts.finish_reasons.size(), 4u);

  RolloutBatch none = SelectGroups(batch, {});
  EXPECT_TRUE(none.samples.empty());
  EXPECT_EQ(none.rollouts.prompt_ids.size(0), 0);
}

}  // namespace
}  // namespace aha
