#include "policy/rope.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

// q as the attention layers pass it: (N, H, T, D), a transposed view of (N, T, H, D), with
// cos/sin (N, 1, T, D) broadcast over the heads.
struct Inputs {
  torch::Tensor x, cos, sin;
};

Inputs MakeInputs(uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t n = 2, t = 5, h = 3, d = 8;
  Inputs in;
  in.x = torch::randn({n, t, h, d}).transpose(1, 2).detach().requires_grad_();
  auto angles = torch::rand({n, 1, t, d / 2}) * 6.0;
  in.cos = torch::cat({angles.cos(), angles.cos()}, -1);
  in.sin = torch::cat({angles.sin(), angles.sin()}, -1);
  return in;
}

TEST(RopeTest, LoopEqualsOpsExactly) {
  Inputs in = MakeInputs(1);
  const int64_t calls_before = FusedRotaryCallsSoFar();
  auto got = ApplyRotary(in.x, in.cos, in.sin);
  EXPECT_EQ(FusedRotaryCallsSoFar() - calls_before, 1);
  auto want = RotaryByOps(in.x, in.cos, in.sin);
  EXPECT_TRUE(torch::equal(got, want));

  auto weights = torch::randn(got.sizes());
  auto got_grad = torch::autograd::grad({(got * weights).sum()}, {in.x})[0];
  auto want_grad = torch::autograd::grad({(want * weights).sum()}, {in.x})[0];
  EXPECT_TRUE(torch::equal(got_grad, want_grad));
}

TEST(RopeTest, ThreeDimInputEqualsOps) {
  Inputs in = MakeInputs(2);
  torch::NoGradGuard no_grad;
  auto x = in.x.select(0, 1);  // (H, T, D)
  auto cos = in.cos.select(0, 1), sin = in.sin.select(0, 1);
  EXPECT_TRUE(torch::equal(ApplyRotary(x, cos, sin), RotaryByOps(x, cos, sin)));
}

// A create_graph backward pass takes the op-by-op transpose, which is differentiable: the
// gradient of the gradient's norm reaches the output gradient.
TEST(RopeTest, SecondDerivativeEqualsOps) {
  Inputs in = MakeInputs(3);
  auto weights = torch::randn(in.x.sizes()).requires_grad_();
  auto second = [&](const torch::Tensor& y) {
    auto grad_x = torch::autograd::grad({(y * weights).sum()}, {in.x}, {},
                                        /*retain_graph=*/true, /*create_graph=*/true)[0];
    return torch::autograd::grad({grad_x.pow(2).sum()}, {weights})[0];
  };
  auto got = second(ApplyRotary(in.x, in.cos, in.sin));
  auto want = second(RotaryByOps(in.x, in.cos, in.sin));
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-5);
}

// bfloat16 takes the loop on float32 copies and rounds once: the float32 result on the rounded
// inputs, rounded, and within one bfloat16 step of the op-by-op version.
TEST(RopeTest, Bf16RotatesFloat32CopiesAndRoundsOnce) {
  Inputs in = MakeInputs(4);
  const int64_t calls_before = FusedRotaryCallsSoFar();
  auto x = in.x.detach().to(torch::kBFloat16).requires_grad_();
  auto cos = in.cos.to(torch::kBFloat16), sin = in.sin.to(torch::kBFloat16);
  auto bf16 = ApplyRotary(x, cos, sin);
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(FusedRotaryCallsSoFar() - calls_before, 1);
  torch::Tensor wide;
  {
    torch::NoGradGuard no_grad;
    wide = RotaryByOps(x.to(torch::kFloat32), cos.to(torch::kFloat32), sin.to(torch::kFloat32));
    EXPECT_TRUE(bf16.detach().equal(wide.to(torch::kBFloat16)));
    auto by_ops = RotaryByOps(x, cos, sin).to(torch::kFloat32);
    // Results stay below 8 here, where bfloat16 values are at most 2^-5 apart, so the two
    // versions differ by at most two such steps.
    EXPECT_LT((bf16.detach().to(torch::kFloat32) - by_ops).abs().max().item<double>(), 0.07);
  }
  bf16.to(torch::kFloat32).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().scalar_type(), torch::kBFloat16);
}

// int64 CPU positions take the copying loop and int32 ones the gathers. Both must read the same
// rows, including rows that grow the tables past their first 256 positions.
TEST(RopeTest, CpuLookupEqualsGathers) {
  ModelConfig config;
  config.head_dim = 8;
  config.rope_theta = 10000.0;
  RopeTables loop_tables(config), gather_tables(config);
  const torch::Tensor positions = torch::tensor({{0, 5, 300}, {7, 1000, 2}}, torch::kInt64);
  auto [cos, sin] = loop_tables.Lookup(positions, torch::kFloat32);
  auto [want_cos, want_sin] = gather_tables.Lookup(positions.to(torch::kInt32), torch::kFloat32);
  ASSERT_EQ(cos.sizes(), (std::vector<int64_t>{2, 3, 8}));
  EXPECT_TRUE(torch::equal(cos, want_cos));
  EXPECT_TRUE(torch::equal(sin, want_sin));

  auto [bf16_cos, bf16_sin] = loop_tables.Lookup(positions.t(), torch::kBFloat16);
  EXPECT_EQ(bf16_cos.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(bf16_sin, want_sin.transpose(0, 1).to(torch::kBFloat16)));
}

TEST(RopeTest, NegativePositionIsAnError) {
  ModelConfig config;
  config.head_dim = 8;
  RopeTables tables(config);
  EXPECT_THROW(tables.Lookup(torch::tensor({3, -1}, torch::kInt64), torch::kFloat32),
               c10::Error);
  EXPECT_THROW(tables.Lookup(torch::tensor({3, -1}, torch::kInt32), torch::kFloat32),
               c10::Error);
}

}  // namespace
}  // namespace aha
