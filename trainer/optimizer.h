// AdamW with linear warmup and cosine decay, and gradient-norm clipping; shared by the GRPO,
// SFT and pretraining loops. The update itself is FusedAdamW (trainer/adamw.h).
#ifndef AHA_TRAINER_OPTIMIZER_H_
#define AHA_TRAINER_OPTIMIZER_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "base/yaml_map.h"
#include "trainer/adamw.h"

namespace aha {

struct OptimizerOptions {
  double lr = 1e-5;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double adam_eps = 1e-8;
  int64_t warmup_steps = 0;
  // Cosine decay from lr to min_lr_ratio * lr over the run's steps; "constant" keeps lr.
  std::string schedule = "constant";
  double min_lr_ratio = 0.1;
  double max_grad_norm = 1.0;  // 0 disables clipping
};

// The first key of `options` whose value is invalid and what is wrong with it, or nullopt.
std::optional<std::pair<std::string, std::string>> FindOptimizerOptionsProblem(
    const OptimizerOptions& options);

// Reads lr, weight_decay, betas ([b1, b2]), adam_eps, warmup_steps, schedule, min_lr_ratio and
// max_grad_norm from `section`, leaving absent keys at their defaults.
absl::Status ReadOptimizerOptions(YamlMap& section, OptimizerOptions& options);

class Optimizer {
 public:
  Optimizer(std::vector<torch::Tensor> parameters, const OptimizerOptions& options,
            int64_t total_steps);
  ~Optimizer();

  // Clips the gradient norm, sets this step's learning rate, applies AdamW and zeroes the
  // gradients. Returns the gradient norm before clipping; a non-finite norm skips the update
  // (the caller reports it) and the gradients are zeroed all the same. With
  // `advance_schedule` false the next call uses the same learning rate: GRPO's mu passes over
  // one batch are one step of the schedule.
  double Step(bool advance_schedule = true);

  double current_lr() const { return current_lr_; }
  int64_t steps_taken() const { return steps_taken_; }

  // Optimizer state for resuming, through torch::serialize. Load also reads the
  // torch::optim::AdamW state that optimizer.pt held before FusedAdamW, and names `path` in
  // its errors.
  void Save(const std::string& path) const;
  absl::Status Load(const std::string& path);

 private:
  double LearningRate(int64_t step) const;

  std::vector<torch::Tensor> parameters_;
  OptimizerOptions options_;
  int64_t total_steps_;
  int64_t steps_taken_ = 0;
  double current_lr_ = 0.0;
  std::unique_ptr<FusedAdamW> adam_;
};

}  // namespace aha

#endif  // AHA_TRAINER_OPTIMIZER_H_
