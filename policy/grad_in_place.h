// Gradients added straight into .grad() during a trainer's backward pass.
//
// Autograd computes a fresh gradient for every use of a parameter and then adds it to .grad in
// a separate pass, which reads both and writes one. For the 0.5B shape's 358M layer weights
// that is 4.3 GB of extra memory traffic per backward pass. The (V, E) embedding tied to the
// output layer costs more, because its lookup's gradient is also a zero-filled (V, E) tensor.
//
// Inside an AccumulateGradsInPlace scope, the linear layers (beta = 1 in the GEMM), the
// embedding lookup (index_add_) and ScoreHidden's output layer add to .grad() themselves. The
// sums are the same, rounded once instead of twice, and the optimizer still zeroes the
// gradients after each step. Elsewhere each returns its gradient as torch does, so
// torch::autograd::grad keeps working.
//
// Shapes: M rows, K inputs, N outputs, V vocabulary, E hidden size.
#ifndef AHA_POLICY_GRAD_IN_PLACE_H_
#define AHA_POLICY_GRAD_IN_PLACE_H_

#include <cstdint>

#include <torch/types.h>

namespace aha {

// Marks the backward passes started on this thread while it lives as ones whose gradients go
// to .grad(): loss.backward() in the trainers, not torch::autograd::grad.
// NOTE: inside a scope, torch::autograd::grad still adds the weight gradients to .grad() and
// cannot return them, hooks registered on the weights do not run, and two threads must not
// run backward passes over the same parameters at once.
class AccumulateGradsInPlace {
 public:
  AccumulateGradsInPlace();
  ~AccumulateGradsInPlace();
  AccumulateGradsInPlace(const AccumulateGradsInPlace&) = delete;
  AccumulateGradsInPlace& operator=(const AccumulateGradsInPlace&) = delete;
};

// Returns whether LinearAccumulatingInGrad applies: gradients are being recorded, CPU autocast
// is off, the weight is a leaf that requires them, and weight, bias and x are CPU tensors, all
// float32 or all bfloat16. A bfloat16 gradient is then rounded once per addition, where
// autograd rounds the new gradient and then the sum.
// AHA_GRAD_IN_PLACE=torch in the environment turns it off, and every in-place addition.
bool AccumulatesInGrad(const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias);

// Computes x @ weight^T + bias like torch::nn::functional::linear, x (..., K), weight (N, K),
// bias (N) or undefined, and returns (..., N). Inside an AccumulateGradsInPlace scope its
// backward pass adds the weight gradient to weight.grad(), created as zeros when undefined,
// unless it records a graph (create_graph). The gradients of x and bias flow as usual. Only
// for inputs where AccumulatesInGrad.
torch::Tensor LinearAccumulatingInGrad(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias);

// Returns whether the backward pass now running on this thread adds the gradient of `weight`
// to weight.grad() in place: inside an AccumulateGradsInPlace scope, not recording a graph, for
// a float32 or bfloat16 CPU leaf that requires gradients.
bool AddingToGradInPlace(const torch::Tensor& weight);

// Returns weight.grad(), created as zeros first when undefined, for a caller that adds to it.
torch::Tensor& GradToAddTo(const torch::Tensor& weight);

// Returns the rows `ids` (...) int64 of `weight` (V, E): (..., E), like torch::embedding. In a
// backward pass where AddingToGradInPlace, the gradient rows go into weight.grad() with
// index_add_. Autograd's own path fills a (V, E) tensor of zeros and then adds it to .grad:
// 1.6 GB of memory traffic per backward pass for Qwen2.5-0.5B's embeddings.
torch::Tensor EmbeddingLookup(const torch::Tensor& weight, const torch::Tensor& ids);

// Returns how many backward passes added to .grad() directly since the process started.
int64_t GradAccumulationsInPlaceSoFar();

// Counts one addition in place, for GradAccumulationsInPlaceSoFar.
void CountGradAccumulationInPlace();

}  // namespace aha

#endif  // AHA_POLICY_GRAD_IN_PLACE_H_
