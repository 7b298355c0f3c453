#include "policy/fused_attention.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "policy/transformer.h"
#include "tests/policy/tensor_checks.h"

namespace aha {
namespace {

using testing::MaxRelativeError;

// B prompts of P tokens (prompt 0 left-padded by up to 2) continued by N = B * G rows of T tokens,
// H query heads on K key/value heads of size D. The last row is padded at its end.
struct Case {
  int64_t b = 2, g = 3, p = 5, t = 6, h = 4, k = 2, d = 32;
  bool with_prompts = true;
};

struct Inputs {
  torch::Tensor q;
  AttentionKeys keys;
  torch::Tensor allowed;
};

Inputs MakeInputs(const Case& c, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t n = c.b * c.g;
  auto valid = torch::ones({n, c.t}, torch::kBool);
  valid[n - 1].narrow(0, c.t - 2, 2).fill_(false);
  Inputs in;
  in.q = torch::randn({n, c.h, c.t, c.d}).requires_grad_();
  in.keys.row_keys = torch::randn({n, c.k, c.t, c.d}).requires_grad_();
  in.keys.row_values = torch::randn({n, c.k, c.t, c.d}).requires_grad_();
  if (c.with_prompts) {
    auto prompt_valid = torch::ones({c.b, c.p}, torch::kBool);
    prompt_valid[0].narrow(0, 0, std::min<int64_t>(2, c.p - 1)).fill_(false);
    in.keys.prompt_keys = torch::randn({c.b, c.k, c.p, c.d}).requires_grad_();
    in.keys.prompt_values = torch::randn({c.b, c.k, c.p, c.d}).requires_grad_();
    in.keys.prompt_of_row = torch::arange(c.b).repeat_interleave(c.g);
    in.allowed = BuildContinuationMask(prompt_valid, in.keys.prompt_of_row, valid);
  } else {
    in.keys.prompt_keys = torch::empty({0, c.k, 0, c.d});
    in.keys.prompt_values = torch::empty({0, c.k, 0, c.d});
    in.keys.prompt_of_row = torch::empty({0}, torch::kInt64);
    in.allowed = BuildAttentionMask(valid);
  }
  return in;
}

std::vector<torch::Tensor> Leaves(const Inputs& in) {
  std::vector<torch::Tensor> leaves = {in.q, in.keys.row_keys, in.keys.row_values};
  if (in.keys.prompt_keys.requires_grad()) {
    leaves.push_back(in.keys.prompt_keys);
    leaves.push_back(in.keys.prompt_values);
  }
  return leaves;
}

// Compares the output and the gradients of every input with those of GroupedAttentionByOps.
void ExpectMatchesByOps(const Case& c) {
  if (!FusedAttentionApplies(torch::zeros({1}))) {
    GTEST_SKIP() << "AHA_FUSED_ATTENTION=torch or no sgemm_ in this process";
  }
  Inputs in = MakeInputs(c, 7);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
  const int64_t calls_before = FusedAttentionCallsSoFar();
  auto got = GroupedAttention(in.q, in.keys, in.allowed, scale);
  EXPECT_EQ(FusedAttentionCallsSoFar() - calls_before, 1);
  auto want = GroupedAttentionByOps(in.q, in.keys, in.allowed, scale);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_LT(MaxRelativeError(got, want), 1e-5);

  auto weights = torch::randn(got.sizes());
  auto got_grads = torch::autograd::grad({(got * weights).sum()}, Leaves(in));
  auto want_grads = torch::autograd::grad({(want * weights).sum()}, Leaves(in));
  for (size_t i = 0; i < got_grads.size(); ++i) {
    SCOPED_TRACE("input " + std::to_string(i));
    EXPECT_LT(MaxRelativeError(got_grads[i], want_grads[i]), 1e-4);
  }
}

TEST(FusedAttentionTest, ContinuationsMatchByOps) { ExpectMatchesByOps(Case{}); }

TEST(FusedAttentionTest, SelfAttentionMatchesByOps) {
  Case c;
  c.with_prompts = false;
  ExpectMatchesByOps(c);
}

TEST(FusedAttentionTest, OddSizesMatchByOps) {
  Case c;
  c.b = 3;
  c.g = 1;
  c.p = 1;
  c.t = 17;
  c.h = 6;
  c.k = 3;
  c.d = 8;
  ExpectMatchesByOps(c);
}

TEST(FusedAttentionTest, HeadGroupingsMatchByOps) {
  for (auto [heads, kv_heads] : {std::pair<int64_t, int64_t>{2, 2}, {6, 2}, {9, 1}}) {
    SCOPED_TRACE(std::to_string(heads) + " heads on " + std::to_string(kv_heads));
    Case c;
    c.h = heads;
    c.k = kv_heads;
    ExpectMatchesByOps(c);
  }
}

// A backward pass with create_graph differentiates the op-by-op version, so a second
// derivative exists and matches it.
TEST(FusedAttentionTest, SecondDerivativesMatchByOps) {
  Inputs in = MakeInputs(Case{}, 9);
  const double scale = 0.2;
  auto second = [&](const torch::Tensor& out) {
    auto grad_q = torch::autograd::grad({out.pow(2).sum()}, {in.q}, {}, /*retain_graph=*/true,
                                        /*create_graph=*/true)[0];
    return torch::autograd::grad({grad_q.sum()}, {in.keys.row_keys})[0];
  };
  auto got = second(GroupedAttention(in.q, in.keys, in.allowed, scale));
  auto want = second(GroupedAttentionByOps(in.q, in.keys, in.allowed, scale));
  EXPECT_LT(MaxRelativeError(got, want), 1e-4);
}

TEST(FusedAttentionTest, NanScoresGiveNanOutput) {
  Inputs in = MakeInputs(Case{}, 3);
  torch::NoGradGuard no_grad;
  in.q[1][0][2][0] = std::numeric_limits<float>::quiet_NaN();
  auto out = GroupedAttention(in.q, in.keys, in.allowed, 0.2);
  EXPECT_TRUE(std::isnan(out[1][0][2][0].item<float>()));
  EXPECT_FALSE(std::isnan(out[0][0][2][0].item<float>()));
}

// bfloat16 runs the float32 loops on float32 copies: the output is theirs rounded once, within
// bfloat16 noise of the op-by-op version, which rounds the scores and the weights too, and the
// gradients reach the bfloat16 inputs.
TEST(FusedAttentionTest, Bf16RunsTheFloat32LoopsOnCopies) {
  if (!FusedAttentionApplies(torch::zeros({1}))) GTEST_SKIP() << "no sgemm_ in this process";
  EXPECT_TRUE(FusedAttentionApplies(torch::zeros({1}, torch::kBFloat16)));
  Inputs in = MakeInputs(Case{}, 5);
  auto narrow_copy = [](const torch::Tensor& t) {
    return t.detach().to(torch::kBFloat16).requires_grad_();
  };
  AttentionKeys keys = in.keys;
  for (torch::Tensor* t : {&keys.prompt_keys, &keys.prompt_values, &keys.row_keys,
                           &keys.row_values}) {
    *t = narrow_copy(*t);
  }
  auto q = narrow_copy(in.q);
  const int64_t calls_before = FusedAttentionCallsSoFar();
  auto out = GroupedAttention(q, keys, in.allowed, 0.2);
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(FusedAttentionCallsSoFar() - calls_before, 1);

  torch::NoGradGuard no_grad;
  AttentionKeys wide_keys = keys;
  for (torch::Tensor* t : {&wide_keys.prompt_keys, &wide_keys.prompt_values,
                           &wide_keys.row_keys, &wide_keys.row_values}) {
    *t = t->to(torch::kFloat32);
  }
  auto wide = GroupedAttention(q.to(torch::kFloat32), wide_keys, in.allowed, 0.2);
  EXPECT_TRUE(out.detach().equal(wide.to(torch::kBFloat16)));
  auto by_ops = GroupedAttentionByOps(q, keys, in.allowed, 0.2).to(torch::kFloat32);
  // The op-by-op version rounds three times to bfloat16, each within 2^-8 relative.
  EXPECT_LT(MaxRelativeError(out.detach().to(torch::kFloat32), by_ops), 0.02);
  // It is closer to float32 arithmetic on the same inputs than the op-by-op version.
  EXPECT_LE((out.detach().to(torch::kFloat32) - wide).abs().sum().item<double>(),
            (by_ops - wide).abs().sum().item<double>());

  torch::GradMode::set_enabled(true);
  out.to(torch::kFloat32).pow(2).sum().backward();
  for (const torch::Tensor& leaf : {q, keys.prompt_keys, keys.prompt_values, keys.row_keys,
                                    keys.row_values}) {
    ASSERT_TRUE(leaf.grad().defined());
    EXPECT_EQ(leaf.grad().scalar_type(), torch::kBFloat16);
    EXPECT_GT(leaf.grad().abs().sum().item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace aha
