#include "policy/grad_in_place.h"

#include <atomic>

#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include "policy/autocast.h"
#include "policy/kernel_switch.h"
#include "policy/skinny_linear.h"

namespace aha {
namespace {

std::atomic<int64_t> in_place_accumulations{0};

// Scopes of AccumulateGradsInPlace open on this thread. LibTorch runs a CPU backward pass on
// the thread that started it.
thread_local int in_place_scopes = 0;

// AHA_GRAD_IN_PLACE=torch leaves every gradient to autograd.
bool SwitchedOn() {
  static const bool on = !KernelSwitchedToTorch("AHA_GRAD_IN_PLACE");
  return on;
}

// Returns whether `t` is a float32 or bfloat16 CPU tensor: the dtypes whose CPU products
// (OpenBLAS and oneDNN) add into their output.
bool IsInPlaceCpuType(const torch::Tensor& t) {
  return t.device().is_cpu() &&
         (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16);
}

// x @ weight^T whose backward pass adds the weight gradient to weight.grad().
class LinearFunction : public torch::autograd::Function<LinearFunction> {
 public:
  // x: (M, K), weight (N, K). Returns (M, N).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               torch::Tensor weight) {
    ctx->save_for_backward({x, weight});
    return Linear(x, weight, torch::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& grad_out = grads[0];  // (M, N)
    // (M, N) @ (N, K), through Linear for its row padding.
    torch::Tensor grad_x = Linear(grad_out, weight.t(), torch::Tensor());
    if (!AddingToGradInPlace(weight)) {
      // Outside a scope (torch::autograd::grad among others) the caller expects the gradient
      // back, and with create_graph it must be a differentiable tensor.
      return {grad_x, torch::matmul(grad_out.t(), x)};
    }
    GradToAddTo(weight).addmm_(grad_out.t(), x);  // (N, M) @ (M, K)
    CountGradAccumulationInPlace();
    return {grad_x, torch::Tensor()};
  }
};

// weight[ids] whose backward pass adds the gradient rows to weight.grad() where it can.
class EmbeddingFunction : public torch::autograd::Function<EmbeddingFunction> {
 public:
  // weight (V, E), ids (T) int64. Returns (T, E).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor weight,
                               torch::Tensor ids) {
    ctx->save_for_backward({weight, ids});
    return weight.index_select(0, ids);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& weight = saved[0];
    const torch::Tensor& ids = saved[1];
    const torch::Tensor& grad_rows = grads[0];  // (T, E)
    if (!AddingToGradInPlace(weight)) {
      // index_add (not in place) keeps the gradient differentiable under create_graph.
      return {torch::zeros_like(weight).index_add(0, ids, grad_rows), torch::Tensor()};
    }
    GradToAddTo(weight).index_add_(0, ids, grad_rows);
    CountGradAccumulationInPlace();
    return {torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool AddingToGradInPlace(const torch::Tensor& weight) {
  return SwitchedOn() && in_place_scopes > 0 && !torch::GradMode::is_enabled() &&
         weight.is_leaf() && weight.requires_grad() && IsInPlaceCpuType(weight);
}

torch::Tensor& GradToAddTo(const torch::Tensor& weight) {
  torch::Tensor& grad = const_cast<torch::Tensor&>(weight).mutable_grad();
  if (!grad.defined()) grad = torch::zeros_like(weight, torch::MemoryFormat::Contiguous);
  return grad;
}

torch::Tensor EmbeddingLookup(const torch::Tensor& weight, const torch::Tensor& ids) {
  std::vector<int64_t> shape = ids.sizes().vec();
  shape.push_back(weight.size(1));
  return EmbeddingFunction::apply(weight, ids.reshape({-1})).view(shape);
}

void CountGradAccumulationInPlace() {
  in_place_accumulations.fetch_add(1, std::memory_order_relaxed);
}

AccumulateGradsInPlace::AccumulateGradsInPlace() { ++in_place_scopes; }
AccumulateGradsInPlace::~AccumulateGradsInPlace() { --in_place_scopes; }

bool AccumulatesInGrad(const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias) {
  // Under autocast torch's linear computes in the autocast dtype, which this path does not.
  if (!SwitchedOn() || !torch::GradMode::is_enabled() || CpuAutocastEnabled()) return false;
  if (!weight.requires_grad() || !weight.is_leaf() || weight.dim() != 2) return false;
  const torch::ScalarType dtype = weight.scalar_type();
  if (bias.defined() && (!bias.device().is_cpu() || bias.scalar_type() != dtype)) return false;
  return IsInPlaceCpuType(weight) && x.device().is_cpu() && x.scalar_type() == dtype &&
         x.dim() >= 1 && x.size(-1) == weight.size(1);
}

torch::Tensor LinearAccumulatingInGrad(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias) {
  const int64_t k = x.size(-1);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = weight.size(0);
  torch::Tensor y = LinearFunction::apply(x.reshape({-1, k}), weight).view(shape);
  // Autograd sums the bias gradient, an (N) vector, the usual way.
  return bias.defined() ? y + bias : y;
}

int64_t GradAccumulationsInPlaceSoFar() {
  return in_place_accumulations.load(std::memory_order_relaxed);
}

}  // namespace aha
