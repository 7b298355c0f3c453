// One rollout: render B examples with the prompt template, sample G completions each, decode
// them and score them with the rewards. Shared by GRPO training and evaluation.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows.
#ifndef AHA_TRAINER_ROLLOUT_H_
#define AHA_TRAINER_ROLLOUT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/progress.h"
#include "data/example.h"
#include "data/prompt_template.h"
#include "policy/group_sampler.h"
#include "policy/policy_io.h"
#include "rewards/reward_set.h"

namespace aha {

struct RolloutBatch {
  std::vector<data::Example> examples;  // (B)
  std::vector<std::string> prompts;     // (B) rendered prompt text
  Rollouts rollouts;                    // (N) rows, row n answers example n / G
  std::vector<RewardSample> samples;    // (N)
  ScoredBatch scores;                   // (N) totals and (R, N) components
  // (N) whether the accuracy reward gave the sample full marks (>= 1 - 1e-9); false for
  // every sample when the rewards have no accuracy reward.
  std::vector<bool> correct;
  double seconds_generate = 0;  // sampling and decoding
  double seconds_reward = 0;    // scoring
};

// Samples and scores. `options.stream_offset` should differ between calls (for example the
// step times N) so that each rollout draws fresh random numbers.
absl::StatusOr<RolloutBatch> RolloutAndScore(Policy& policy,
                                             const data::PromptTemplate& prompt_template,
                                             absl::Span<const data::Example> examples,
                                             const GroupSamplerOptions& options,
                                             RewardSet& rewards, Progress* progress = nullptr);

// Returns the indices in [0, B) of the groups whose rewards are not all equal. A group of
// equal rewards gets zero advantages (trainer/advantages.h uses the same exact comparison),
// so it gives no policy gradient.
std::vector<int64_t> GroupsWithRewardVariance(const RolloutBatch& batch);

// Returns the groups `groups` of `batch` (indices into batch.examples), in that order, with
// every per-row field and tensor narrowed to their rows.
RolloutBatch SelectGroups(const RolloutBatch& batch, absl::Span<const int64_t> groups);

// Appends the groups of `more` to `batch`, which must have the same group size and rewards.
// Prompts are left-padded and completions right-padded with `pad_id` to the longer P and C
// of the two; the masks mark the padding as invalid. Timings and token counts add up.
void AppendGroups(RolloutBatch& batch, const RolloutBatch& more, int64_t pad_id);

}  // namespace aha

#endif  // AHA_TRAINER_ROLLOUT_H_
