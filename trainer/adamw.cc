#include "trainer/adamw.h"

#include <cmath>
#include <numeric>

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace aha {
namespace {

// Elements per parallel task and per partial sum of the gradient norm. Large enough that a
// task's overhead is lost in its memory traffic, small enough that 2 to 16 threads share the
// 0.5B shape's larger tensors evenly.
constexpr int64_t kChunk = 1 << 16;

// The scalars of one update of one parameter.
struct StepScalars {
  double decay;          // 1 - lr * wd
  double beta1, beta2;
  double grad_scale;     // the clip factor
  double sqrt_bc2;       // sqrt(1 - b2^t)
  double eps;
  double step_size;      // lr / (1 - b1^t)
};

// Whether the loops below can read `t` through a raw pointer.
bool IsDenseContiguousCpu(const torch::Tensor& t) {
  return t.is_cpu() && t.is_contiguous() && !t.is_sparse();
}

bool FusedLoopApplies(const torch::Tensor& p, const torch::Tensor& g) {
  return IsDenseContiguousCpu(p) && IsDenseContiguousCpu(g) &&
         g.scalar_type() == p.scalar_type();
}

template <typename scalar_t>
void FusedUpdate(torch::Tensor& param, torch::Tensor& grad, torch::Tensor& exp_avg,
                 torch::Tensor& exp_avg_sq, const StepScalars& s) {
  using opmath_t = at::opmath_type<scalar_t>;
  scalar_t* p = param.data_ptr<scalar_t>();
  scalar_t* g = grad.data_ptr<scalar_t>();
  scalar_t* m = exp_avg.data_ptr<scalar_t>();
  scalar_t* v = exp_avg_sq.data_ptr<scalar_t>();
  const opmath_t decay = s.decay, beta1 = s.beta1, beta2 = s.beta2;
  const opmath_t one_minus_beta1 = 1 - s.beta1, one_minus_beta2 = 1 - s.beta2;
  const opmath_t scale = s.grad_scale, sqrt_bc2 = s.sqrt_bc2, eps = s.eps;
  const opmath_t step_size = s.step_size;
  at::parallel_for(0, param.numel(), kChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const opmath_t gi = static_cast<opmath_t>(g[i]) * scale;
      const opmath_t mi = static_cast<opmath_t>(m[i]) * beta1 + one_minus_beta1 * gi;
      const opmath_t vi = static_cast<opmath_t>(v[i]) * beta2 + one_minus_beta2 * gi * gi;
      const opmath_t denom = std::sqrt(vi) / sqrt_bc2 + eps;
      p[i] = static_cast<opmath_t>(p[i]) * decay - step_size * (mi / denom);
      m[i] = mi;
      v[i] = vi;
      g[i] = 0;
    }
  });
}

// The same update as tensor operations, in the order torch::optim::AdamW runs them.
void TensorUpdate(torch::Tensor& param, torch::Tensor& grad, torch::Tensor& exp_avg,
                  torch::Tensor& exp_avg_sq, const StepScalars& s) {
  torch::Tensor g = s.grad_scale == 1.0 ? grad : grad * s.grad_scale;
  if (s.decay != 1.0) param.mul_(s.decay);
  exp_avg.mul_(s.beta1).add_(g, 1 - s.beta1);
  exp_avg_sq.mul_(s.beta2).addcmul_(g, g, 1 - s.beta2);
  torch::Tensor denom = (exp_avg_sq.sqrt() / s.sqrt_bc2).add_(s.eps);
  param.addcdiv_(exp_avg, denom, -s.step_size);
  grad.zero_();
}

// Sum of squares of a contiguous CPU tensor, in double, over fixed chunks summed in order.
template <typename scalar_t>
double ChunkedSquaredSum(const torch::Tensor& t) {
  const scalar_t* data = t.data_ptr<scalar_t>();
  const int64_t n = t.numel();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks, 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    for (int64_t c = first; c < last; ++c) {
      const int64_t begin = c * kChunk, end = std::min(n, begin + kChunk);
      // Eight accumulators break the chain of dependent adds, where each add would
      // otherwise wait for the previous one to finish.
      double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t i = begin;
      for (; i + 8 <= end; i += 8) {
        for (int k = 0; k < 8; ++k) {
          const double x = static_cast<double>(data[i + k]);
          acc[k] += x * x;
        }
      }
      for (; i < end; ++i) {
        const double x = static_cast<double>(data[i]);
        acc[0] += x * x;
      }
      partial[c] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
  });
  return std::accumulate(partial.begin(), partial.end(), 0.0);
}

// Only for tensors where IsDenseContiguousCpu.
double SquaredSum(const torch::Tensor& grad) {
  double sum = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "SquaredSum",
                                  [&] { sum = ChunkedSquaredSum<scalar_t>(grad); });
  return sum;
}

std::string ShapeString(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

}  // namespace

FusedAdamW::FusedAdamW(std::vector<torch::Tensor> parameters, const AdamWOptions& options)
    : parameters_(std::move(parameters)),
      options_(options),
      exp_avg_(parameters_.size()),
      exp_avg_sq_(parameters_.size()),
      steps_(parameters_.size(), 0) {}

double FusedAdamW::GradNorm() const {
  torch::NoGradGuard no_grad;
  double sum = 0;
  // Other gradients (CUDA, strided) are summed as tensors on their device, then read once,
  // instead of one device-to-host copy per parameter.
  torch::Tensor device_sum;
  for (const torch::Tensor& p : parameters_) {
    if (!p.grad().defined()) continue;
    if (IsDenseContiguousCpu(p.grad())) {
      sum += SquaredSum(p.grad());
      continue;
    }
    torch::Tensor squares = p.grad().to(torch::kDouble).pow(2).sum();
    device_sum = device_sum.defined() ? device_sum + squares.to(device_sum.device()) : squares;
  }
  if (device_sum.defined()) sum += device_sum.item<double>();
  return std::sqrt(sum);
}

void FusedAdamW::Step(double lr, double grad_scale) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    torch::Tensor& param = parameters_[i];
    torch::Tensor grad = param.mutable_grad();
    if (!grad.defined()) continue;
    if (!exp_avg_[i].defined()) {
      exp_avg_[i] = torch::zeros_like(param, torch::MemoryFormat::Contiguous);
      exp_avg_sq_[i] = torch::zeros_like(param, torch::MemoryFormat::Contiguous);
    }
    const int64_t t = ++steps_[i];
    StepScalars s;
    s.decay = 1.0 - lr * options_.weight_decay;
    s.beta1 = options_.beta1;
    s.beta2 = options_.beta2;
    s.grad_scale = grad_scale;
    s.sqrt_bc2 = std::sqrt(1.0 - std::pow(options_.beta2, static_cast<double>(t)));
    s.eps = options_.eps;
    s.step_size = lr / (1.0 - std::pow(options_.beta1, static_cast<double>(t)));
    if (use_fused_loop_ && FusedLoopApplies(param, grad)) {
      AT_DISPATCH_FLOATING_TYPES_AND2(
          at::kHalf, at::kBFloat16, param.scalar_type(), "FusedAdamW", [&] {
            FusedUpdate<scalar_t>(param, grad, exp_avg_[i], exp_avg_sq_[i], s);
          });
      // The loop writes through raw pointers. Bump the version counters as in-place tensor
      // operations do, so autograd still detects a parameter changed after a forward pass.
      torch::autograd::impl::bump_version(param);
      torch::autograd::impl::bump_version(grad);
    } else {
      TensorUpdate(param, grad, exp_avg_[i], exp_avg_sq_[i], s);
    }
  }
}

void FusedAdamW::ZeroGrad() {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : parameters_) {
    if (p.mutable_grad().defined()) p.mutable_grad().zero_();
  }
}

void FusedAdamW::Save(torch::serialize::OutputArchive& archive) const {
  archive.write("adamw/parameters", torch::tensor(static_cast<int64_t>(parameters_.size())));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!exp_avg_[i].defined()) continue;
    const std::string prefix = absl::StrCat("adamw/", i, "/");
    archive.write(prefix + "step", torch::tensor(steps_[i]));
    archive.write(prefix + "exp_avg", exp_avg_[i]);
    archive.write(prefix + "exp_avg_sq", exp_avg_sq_[i]);
  }
}

absl::Status FusedAdamW::Load(torch::serialize::InputArchive& archive) {
  torch::Tensor count;
  if (!archive.try_read("adamw/parameters", count)) return LoadTorchAdamW(archive);
  MomentState state(parameters_.size());
  RETURN_IF_ERROR(CheckCount(count.item<int64_t>()));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string prefix = absl::StrCat("adamw/", i, "/");
    torch::Tensor step;
    if (!archive.try_read(prefix + "step", step)) continue;
    state.steps[i] = step.item<int64_t>();
    archive.read(prefix + "exp_avg", state.exp_avg[i]);
    archive.read(prefix + "exp_avg_sq", state.exp_avg_sq[i]);
  }
  return Adopt(std::move(state));
}

// torch::optim::AdamW's archive (torch/optim/serialize.h): "param_groups" lists, for each
// parameter in order, the key its state was saved under, and "state/<key>" contains "step",
// "exp_avg" and "exp_avg_sq". aha used one parameter group.
absl::Status FusedAdamW::LoadTorchAdamW(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive groups, group, saved;
  if (!archive.try_read("param_groups", groups) || !archive.try_read("state", saved)) {
    return absl::InvalidArgumentError(
        "is not an optimizer state: it contains neither aha's AdamW keys nor LibTorch's. Delete "
        "the checkpoint folder to start over");
  }
  torch::Tensor group_count, param_count;
  groups.read("param_groups/size", group_count);
  if (group_count.item<int64_t>() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "has ", group_count.item<int64_t>(), " parameter groups, but aha writes one. It was "
        "not written by aha: delete the checkpoint folder to start over"));
  }
  groups.read("param_groups/0", group);
  group.read("params/size", param_count);
  RETURN_IF_ERROR(CheckCount(param_count.item<int64_t>()));
  MomentState state(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    c10::IValue key;
    group.read(absl::StrCat("params/", i), key);
    torch::serialize::InputArchive param_state;
    if (!saved.try_read(key.toStringRef(), param_state)) continue;
    c10::IValue step, exp_avg, exp_avg_sq;
    param_state.read("step", step);
    param_state.read("exp_avg", exp_avg);
    param_state.read("exp_avg_sq", exp_avg_sq);
    state.steps[i] = step.toInt();
    state.exp_avg[i] = exp_avg.toTensor();
    state.exp_avg_sq[i] = exp_avg_sq.toTensor();
  }
  return Adopt(std::move(state));
}

absl::Status FusedAdamW::CheckCount(int64_t saved) const {
  if (saved == static_cast<int64_t>(parameters_.size())) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "contains the state of ", saved, " parameters but the model has ", parameters_.size(),
      ". The checkpoint is from a different model: resume with the model it was written for"));
}

// Checks every tensor before taking any, so a bad archive leaves this optimizer as it was.
absl::Status FusedAdamW::Adopt(MomentState state) {
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!state.exp_avg[i].defined()) continue;
    const torch::Tensor& p = parameters_[i];
    if (!state.exp_avg[i].sizes().equals(p.sizes()) ||
        !state.exp_avg_sq[i].sizes().equals(p.sizes())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the moments of parameter ", i, " have shape ", ShapeString(state.exp_avg[i]),
          " but the parameter has ", ShapeString(p),
          ". The checkpoint is from a different model: resume with the model it was written for"));
    }
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!state.exp_avg[i].defined()) continue;
    const torch::Tensor& p = parameters_[i];
    // A copy, so that two optimizers loaded from one archive do not share moments.
    state.exp_avg[i] = state.exp_avg[i].to(p.options(), /*non_blocking=*/false, /*copy=*/true)
                           .contiguous();
    state.exp_avg_sq[i] =
        state.exp_avg_sq[i].to(p.options(), /*non_blocking=*/false, /*copy=*/true).contiguous();
  }
  exp_avg_ = std::move(state.exp_avg);
  exp_avg_sq_ = std::move(state.exp_avg_sq);
  steps_ = std::move(state.steps);
  return absl::OkStatus();
}

}  // namespace aha
