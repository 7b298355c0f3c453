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

}  // namespace aha

#endif  // AHA_TRAINER_ROLLOUT_H_
