// Next-token training for pretraining and SFT: one loop, AdamW with linear warmup and cosine
// decay, gradient clipping, micro batches with gradient accumulation, and packed rows. SFT
// differs from pretraining only in its loss mask (see lm_batch.h).
//
// Shapes: N rows, T = pack_length tokens per row.
#ifndef AHA_TRAINER_LM_TRAINER_H_
#define AHA_TRAINER_LM_TRAINER_H_

#include <cstdint>
#include <cstdio>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/progress.h"
#include "policy/transformer.h"
#include "trainer/lm_batch.h"
#include "trainer/optimizer.h"

namespace aha {

// Cosine decay from 1e-3 to 1e-4, weight decay 0.1, betas (0.9, 0.95), clipping at 1.0: the
// usual settings for pretraining small decoders from scratch.
OptimizerOptions DefaultLmOptimizerOptions();

struct LmTrainOptions {
  // Optimizer steps. 0 derives them from `epochs` and the packed rows of the first epoch.
  int64_t steps = 0;
  double epochs = 1.0;
  int64_t batch_rows = 16;       // packed rows per optimizer step
  int64_t micro_batch_rows = 4;  // rows per forward/backward; gradients accumulate
  int64_t pack_length = 512;     // T; longer examples are truncated, and counted in the result
  // AdamW, warmup and schedule, gradient clipping; the schedule spans the run's steps.
  OptimizerOptions optimizer = DefaultLmOptimizerOptions();
  // Runs the forward pass under CPU autocast to bfloat16: matrix products and their backward
  // in bf16, weights, gradients and optimizer state in float32. About 3x faster on CPUs with
  // AVX-512 BF16; the loss differs from float32 by bf16 rounding.
  bool bf16_autocast = false;
  int64_t log_every = 10;        // steps between log lines; the last step always logs
  uint64_t seed = 0;             // shuffling of the examples, once per epoch
};

// Checks sizes and ranges; the message names the option.
absl::Status ValidateLmTrainOptions(const LmTrainOptions& options);

// Negative sum of log p(target) over the batch's targets: a scalar that autograd can
// differentiate. Divide by the number of targets for the mean cross-entropy.
torch::Tensor LmNllSum(CausalLm& model, const LmBatch& batch);

struct LmGradientStats {
  double loss = 0;  // mean cross-entropy per target token, in nats
  int64_t target_tokens = 0;
  int64_t real_tokens = 0;
};

// Adds to the parameters' gradients the gradient of the mean cross-entropy over all targets
// of `rows`, running forward and backward on micro batches of up to `micro_batch_rows` rows.
// Each micro batch's sum is divided by the targets of all rows, so the accumulated gradient
// equals that of one big batch. A non-finite loss is an error, returned before its backward.
absl::StatusOr<LmGradientStats> AccumulateLmGradients(CausalLm& model,
                                                      const std::vector<LmExample>& examples,
                                                      const std::vector<PackedRow>& rows,
                                                      int64_t micro_batch_rows,
                                                      int64_t pack_length,
                                                      bool bf16_autocast = false);

struct LmTrainResult {
  int64_t steps = 0;
  int64_t epochs_started = 0;
  std::vector<double> losses;      // (steps) mean cross-entropy of each step's batch
  int64_t truncated_examples = 0;  // examples cut to pack_length or the model's context
  int64_t real_tokens = 0;         // tokens run through the model, padding excluded
  double seconds = 0;
};

// Trains `model` in place on `examples` (shuffled with options.seed; truncated to
// pack_length). Writes one line per log_every steps to `log` when it is not null:
//   step 120/600 | loss 1.2345 | lr 2.95e-03 | grad_norm 0.731 | tokens/s 10450 | 35.2s
// A non-finite loss or gradient norm stops training with an error naming the step; the
// model then holds the weights from before that step.
absl::StatusOr<LmTrainResult> TrainLm(CausalLm& model, std::vector<LmExample> examples,
                                      const LmTrainOptions& options,
                                      Progress* progress = nullptr, std::FILE* log = nullptr);

}  // namespace aha

#endif  // AHA_TRAINER_LM_TRAINER_H_
