// A linear layer for training whose backward pass adds the weight gradient straight into
// weight.grad(), with beta = 1 in the GEMM, when the backward pass runs inside an
// AccumulateGradsInPlace scope. Elsewhere it returns the weight gradient as torch's linear does,
// so torch::autograd::grad keeps working.
//
// Autograd's own path computes a fresh (N, K) weight gradient and then adds it to .grad in a
// separate pass, which reads both and writes one: for the 0.5B shape's 358M layer weights,
// 4.3 GB of memory traffic in every backward pass on top of the GEMMs. Accumulating inside the
// GEMM gives the same sum, rounded once instead of twice, and the optimizer still zeroes the
// gradients after each step.
//
// Shapes: M rows, K inputs, N outputs.
#ifndef AHA_POLICY_LINEAR_GRAD_H_
#define AHA_POLICY_LINEAR_GRAD_H_

#include <cstdint>

#include <torch/types.h>

namespace aha {

// Marks the backward passes started on this thread while it lives as ones whose gradients go
// to .grad(): loss.backward() in the trainers, not torch::autograd::grad.
class AccumulateGradsInPlace {
 public:
  AccumulateGradsInPlace();
  ~AccumulateGradsInPlace();
  AccumulateGradsInPlace(const AccumulateGradsInPlace&) = delete;
  AccumulateGradsInPlace& operator=(const AccumulateGradsInPlace&) = delete;
};

// Returns whether LinearAccumulatingInGrad applies: gradients are being recorded, the weight
// is a leaf that requires them, and weight, bias and x are float32 CPU tensors.
// AHA_LINEAR_GRAD=torch in the environment turns it off.
bool AccumulatesInGrad(const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias);

// Computes x @ weight^T + bias like torch::nn::functional::linear, x (..., K), weight (N, K),
// bias (N) or undefined, and returns (..., N). Inside an AccumulateGradsInPlace scope its
// backward pass adds the weight gradient to weight.grad(), created as zeros when undefined,
// unless it records a graph (create_graph). The gradients of x and bias flow as usual. Only
// for inputs where AccumulatesInGrad.
torch::Tensor LinearAccumulatingInGrad(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias);

// Returns how many backward passes added to .grad() directly since the process started.
int64_t GradAccumulationsInPlaceSoFar();

}  // namespace aha

#endif  // AHA_POLICY_LINEAR_GRAD_H_
