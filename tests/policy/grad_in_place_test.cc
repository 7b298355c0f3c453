#include "policy/grad_in_place.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "policy/autocast.h"
#include "policy/skinny_linear.h"
#include "tests/policy/tensor_checks.h"

namespace aha {
namespace {

using testing::MaxRelativeError;

// A layer of 70 rows (padded to 80 in both products), 24 inputs and 40 outputs with bias.
struct LinearCase {
  LinearCase() {
    torch::manual_seed(11);
    x = torch::randn({2, 35, 24}, torch::requires_grad());
    weight = torch::randn({40, 24}, torch::requires_grad());
    bias = torch::randn({40}, torch::requires_grad());
    upstream = torch::randn({2, 35, 40});
  }

  torch::Tensor Loss(const torch::Tensor& y) const { return (y * upstream).sum(); }

  // Gradients of x, weight and bias through torch's own linear.
  std::vector<torch::Tensor> TorchGradients() const {
    auto y = torch::nn::functional::linear(x, weight, bias);
    return torch::autograd::grad({Loss(y)}, {x, weight, bias});
  }

  torch::Tensor x, weight, bias, upstream;
};

TEST(GradInPlaceTest, BackwardInScopeAddsToGrad) {
  LinearCase c;
  ASSERT_TRUE(AccumulatesInGrad(c.x, c.weight, c.bias));
  auto want = c.TorchGradients();
  const int64_t before = GradAccumulationsInPlaceSoFar();
  {
    AccumulateGradsInPlace in_place;
    c.Loss(Linear(c.x, c.weight, c.bias)).backward();
  }
  EXPECT_EQ(GradAccumulationsInPlaceSoFar() - before, 1);
  EXPECT_LT(MaxRelativeError(c.x.grad(), want[0]), 1e-5);
  EXPECT_LT(MaxRelativeError(c.weight.grad(), want[1]), 1e-5);
  EXPECT_LT(MaxRelativeError(c.bias.grad(), want[2]), 1e-5);

  // A second pass adds to what is there, as autograd's accumulation does.
  {
    AccumulateGradsInPlace in_place;
    c.Loss(Linear(c.x, c.weight, c.bias)).backward();
  }
  EXPECT_LT(MaxRelativeError(c.weight.grad(), 2 * want[1]), 1e-5);
  EXPECT_LT(MaxRelativeError(c.bias.grad(), 2 * want[2]), 1e-5);
}

TEST(GradInPlaceTest, GradOutsideScopeReturnsWeightGradient) {
  LinearCase c;
  auto want = c.TorchGradients();
  const int64_t before = GradAccumulationsInPlaceSoFar();
  auto got = torch::autograd::grad({c.Loss(Linear(c.x, c.weight, c.bias))},
                                   {c.x, c.weight, c.bias});
  EXPECT_EQ(GradAccumulationsInPlaceSoFar(), before);
  EXPECT_FALSE(c.weight.grad().defined());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LT(MaxRelativeError(got[i], want[i]), 1e-5) << "gradient " << i;
  }
}

TEST(GradInPlaceTest, CreateGraphKeepsSecondDerivatives) {
  LinearCase c;
  AccumulateGradsInPlace in_place;
  auto first = torch::autograd::grad({c.Loss(Linear(c.x, c.weight, c.bias))}, {c.weight},
                                     /*grad_outputs=*/{}, /*retain_graph=*/true,
                                     /*create_graph=*/true)[0];
  auto second = torch::autograd::grad({first.pow(2).sum()}, {c.x})[0];
  auto want_first = torch::autograd::grad(
      {c.Loss(torch::nn::functional::linear(c.x, c.weight, c.bias))}, {c.weight}, {}, true,
      true)[0];
  auto want_second = torch::autograd::grad({want_first.pow(2).sum()}, {c.x})[0];
  EXPECT_LT(MaxRelativeError(first, want_first), 1e-5);
  EXPECT_LT(MaxRelativeError(second, want_second), 1e-5);
}

TEST(GradInPlaceTest, AppliesOnlyToLeafWeightsOfOneDtype) {
  LinearCase c;
  EXPECT_FALSE(AccumulatesInGrad(c.x, c.weight.detach(), c.bias));       // frozen weight
  EXPECT_FALSE(AccumulatesInGrad(c.x, c.weight * 2, c.bias));            // not a leaf
  auto bf16_weight = c.weight.detach().to(torch::kBFloat16).requires_grad_(true);
  EXPECT_TRUE(AccumulatesInGrad(c.x.to(torch::kBFloat16), bf16_weight, torch::Tensor()));
  EXPECT_FALSE(AccumulatesInGrad(c.x, bf16_weight, torch::Tensor()));    // mixed dtypes
  EXPECT_FALSE(AccumulatesInGrad(c.x.to(torch::kBFloat16), bf16_weight, c.bias));
  EXPECT_FALSE(AccumulatesInGrad(c.x.to(torch::kFloat64),
                                 c.weight.detach().to(torch::kFloat64).requires_grad_(true),
                                 torch::Tensor()));
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(AccumulatesInGrad(c.x, c.weight, c.bias));                // nothing recorded
}

// A bfloat16 layer's weight gradient goes into its bfloat16 .grad, rounded once per pass,
// within bfloat16 noise of autograd's.
TEST(GradInPlaceTest, Bf16BackwardInScopeAddsToGrad) {
  LinearCase c;
  auto x = c.x.detach().to(torch::kBFloat16).requires_grad_(true);
  auto weight = c.weight.detach().to(torch::kBFloat16).requires_grad_(true);
  auto bias = c.bias.detach().to(torch::kBFloat16).requires_grad_(true);
  auto upstream = c.upstream.to(torch::kBFloat16);
  auto y = torch::nn::functional::linear(x, weight, bias);
  auto want = torch::autograd::grad({(y * upstream).sum()}, {x, weight, bias});
  const int64_t before = GradAccumulationsInPlaceSoFar();
  for (int pass = 1; pass <= 2; ++pass) {
    AccumulateGradsInPlace in_place;
    (Linear(x, weight, bias) * upstream).sum().backward();
  }
  EXPECT_EQ(GradAccumulationsInPlaceSoFar() - before, 2);
  ASSERT_EQ(weight.grad().scalar_type(), torch::kBFloat16);
  // Sums of 70 products, each rounded to bfloat16 (2^-8 relative) once or twice.
  EXPECT_LT(MaxRelativeError(weight.grad().to(torch::kFloat32),
                             2 * want[1].to(torch::kFloat32)), 0.02);
  EXPECT_LT(MaxRelativeError(x.grad().to(torch::kFloat32), 2 * want[0].to(torch::kFloat32)),
            0.02);
  EXPECT_LT(MaxRelativeError(bias.grad().to(torch::kFloat32), 2 * want[2].to(torch::kFloat32)),
            0.02);
}

// With and without autograd a layer with a bias rounds its bfloat16 output once, in the same
// product, so that the log-probs of training and of scoring agree exactly.
TEST(GradInPlaceTest, Bf16OutputMatchesScoringExactly) {
  LinearCase c;
  auto x = c.x.detach().to(torch::kBFloat16);
  auto weight = c.weight.detach().to(torch::kBFloat16).requires_grad_(true);
  auto bias = c.bias.detach().to(torch::kBFloat16).requires_grad_(true);
  torch::Tensor scored;
  {
    torch::NoGradGuard no_grad;
    scored = Linear(x, weight, bias);
  }
  ASSERT_TRUE(AccumulatesInGrad(x, weight, bias));
  EXPECT_TRUE(Linear(x, weight, bias).detach().equal(scored));
}

TEST(GradInPlaceTest, EmbeddingSumsWithTiedOutputLayer) {
  torch::manual_seed(12);
  auto weight = torch::randn({9, 4}, torch::requires_grad());
  auto ids = torch::tensor({{3, 1, 3}, {0, 8, 3}});  // repeated rows must sum
  auto upstream = torch::randn({2, 3, 4});
  // The same weight read as embeddings and as a tied output layer.
  auto loss = [&](const torch::Tensor& embedded) {
    auto y = embedded * upstream;
    return y.sum() + Linear(y, weight, torch::Tensor()).pow(2).sum();
  };
  auto want = torch::autograd::grad({loss(torch::embedding(weight, ids))}, {weight})[0];
  auto got = torch::autograd::grad({loss(EmbeddingLookup(weight, ids))}, {weight})[0];
  EXPECT_LT(MaxRelativeError(got, want), 1e-5);

  const int64_t before = GradAccumulationsInPlaceSoFar();
  {
    AccumulateGradsInPlace in_place;
    loss(EmbeddingLookup(weight, ids)).backward();
  }
  EXPECT_EQ(GradAccumulationsInPlaceSoFar() - before, 2);  // the lookup and the output layer
  EXPECT_LT(MaxRelativeError(weight.grad(), want), 1e-5);
}

TEST(GradInPlaceTest, AutocastLeavesLinearToTorch) {
  for (int64_t rows : {16, 100}) {
    SCOPED_TRACE(rows);
    torch::manual_seed(13);
    auto x = torch::randn({rows, 24}, torch::requires_grad());
    auto weight = torch::randn({40, 24}, torch::requires_grad());
    Bf16AutocastScope autocast(/*enabled=*/true);
    EXPECT_FALSE(AccumulatesInGrad(x, weight, torch::Tensor()));
    auto y = Linear(x, weight, torch::Tensor());
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
    AccumulateGradsInPlace in_place;
    y.to(torch::kFloat32).sum().backward();
    ASSERT_TRUE(weight.grad().defined());
    EXPECT_EQ(weight.grad().scalar_type(), torch::kFloat32);
    EXPECT_LT(MaxRelativeError(weight.grad(), x.detach().sum(0).expand({40, 24})), 1e-2);
  }
}

}  // namespace
}  // namespace aha
