// AdamW as one pass over memory: for each element, the gradient clip, the decoupled weight
// decay, both moment updates, the parameter update and the zeroing of the gradient.
//
// LibTorch's torch::optim::AdamW runs each of those as a separate tensor operation. By a count
// of its operations (an estimate, not profiled), it reads or writes parameter-sized tensors
// about 25 times per step, and clip_grad_norm_ adds 3 more. For the 0.5B shape this took 2.0
// to 2.8 s per step, measured in bench/train_step_bench. This kernel reads and writes the
// parameter, the gradient and both moments once each (8 passes), plus one read to take the norm.
//
// The update is torch::optim::AdamW's, without amsgrad:
//   p <- p * (1 - lr * wd)
//   m <- b1 * m + (1 - b1) * g
//   v <- b2 * v + (1 - b2) * g * g
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// where g is the clipped gradient and t the parameter's own step count. For float, half and
// bfloat16 parameters the arithmetic runs in float, and the moments keep the parameter's
// dtype as in LibTorch. So results match LibTorch to rounding, not bit for bit. Contiguous CPU
// tensors take the fused loop. Any other tensor (CUDA, strided) takes the same update as tensor
// operations.
#ifndef AHA_TRAINER_ADAMW_H_
#define AHA_TRAINER_ADAMW_H_

#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace aha {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class FusedAdamW {
 public:
  FusedAdamW(std::vector<torch::Tensor> parameters, const AdamWOptions& options);

  // Returns the L2 norm of all gradients together, in double. Parameters without a gradient
  // count as zero. The sum runs over fixed 64K-element chunks in a fixed order, so the result
  // does not depend on the number of threads.
  double GradNorm() const;

  // Updates every parameter at learning rate `lr`, with its gradient multiplied by
  // `grad_scale` (the clip factor), then zeroes the gradients. A parameter without a gradient
  // is skipped and keeps its step count, as in LibTorch.
  void Step(double lr, double grad_scale);

  // Zeroes the gradients without updating, for a skipped step.
  void ZeroGrad();

  // Writes the moments and step counts under "adamw/..." keys of `archive`.
  void Save(torch::serialize::OutputArchive& archive) const;
  // Reads what Save wrote, or the state of a torch::optim::AdamW over the same parameters,
  // which is what optimizer.pt contained before this class. The error names the mismatch when
  // the archive's tensors do not fit the parameters.
  absl::Status Load(torch::serialize::InputArchive& archive);

  // Forces the tensor-operation path on CPU as well, to test it against the fused loop.
  void set_use_fused_loop(bool use) { use_fused_loop_ = use; }

 private:
  // Moments and step counts read from an archive, indexed like parameters_.
  struct MomentState {
    explicit MomentState(size_t n) : exp_avg(n), exp_avg_sq(n), steps(n, 0) {}
    std::vector<torch::Tensor> exp_avg, exp_avg_sq;
    std::vector<int64_t> steps;
  };

  absl::Status LoadTorchAdamW(torch::serialize::InputArchive& archive);
  absl::Status CheckCount(int64_t saved) const;
  absl::Status Adopt(MomentState state);

  std::vector<torch::Tensor> parameters_;
  AdamWOptions options_;
  std::vector<torch::Tensor> exp_avg_;     // m, allocated at a parameter's first step
  std::vector<torch::Tensor> exp_avg_sq_;  // v
  std::vector<int64_t> steps_;             // t per parameter
  bool use_fused_loop_ = true;
};

}  // namespace aha

#endif  // AHA_TRAINER_ADAMW_H_
