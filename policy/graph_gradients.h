// The create_graph fallback of aha's custom autograd functions.
#ifndef AHA_POLICY_GRAPH_GRADIENTS_H_
#define AHA_POLICY_GRAPH_GRADIENTS_H_

#include <vector>

#include <torch/torch.h>

namespace aha {

// Returns the gradients of a custom function's first inputs, computed by differentiating
// `by_ops` (the same function written with LibTorch operations) with a graph of their own, so
// that second derivatives exist. `inputs` are the function's saved inputs, in order. Inputs
// that need no gradient get an undefined tensor. The list has `outputs` entries, one per
// argument of the function's forward, as backward must return.
template <typename ByOps>
torch::autograd::tensor_list GradientsWithGraph(torch::autograd::AutogradContext* ctx,
                                                const std::vector<torch::Tensor>& inputs,
                                                const torch::Tensor& grad, size_t outputs,
                                                const ByOps& by_ops) {
  torch::autograd::tensor_list result(outputs);
  torch::autograd::tensor_list wanted;
  std::vector<size_t> positions;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (ctx->needs_input_grad(i)) {
      wanted.push_back(inputs[i]);
      positions.push_back(i);
    }
  }
  if (wanted.empty()) return result;
  auto y = by_ops();
  auto partial = torch::autograd::grad({y}, wanted, {grad}, /*retain_graph=*/true,
                                       /*create_graph=*/true, /*allow_unused=*/true);
  for (size_t j = 0; j < positions.size(); ++j) result[positions[j]] = partial[j];
  return result;
}

}  // namespace aha

#endif  // AHA_POLICY_GRAPH_GRADIENTS_H_
