// Tensor comparisons shared by the policy kernel tests.
#ifndef AHA_TESTS_POLICY_TENSOR_CHECKS_H_
#define AHA_TESTS_POLICY_TENSOR_CHECKS_H_

#include <algorithm>

#include <torch/torch.h>

namespace aha::testing {

// Returns the largest absolute difference, divided by the largest magnitude of `want` when
// that is above 1.
inline double MaxRelativeError(const torch::Tensor& got, const torch::Tensor& want) {
  const double scale = std::max(1.0, want.abs().max().item<double>());
  return (got - want).abs().max().item<double>() / scale;
}

}  // namespace aha::testing

#endif  // AHA_TESTS_POLICY_TENSOR_CHECKS_H_
