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

// x @ weight^T + bias whose backward pass adds the weight gradient to weight.grad().
class LinearFunction : public torch::autograd::Function<LinearFunction> {
 public:
  // x: (..., K), weight (N, K), bias (N) or, for none, an empty tensor: LibTorch 1.13's custom
  // functions reject undefined inputs. Returns (..., N).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               torch::Tensor weight, torch::Tensor bias) {
    const bool has_bias = bias.numel() > 0;
    ctx->save_for_backward({x, weight});
    ctx->saved_data["has_bias"] = has_bias;
    // The same call, on the same shapes, as without autograd. Depending on the input's shape,
    // LibTorch's linear adds a bias inside the product or after it, which rounds a bfloat16
    // result once or twice. So scoring with and without gradients agrees exactly.
    return Linear(x, weight, has_bias ? bias : torch::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& weight = saved[1];
    const int64_t k = weight.size(1), n = weight.size(0);
    const torch::Tensor x = saved[0].reshape({-1, k});             // (M, K)
    const torch::Tensor grad_out = grads[0].reshape({-1, n});      // (M, N)
    // (M, N) @ (N, K), through Linear for its row padding.
    torch::Tensor grad_x = Linear(grad_out, weight.t(), torch::Tensor()).view(saved[0].sizes());
    torch::Tensor grad_bias =
        ctx->saved_data["has_bias"].toBool() ? grad_out.sum(0) : torch::Tensor();
    if (!AddingToGradInPlace(weight)) {
      // Outside a scope (torch::autograd::grad among others) the caller expects the gradient
      // back, and with create_graph it must be a differentiable tensor.
      return {grad_x, torch::matmul(grad_out.t(), x), grad_bias};
    }
    GradToAddTo(weight).addmm_(grad_out.t(), x);  // (N, M) @ (M, K)
    CountGradAccumulationInPlace();
    return {grad_x, torch::Tensor(), grad_bias};
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
  const torch::Tensor no_bias = torch::empty({0}, weight.options());
  return LinearFunction::apply(x, weight, bias.defined() ? bias : no_bias);
}

int64_t GradAccumulationsInPlaceSoFar() {
  return in_place_accumulations.load(std::memory_order_relaxed);
}

}  // namespace aha
