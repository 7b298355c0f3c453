#include "policy/fused_rms_norm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

double MaxAbsDifference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max().item<double>();
}

struct Gradients {
  torch::Tensor y, grad_x, grad_weight;
};

// Runs `norm` forward and backward with a fixed upstream gradient.
template <typename Norm>
Gradients RunNorm(Norm norm, const torch::Tensor& x_in, const torch::Tensor& weight_in,
              const torch::Tensor& grad_y) {
  auto x = x_in.detach().clone().requires_grad_(true);
  auto weight = weight_in.detach().clone().requires_grad_(true);
  auto y = norm(x, weight, 1e-6);
  y.backward(grad_y);
  return {y.detach(), x.grad(), weight.grad()};
}

// `tolerance` bounds the output and x's gradient, and the weight gradient per row summed. The
// fused loop must have run, so a silent fallback to the op-by-op version fails.
void ExpectMatchesOps(const torch::Tensor& x, const torch::Tensor& weight, double tolerance) {
  auto grad_y = torch::randn(x.sizes()).to(x.scalar_type());
  const int64_t calls_before = FusedRmsNormCallsSoFar();
  const Gradients fused = RunNorm(FusedRmsNorm, x, weight, grad_y);
  EXPECT_EQ(FusedRmsNormCallsSoFar() - calls_before, 1);
  const Gradients ops = RunNorm(RmsNormByOps, x, weight, grad_y);
  ASSERT_EQ(fused.y.sizes(), ops.y.sizes());
  EXPECT_EQ(fused.y.scalar_type(), x.scalar_type());
  EXPECT_LE(MaxAbsDifference(fused.y, ops.y), tolerance);
  EXPECT_LE(MaxAbsDifference(fused.grad_x, ops.grad_x), tolerance);
  EXPECT_LE(MaxAbsDifference(fused.grad_weight, ops.grad_weight), tolerance * x.size(0));
  EXPECT_EQ(fused.grad_weight.scalar_type(), weight.scalar_type());
}

TEST(FusedRmsNormTest, Float32MatchesOps) {
  torch::manual_seed(0);
  ExpectMatchesOps(torch::randn({4, 7, 128}) * 3, torch::randn({128}), 1e-5);
}

TEST(FusedRmsNormTest, OddWidthAndSingleRowMatchOps) {
  torch::manual_seed(1);
  ExpectMatchesOps(torch::randn({1, 1, 13}), torch::randn({13}), 1e-5);   // a decode row
  ExpectMatchesOps(torch::randn({3, 2, 5, 6}), torch::randn({6}), 1e-5);  // qk-norm's heads
}

TEST(FusedRmsNormTest, ManyRowsOverThreadsMatchOps) {
  // More rows than one task takes, so the weight gradient is summed over several blocks.
  const int previous = at::get_num_threads();
  at::set_num_threads(2);
  torch::manual_seed(2);
  ExpectMatchesOps(torch::randn({64, 33, 96}), torch::randn({96}), 1e-5);
  at::set_num_threads(previous);
}

TEST(FusedRmsNormTest, BFloat16MatchesOps) {
  torch::manual_seed(3);
  auto x = torch::randn({4, 9, 64}).to(torch::kBFloat16);
  auto weight = torch::randn({64}).to(torch::kBFloat16);
  // The gradients differ by rounding: one bfloat16 step at magnitude 4 is 2^-5.
  ExpectMatchesOps(x, weight, 0.07);
  // The output rounds exactly as the op-by-op version's does, twice to bfloat16.
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(FusedRmsNorm(x, weight, 1e-6), RmsNormByOps(x, weight, 1e-6)));
}

TEST(FusedRmsNormTest, HalfOutputWithinOneStep) {
  torch::manual_seed(8);
  auto x = torch::randn({4, 9, 64}).to(torch::kHalf);
  auto weight = torch::randn({64}).to(torch::kHalf);
  torch::NoGradGuard no_grad;
  auto fused = FusedRmsNorm(x, weight, 1e-6).to(torch::kFloat32);
  auto ops = RmsNormByOps(x, weight, 1e-6).to(torch::kFloat32);
  // One half step: 2^-10 of the value's power of two, or 2^-24 below the normal range.
  auto step = torch::pow(2.0, torch::floor(torch::log2(ops.abs().clamp_min(6.1e-5))) - 10);
  EXPECT_TRUE(((fused - ops).abs() <= step).all().item<bool>());
}

TEST(FusedRmsNormTest, SecondDerivativesMatchOps) {
  torch::manual_seed(9);
  auto x = torch::randn({3, 16}, torch::requires_grad());
  auto weight = torch::randn({16}, torch::requires_grad());
  auto x_ref = x.detach().clone().requires_grad_(true);
  auto weight_ref = weight.detach().clone().requires_grad_(true);
  auto grad_x = torch::autograd::grad({FusedRmsNorm(x, weight, 1e-6).pow(2).sum()}, {x}, {},
                                      true, true)[0];
  auto grad_x_ref = torch::autograd::grad({RmsNormByOps(x_ref, weight_ref, 1e-6).pow(2).sum()},
                                          {x_ref}, {}, true, true)[0];
  ASSERT_TRUE(grad_x.requires_grad());
  grad_x.pow(2).sum().backward();
  grad_x_ref.pow(2).sum().backward();
  EXPECT_LT(MaxAbsDifference(weight.grad(), weight_ref.grad()), 1e-4);
  EXPECT_LT(MaxAbsDifference(x.grad(), x_ref.grad()), 1e-4);
}

TEST(FusedRmsNormTest, EmptyTensorsMatchOps) {
  for (auto sizes : {std::vector<int64_t>{0, 8}, std::vector<int64_t>{2, 0, 8}}) {
    auto x = torch::randn(sizes);
    auto weight = torch::randn({8});
    EXPECT_EQ(FusedRmsNorm(x, weight, 1e-6).sizes(), x.sizes());
  }
}

TEST(FusedRmsNormTest, WeightGradientIgnoresThreadCount) {
  torch::manual_seed(4);
  auto x = torch::randn({50, 40, 64});
  auto weight = torch::randn({64});
  auto grad_y = torch::randn({50, 40, 64});
  const int previous = at::get_num_threads();
  at::set_num_threads(1);
  const Gradients one_thread = RunNorm(FusedRmsNorm, x, weight, grad_y);
  at::set_num_threads(2);
  const Gradients two_threads = RunNorm(FusedRmsNorm, x, weight, grad_y);
  at::set_num_threads(previous);
  EXPECT_TRUE(torch::equal(one_thread.grad_weight, two_threads.grad_weight));
  EXPECT_TRUE(torch::equal(one_thread.grad_x, two_threads.grad_x));
}

TEST(FusedRmsNormTest, NonContiguousInputMatchesOps) {
  torch::manual_seed(5);
  auto x = torch::randn({8, 5, 32}).transpose(0, 1);
  ExpectMatchesOps(x, torch::randn({32}), 1e-5);
}

TEST(FusedRmsNormTest, MismatchedWeightDtypeUsesOps) {
  torch::manual_seed(6);
  auto x = torch::randn({2, 3, 16}).to(torch::kBFloat16);
  auto weight = torch::randn({16});
  EXPECT_TRUE(torch::equal(FusedRmsNorm(x, weight, 1e-6), RmsNormByOps(x, weight, 1e-6)));
}

}  // namespace
}  // namespace aha
