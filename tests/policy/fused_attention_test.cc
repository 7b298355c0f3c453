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

TEST(FusedAttentionTest, Bf16TakesOpByOpVersion) {
  EXPECT_FALSE(FusedAttentionApplies(torch::zeros({1}, torch::kBFloat16)));
  Inputs in = MakeInputs(Case{}, 5);
  torch::NoGradGuard no_grad;
  const int64_t calls_before = FusedAttentionCallsSoFar();
  auto keys = in.keys;
  for (torch::Tensor* t : {&keys.prompt_keys, &keys.prompt_values, &keys.row_keys,
                           &keys.row_values}) {
    *t = t->to(torch::kBFloat16);
  }
  auto out = GroupedAttention(in.q.to(torch::kBFloat16), keys, in.allowed, 0.2);
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(FusedAttentionCallsSoFar(), calls_before);
}

}  // namespace
}  // namespace aha
