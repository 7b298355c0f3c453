// The data-parallel parts of a GRPO step. With W ranks, each rank rolls out B / W of the step's
// B prompts, so a group never spans ranks. These functions combine what the ranks computed so
// that the update equals one process with the whole batch. Advantages and the loss denominator
// cover every row, and metrics cover every rank.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows, n = N / W rows on this rank,
// C completion length.
#ifndef AHA_TRAINER_DATA_PARALLEL_H_
#define AHA_TRAINER_DATA_PARALLEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/example.h"
#include "dist/communicator.h"
#include "trainer/advantages.h"
#include "trainer/policy_loss.h"
#include "trainer/run_log.h"

namespace aha {

// Returns InvalidArgumentError naming grpo.prompts_per_step and the config file when B is not
// a multiple of `world_size`.
absl::Status CheckPromptsDivideAmongRanks(int64_t prompts_per_step, int world_size,
                                          const std::string& config_path);

// Keeps this rank's B / W consecutive prompts of the step's B and returns the index of the
// first one in the step, so that the rank's rows are global rows [first * G, (first + B/W) * G).
int64_t KeepRankShare(std::vector<data::Example>& examples, const dist::Communicator& comm);

// Advantages of this rank's n rows, computed over all N rewards: `rewards` (n) are gathered in
// rank order, groups are consecutive runs of `group_size` rows. Batch-wide estimators
// (batch_std) and the statistics then equal one process's.
absl::StatusOr<Advantages> ComputeDataParallelAdvantages(dist::Communicator& comm,
                                                         const torch::Tensor& rewards,
                                                         int64_t group_size,
                                                         const AdvantageOptions& options);

// The loss normalizer of the whole batch from this rank's mask (n, C) and truncated flags (n).
absl::StatusOr<LossNormalizer> ComputeDataParallelLossNormalizer(dist::Communicator& comm,
                                                                 const torch::Tensor& mask,
                                                                 const torch::Tensor& truncated,
                                                                 const PolicyLossOptions& options);

// Replaces the metrics this rank computed over its `rows` rows with whole-batch values.
// `reward_names` lists every reward of the run, in the same order on every rank. `loss_tokens`
// weighs the policy-loss statistics (kl, clip fractions, ratio) and
// `entropy_tokens` the entropy. Length percentiles, reflection rates and per-reward means
// become row-weighted means of the ranks' values, an estimate of the whole batch's.
absl::Status ReduceStepMetrics(dist::Communicator& comm,
                               const std::vector<std::string>& reward_names, int64_t rows,
                               int64_t loss_tokens, double entropy_tokens, StepMetrics& m);

}  // namespace aha

#endif  // AHA_TRAINER_DATA_PARALLEL_H_
