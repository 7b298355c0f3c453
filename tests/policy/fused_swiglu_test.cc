#include "policy/fused_swiglu.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "policy/vector_math.h"

namespace aha {
namespace {

class FusedSwiGluTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CpuHasAvx512()) GTEST_SKIP() << "the loops need AVX-512; SwiGlu takes the ops here";
  }
};

double MaxDifference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max().item<double>();
}

// (3, 37): a tail of 5 after two full vectors of 16 in each row, with gates far out on both
// sides, where e^-g overflows or vanishes.
torch::Tensor Gates() {
  auto gate = torch::randn({3, 37}) * 3.0;
  gate[0][0] = 100.0f;
  gate[0][1] = -100.0f;
  gate[1][36] = 88.5f;
  gate[2][20] = -88.5f;
  return gate;
}

TEST_F(FusedSwiGluTest, Float32MatchesOpsForwardAndBackward) {
  torch::manual_seed(0);
  auto gate = Gates().requires_grad_();
  auto up = torch::randn({3, 37}).requires_grad_();
  auto grad = torch::randn({3, 37});
  const int64_t calls_before = FusedSwiGluCallsSoFar();
  auto got = SwiGlu(gate, up);
  EXPECT_EQ(FusedSwiGluCallsSoFar() - calls_before, 1);
  auto got_grads = torch::autograd::grad({got}, {gate, up}, {grad});
  auto want = SwiGluByOps(gate, up);
  auto want_grads = torch::autograd::grad({want}, {gate, up}, {grad});
  // Float32 rounding of values up to ~100, and an exponential within 4e-7 of std::exp.
  EXPECT_LT(MaxDifference(got, want), 1e-4);
  EXPECT_LT(MaxDifference(got_grads[0], want_grads[0]), 1e-4);
  EXPECT_LT(MaxDifference(got_grads[1], want_grads[1]), 1e-4);
  EXPECT_TRUE(torch::isfinite(got_grads[0]).all().item<bool>());
}

TEST_F(FusedSwiGluTest, Bf16RoundsTheFloat32ResultOnce) {
  torch::manual_seed(1);
  auto gate = Gates().to(torch::kBFloat16).requires_grad_();
  auto up = torch::randn({3, 37}).to(torch::kBFloat16).requires_grad_();
  auto grad = torch::randn({3, 37}).to(torch::kBFloat16);
  auto got = SwiGlu(gate, up);
  ASSERT_EQ(got.scalar_type(), torch::kBFloat16);
  auto got_grads = torch::autograd::grad({got}, {gate, up}, {grad});

  auto wide_gate = gate.detach().to(torch::kFloat32).requires_grad_();
  auto wide_up = up.detach().to(torch::kFloat32).requires_grad_();
  auto wide = SwiGlu(wide_gate, wide_up);
  auto wide_grads = torch::autograd::grad({wide}, {wide_gate, wide_up}, {grad.to(torch::kFloat32)});
  EXPECT_TRUE(got.detach().equal(wide.detach().to(torch::kBFloat16)));
  EXPECT_TRUE(got_grads[0].equal(wide_grads[0].to(torch::kBFloat16)));
  EXPECT_TRUE(got_grads[1].equal(wide_grads[1].to(torch::kBFloat16)));

  // Within bfloat16 noise of LibTorch's bfloat16 ops, which round silu's output as well.
  auto by_ops = SwiGluByOps(gate, up);
  const double scale = by_ops.abs().max().item<double>();
  EXPECT_LT(MaxDifference(got, by_ops), scale * std::pow(2.0, -7));
}

TEST_F(FusedSwiGluTest, NanStaysNanAndStridedInputWorks) {
  torch::manual_seed(2);
  torch::NoGradGuard no_grad;
  auto gate = torch::randn({37, 3}).t();  // not contiguous
  auto up = torch::randn({3, 37});
  gate[1][4] = std::numeric_limits<float>::quiet_NaN();
  auto got = SwiGlu(gate, up);
  EXPECT_TRUE(std::isnan(got[1][4].item<float>()));
  got[1][4] = 0.0f;
  auto want = SwiGluByOps(gate, up);
  want[1][4] = 0.0f;
  EXPECT_LT(MaxDifference(got, want), 1e-5);
  auto got_bf16 = SwiGlu(gate.to(torch::kBFloat16), up.to(torch::kBFloat16));
  EXPECT_TRUE(std::isnan(got_bf16[1][4].item<float>()));
}

TEST_F(FusedSwiGluTest, SecondDerivativeMatchesOps) {
  torch::manual_seed(3);
  auto gate = torch::randn({2, 20}).requires_grad_();
  auto up = torch::randn({2, 20}).requires_grad_();
  auto second = [&](const torch::Tensor& y) {
    auto first = torch::autograd::grad({y.pow(2).sum()}, {gate}, {}, /*retain_graph=*/true,
                                       /*create_graph=*/true)[0];
    return torch::autograd::grad({first.sum()}, {up})[0];
  };
  EXPECT_LT(MaxDifference(second(SwiGlu(gate, up)), second(SwiGluByOps(gate, up))), 1e-4);
}

}  // namespace
}  // namespace aha
