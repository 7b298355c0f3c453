// GrpoTrainer: the R1-Zero loop. Each step samples G completions for B prompts, scores them,
// computes group-relative advantages and applies clipped policy-gradient updates.
//
// The loop body (TrainStep) is linear: rollout, advantages, update, metrics. When to log,
// evaluate and checkpoint is decided in one place, Run.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows, P prompt length, C completion length.
#ifndef AHA_TRAINER_GRPO_TRAINER_H_
#define AHA_TRAINER_GRPO_TRAINER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "base/progress.h"
#include "data/batch_iterator.h"
#include "data/prompt_template.h"
#include "policy/policy_io.h"
#include "rewards/reward_set.h"
#include "trainer/evaluate.h"
#include "trainer/grpo_config.h"
#include "trainer/optimizer.h"
#include "trainer/reflection.h"
#include "trainer/rollout.h"
#include "trainer/run_log.h"
#include "trainer/tensorboard_writer.h"

namespace aha {
namespace dist {
class Communicator;
}  // namespace dist

// The parts of a run built from its config alone, before any model is loaded: the rewards
// (command rewards are started, plugins loaded), the prompt template, the training batches,
// the test examples (at most log.eval_prompts) and the reflection counter. GrpoTrainer::Create
// builds them, and `aha train --check` builds them to validate a config.
struct GrpoRunInputs {
  RewardSet rewards;
  data::PromptTemplate prompt_template;
  data::BatchIterator iterator;
  std::vector<data::Example> test_examples;
  ReflectionCounter reflection;
};
absl::StatusOr<GrpoRunInputs> BuildGrpoRunInputs(const GrpoRunConfig& config);

class GrpoTrainer {
 public:
  // Loads the policy, the reference (when kl_beta > 0), the data and the rewards. With
  // `resume`, continues from out_dir/checkpoint when it exists. With a `communicator` of W
  // ranks, each rank trains on B / W prompts of every step, the update equals one process
  // with the whole batch, and only rank 0 writes the run folder.
  static absl::StatusOr<std::unique_ptr<GrpoTrainer>> Create(
      const GrpoRunConfig& config, bool resume, Progress* progress,
      std::shared_ptr<dist::Communicator> communicator = nullptr);

  // Trains until config.grpo.steps, evaluating and checkpointing as configured, and saves the
  // final model to out_dir/final.
  absl::Status Run();

  // One step; returns its metrics. Exposed for tests.
  absl::StatusOr<StepMetrics> TrainStep();

  // Evaluates on up to log.eval_prompts held-out prompts.
  absl::StatusOr<EvalMetrics> EvaluateHeldOut();

  absl::Status SaveCheckpoint();

  int64_t step() const { return step_; }
  Policy& policy() { return policy_; }

 private:
  // The completions of one step: every group rolled out, and with dynamic sampling the
  // groups kept for the update.
  struct StepRollout {
    RolloutBatch sampled;               // (rounds * B) groups
    std::optional<RolloutBatch> kept;   // (B or fewer) groups; set with dynamic sampling
    const RolloutBatch& trained() const { return kept ? *kept : sampled; }
  };

  GrpoTrainer(GrpoRunConfig config, Progress* progress,
              std::shared_ptr<dist::Communicator> communicator);
  // Whether this process writes logs, samples and checkpoints: rank 0, or the only process.
  bool IsMainRank() const;
  absl::Status Setup(bool resume);
  // Caps the dr_grpo divisor at the longest completion the policy's context allows, and warns
  // when grpo.max_new_tokens reaches past that context.
  void LimitDrGrpoDivisorToContext();
  // Returns an error when a weight is NaN or infinite, so that `artifact` is not saved.
  absl::Status CheckWeightsBeforeSave(const std::string& artifact) const;
  // Rolls out B prompts, and with grpo.dynamic_sampling more rounds of B until B groups have
  // unequal rewards or max_sampling_rounds is reached. Sets the group counts and timings of m.
  absl::StatusOr<StepRollout> SampleStep(StepMetrics& m);
  // Sets the reward, accuracy, format, length and reflection metrics over every sampled
  // completion, also those of dropped groups, so they stay comparable with dynamic sampling
  // off.
  void AddRolloutMetrics(const RolloutBatch& batch, StepMetrics& m);
  absl::Status LoadCheckpoint(const std::string& dir);
  // The settings that a resumed run must share with the run that wrote its checkpoint: batch
  // and group sizes, seeds and a hash of the training examples. Saved with each checkpoint.
  nlohmann::json ResumeFingerprint() const;
  // Prints a warning naming each setting of ResumeFingerprint that differs from `saved`, the
  // one stored in the checkpoint at `dir`. Checkpoints written before it was stored have none.
  void WarnAboutChangedRun(const nlohmann::json& saved, const std::string& dir) const;
  // All-reduces the gradients across ranks, clips them and steps the optimizer; stops the
  // run after 3 non-finite gradient norms in a row. The schedule advances after the last of
  // the step's passes.
  absl::Status ApplyUpdate(StepMetrics& m, bool last_pass);
  void WriteSamples(const struct RolloutBatch& batch, const torch::Tensor& advantages);
  void WarnAboutStep(const StepMetrics& metrics);

  GrpoRunConfig config_;
  Progress* progress_;
  std::shared_ptr<dist::Communicator> comm_;  // null for a single process
  Policy policy_;
  std::optional<CausalLm> reference_;
  std::optional<RewardSet> rewards_;
  std::optional<data::PromptTemplate> template_;
  std::optional<data::BatchIterator> iterator_;
  // The training examples' count and hash, for ResumeFingerprint; the data stays the same
  // for the whole run, so it is computed once.
  std::string training_examples_;
  std::vector<data::Example> test_examples_;
  std::unique_ptr<Optimizer> optimizer_;
  std::optional<RunLog> log_;
  std::optional<ReflectionCounter> reflection_;
  std::optional<TensorBoardWriter> tensorboard_;  // when log.tensorboard
  int64_t step_ = 0;
  int64_t skipped_updates_in_a_row_ = 0;
  int64_t last_truncation_warning_ = -1000;
  int64_t last_context_warning_ = -1000;
  int64_t context_stops_ = 0;  // of the last rollout (Rollouts::context_stops)
  int64_t last_variance_warning_ = -1000;
};

}  // namespace aha

#endif  // AHA_TRAINER_GRPO_TRAINER_H_
