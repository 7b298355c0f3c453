#include "policy/batched_matmul.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/policy/tensor_checks.h"

namespace aha {
namespace {

using testing::MaxRelativeError;

// Forward and both gradients against torch::matmul, for a (..., M, K) and b (..., K, N) in
// whatever strides the caller made them with. `products` is how many of the three products
// (forward, then each gradient) must go through `sgemm_`, so a silent fallback fails.
void ExpectMatchesTorch(const torch::Tensor& a_in, const torch::Tensor& b_in,
                        int64_t products = 3) {
  const BatchedMatmulCounts before = BatchedMatmulCountsSoFar();
  auto a = a_in.detach().requires_grad_(true);
  auto b = b_in.detach().requires_grad_(true);
  auto a_ref = a_in.detach().requires_grad_(true);
  auto b_ref = b_in.detach().requires_grad_(true);
  auto out = BatchedMatmul(a, b);
  auto want = torch::matmul(a_ref, b_ref);
  ASSERT_EQ(out.sizes(), want.sizes());
  EXPECT_TRUE(out.is_contiguous());
  EXPECT_LT(MaxRelativeError(out, want), 1e-5);

  auto grad_out = torch::randn(want.sizes());
  out.backward(grad_out);
  want.backward(grad_out);
  EXPECT_LT(MaxRelativeError(a.grad(), a_ref.grad()), 1e-5);
  EXPECT_LT(MaxRelativeError(b.grad(), b_ref.grad()), 1e-5);
  EXPECT_EQ(BatchedMatmulCountsSoFar().blas_products - before.blas_products, products);
}

// Operand copies made by one forward product.
int64_t ForwardCopies(const torch::Tensor& a, const torch::Tensor& b) {
  const BatchedMatmulCounts before = BatchedMatmulCountsSoFar();
  BatchedMatmul(a, b);
  return BatchedMatmulCountsSoFar().operand_copies - before.operand_copies;
}

TEST(BatchedMatmulTest, FindsTheLoadedBlas) {
  // LibTorch on CPU loads a BLAS, so these tests exercise the direct path, not the fallback.
  EXPECT_TRUE(BatchedMatmulUsesBlas());
}

TEST(BatchedMatmulTest, ContiguousOperandsMatchTorch) {
  torch::manual_seed(0);
  ExpectMatchesTorch(torch::randn({3, 5, 7}), torch::randn({3, 7, 4}));
}

TEST(BatchedMatmulTest, TransposedOperandsAreReadInPlace) {
  torch::manual_seed(1);
  // Attention's shapes: scores = q (N, K, R*T, D) @ k^T, with k (N, K, T, D).
  auto q = torch::randn({2, 2, 6, 8});
  auto k = torch::randn({2, 2, 5, 8});
  ExpectMatchesTorch(q, k.transpose(-1, -2));
  ExpectMatchesTorch(torch::randn({2, 2, 8, 6}).transpose(-1, -2), k.transpose(-1, -2));
  EXPECT_EQ(ForwardCopies(q, k.transpose(-1, -2)), 0);
  EXPECT_EQ(ForwardCopies(torch::randn({2, 2, 8, 6}).transpose(-1, -2), k.transpose(-1, -2)), 0);
}

TEST(BatchedMatmulTest, UnmergeableBatchDimsMatchTorch) {
  torch::manual_seed(2);
  // (N, T, K, D) viewed as (N, K, T, D): the batch dims' strides cannot merge into one.
  auto k = torch::randn({3, 5, 2, 8}).transpose(1, 2);
  auto v = torch::randn({3, 5, 2, 8}).transpose(1, 2);
  ExpectMatchesTorch(torch::randn({3, 2, 4, 5}), v);
  ExpectMatchesTorch(torch::randn({3, 2, 4, 8}), k.transpose(-1, -2));
}

TEST(BatchedMatmulTest, ExpandedAndSlicedOperandsMatchTorch) {
  torch::manual_seed(3);
  // A stride-0 matrix dim has no BLAS layout and is copied. A narrowed one keeps its stride.
  auto row = torch::randn({2, 1, 6}).expand({2, 4, 6});
  ExpectMatchesTorch(row, torch::randn({2, 6, 3}));
  EXPECT_EQ(ForwardCopies(row, torch::randn({2, 6, 3})), 1);
  auto cache = torch::randn({2, 9, 6});
  ExpectMatchesTorch(torch::randn({2, 3, 5}), cache.narrow(1, 0, 5));
  ExpectMatchesTorch(torch::randn({2, 3, 6}), cache.narrow(1, 0, 5).transpose(-1, -2));
  EXPECT_EQ(ForwardCopies(torch::randn({2, 3, 6}), cache.narrow(1, 0, 5).transpose(-1, -2)), 0);
}

TEST(BatchedMatmulTest, SizeOneAndEmptyDimsMatchTorch) {
  torch::manual_seed(4);
  ExpectMatchesTorch(torch::randn({4, 1, 8}), torch::randn({4, 8, 6}));    // one decode query
  ExpectMatchesTorch(torch::randn({4, 3, 8}), torch::randn({4, 8, 1}));
  ExpectMatchesTorch(torch::randn({4, 3, 1}), torch::randn({4, 1, 5}));    // K = 1
  ExpectMatchesTorch(torch::randn({4, 3, 1}).transpose(-1, -2).transpose(-1, -2),
                     torch::randn({4, 5, 1}).transpose(-1, -2));
  auto empty = BatchedMatmul(torch::randn({2, 3, 0}), torch::randn({2, 0, 4}));
  EXPECT_TRUE(torch::equal(empty, torch::zeros({2, 3, 4})));
  EXPECT_EQ(BatchedMatmul(torch::randn({0, 3, 2}), torch::randn({0, 2, 4})).sizes(),
            torch::IntArrayRef({0, 3, 4}));
}

TEST(BatchedMatmulTest, ParallelBatchMatchesTorch) {
  // Enough small matrices for the batch to be split over threads.
  const int previous = at::get_num_threads();
  at::set_num_threads(2);
  torch::manual_seed(5);
  ExpectMatchesTorch(torch::randn({64, 64, 32}), torch::randn({64, 64, 32}).transpose(-1, -2));
  at::set_num_threads(previous);
}

TEST(BatchedMatmulTest, SecondDerivativesMatchTorch) {
  torch::manual_seed(7);
  auto a = torch::randn({2, 3, 4}, torch::requires_grad());
  auto b = torch::randn({2, 4, 5}, torch::requires_grad());
  auto a_ref = a.detach().clone().requires_grad_(true);
  auto b_ref = b.detach().clone().requires_grad_(true);
  // d/db of sum((dL/da)^2) with L = sum(a @ b): needs a graph through the backward pass.
  auto grad_a = torch::autograd::grad({BatchedMatmul(a, b).sum()}, {a}, {}, true, true)[0];
  auto grad_a_ref = torch::autograd::grad({torch::matmul(a_ref, b_ref).sum()}, {a_ref}, {}, true,
                                          true)[0];
  ASSERT_TRUE(grad_a.requires_grad());
  grad_a.pow(2).sum().backward();
  grad_a_ref.pow(2).sum().backward();
  EXPECT_LT(MaxRelativeError(b.grad(), b_ref.grad()), 1e-5);
}

TEST(BatchedMatmulTest, OtherDtypesAndShapesUseTorch) {
  torch::manual_seed(6);
  auto a = torch::randn({2, 3, 4}).to(torch::kBFloat16);
  auto b = torch::randn({2, 4, 5}).to(torch::kBFloat16);
  EXPECT_TRUE(torch::equal(BatchedMatmul(a, b), torch::matmul(a, b)));
  // Broadcast batch dims are torch::matmul's job too.
  ExpectMatchesTorch(torch::randn({2, 3, 4}), torch::randn({1, 4, 5}), /*products=*/0);
  ExpectMatchesTorch(torch::randn({3, 4}), torch::randn({4, 5}), /*products=*/0);
}

}  // namespace
}  // namespace aha
