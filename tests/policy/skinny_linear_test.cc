#include "policy/skinny_linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/policy/tensor_checks.h"

namespace aha {
namespace {

using testing::MaxRelativeError;

// The loop under test needs AVX-512. Without it every call goes to torch, so the comparisons
// would test nothing and are skipped instead.
#define SKIP_WITHOUT_AVX512()                                              \
  if (!SkinnyLinearAvailable()) GTEST_SKIP() << "this CPU has no AVX-512"

// Every row count up to the limit, with widths that leave a partial vector and a partial block
// of 4 weight rows.
TEST(SkinnyLinearTest, RowCountsAndOddShapesMatchTorch) {
  SKIP_WITHOUT_AVX512();
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const int64_t calls_before = SkinnyLinearCallsSoFar();
  for (int64_t k : {1, 15, 16, 33, 896}) {
    for (int64_t n : {1, 3, 4, 9, 130}) {
      auto weight = torch::randn({n, k});
      auto bias = torch::randn({n});
      for (int64_t m = 1; m <= kMaxSkinnyRows; ++m) {
        auto x = torch::randn({m, k});
        SCOPED_TRACE("m " + std::to_string(m) + ", n " + std::to_string(n) + ", k " +
                     std::to_string(k));
        EXPECT_LT(MaxRelativeError(Linear(x, weight, bias),
                                   torch::nn::functional::linear(x, weight, bias)),
                  1e-5);
        EXPECT_LT(MaxRelativeError(Linear(x, weight, torch::Tensor()), torch::matmul(x, weight.t())),
                  1e-5);
      }
    }
  }
  // Every call above took the loop, not torch.
  EXPECT_EQ(SkinnyLinearCallsSoFar() - calls_before, 5 * 5 * kMaxSkinnyRows * 2);
}

TEST(SkinnyLinearTest, KeepsLeadingDimsAndReadsStridedInput) {
  SKIP_WITHOUT_AVX512();
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  auto weight = torch::randn({40, 24});
  auto x = torch::randn({24, 3, 2}).permute({1, 2, 0});  // (3, 2, 24), not contiguous
  const int64_t calls_before = SkinnyLinearCallsSoFar();
  auto y = Linear(x, weight, torch::Tensor());
  EXPECT_EQ(SkinnyLinearCallsSoFar() - calls_before, 1);
  ASSERT_EQ(y.sizes(), torch::IntArrayRef({3, 2, 40}));
  EXPECT_LT(MaxRelativeError(y, torch::matmul(x, weight.t())), 1e-5);
}

TEST(SkinnyLinearTest, ManyWeightRowsOverThreadsMatchTorch) {
  SKIP_WITHOUT_AVX512();
  torch::NoGradGuard no_grad;
  const int previous = at::get_num_threads();
  at::set_num_threads(2);
  torch::manual_seed(2);
  auto weight = torch::randn({5003, 96});
  auto x = torch::randn({5, 96});
  EXPECT_LT(MaxRelativeError(Linear(x, weight, torch::Tensor()), torch::matmul(x, weight.t())),
            1e-5);
  at::set_num_threads(previous);
}

// Products of one input in one call, with partial blocks of 4 weight rows at the boundaries
// between products, each matching its own torch product.
TEST(SkinnyLinearTest, ManyProductsOfOneInputMatchTorch) {
  SKIP_WITHOUT_AVX512();
  torch::NoGradGuard no_grad;
  const int previous = at::get_num_threads();
  at::set_num_threads(2);
  torch::manual_seed(5);
  for (int64_t m : {int64_t{1}, int64_t{7}, int64_t{16}, kMaxSkinnyRows}) {
    const int64_t k = 40;
    auto x = torch::randn({m, k});
    std::vector<torch::Tensor> weights = {torch::randn({130, k}), torch::randn({3, k}),
                                          torch::randn({1029, k})};
    std::vector<torch::Tensor> biases = {torch::randn({130}), torch::Tensor(),
                                         torch::randn({1029})};
    std::vector<torch::Tensor> outputs;
    std::vector<SkinnyProductOf<float>> products;
    for (size_t i = 0; i < weights.size(); ++i) {
      outputs.push_back(torch::full({m, weights[i].size(0)}, NAN));
      products.push_back({weights[i].data_ptr<float>(),
                          biases[i].defined() ? biases[i].data_ptr<float>() : nullptr,
                          weights[i].size(0), outputs[i].data_ptr<float>()});
    }
    SkinnyLinearMany(x.data_ptr<float>(), m, k, products);
    for (size_t i = 0; i < weights.size(); ++i) {
      SCOPED_TRACE("m " + std::to_string(m) + ", product " + std::to_string(i));
      EXPECT_LT(MaxRelativeError(outputs[i],
                                 torch::nn::functional::linear(x, weights[i], biases[i])),
                1e-5);
    }
  }
  at::set_num_threads(previous);
}

TEST(SkinnyLinearTest, BFloat16MatchesFloat32SumsRoundedOnce) {
  SKIP_WITHOUT_AVX512();
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  const int64_t calls_before = SkinnyLinearCallsSoFar();
  for (int64_t k : {7, 16, 40, 896}) {
    auto weight = torch::randn({37, k}).to(torch::kBFloat16);
    auto bias = torch::randn({37}).to(torch::kBFloat16);
    auto x = torch::randn({5, k}).to(torch::kBFloat16);
    auto y = Linear(x, weight, bias);
    ASSERT_EQ(y.scalar_type(), torch::kBFloat16);
    // The float32 product of the same bfloat16 values, rounded once.
    auto want = torch::nn::functional::linear(x.to(torch::kFloat32), weight.to(torch::kFloat32),
                                              bias.to(torch::kFloat32));
    // At most one bfloat16 step (2^-7 of the value's power of two) from the exact rounding,
    // because the float32 sums run in a different order.
    auto step = torch::pow(2.0, torch::floor(torch::log2(want.abs().clamp_min(1e-30))) - 7);
    EXPECT_TRUE(((y.to(torch::kFloat32) - want).abs() <= step).all().item<bool>()) << "k " << k;
  }
  EXPECT_EQ(SkinnyLinearCallsSoFar() - calls_before, 4);
}

TEST(SkinnyLinearTest, GradientsFlowWhenInputsRequireThem) {
  torch::manual_seed(3);
  auto weight = torch::randn({6, 8}, torch::requires_grad());
  auto x = torch::randn({2, 8});
  Linear(x, weight, torch::Tensor()).sum().backward();
  ASSERT_TRUE(weight.grad().defined());
  EXPECT_LT(MaxRelativeError(weight.grad(), x.sum(0).expand({6, 8})), 1e-6);

  // An input that requires gradients keeps the AVX-512 loop out of the graph.
  auto frozen = weight.detach();
  auto x_grad = x.clone().requires_grad_(true);
  const int64_t calls_before = SkinnyLinearCallsSoFar();
  Linear(x_grad, frozen, torch::Tensor()).sum().backward();
  EXPECT_EQ(SkinnyLinearCallsSoFar(), calls_before);
  EXPECT_LT(MaxRelativeError(x_grad.grad(), frozen.sum(0).expand({2, 8})), 1e-6);
}

TEST(SkinnyLinearTest, ManyRowsAndOtherDtypesUseTorch) {
  torch::NoGradGuard no_grad;
  const int64_t calls_before = SkinnyLinearCallsSoFar();
  torch::manual_seed(4);
  auto weight = torch::randn({7, 8});
  auto x = torch::randn({kMaxSkinnyRows + 1, 8});
  // Row padding may round differently from the unpadded product.
  EXPECT_LT(MaxRelativeError(Linear(x, weight, torch::Tensor()),
                             torch::nn::functional::linear(x, weight, torch::Tensor())), 1e-6);
  auto x64 = torch::randn({2, 8}).to(torch::kFloat64);
  auto w64 = weight.to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(Linear(x64, w64, torch::Tensor()),
                           torch::nn::functional::linear(x64, w64, torch::Tensor())));
  EXPECT_EQ(SkinnyLinearCallsSoFar(), calls_before);
}

// Gradients of sum(linear(x) * upstream) for x, weight and bias, from `linear`.
template <typename LinearFn>
std::vector<torch::Tensor> ValueAndGradients(LinearFn linear, const torch::Tensor& x,
                                             const torch::Tensor& weight,
                                             const torch::Tensor& bias) {
  auto xs = x.detach().requires_grad_(true);
  auto ws = weight.detach().requires_grad_(true);
  auto bs = bias.detach().requires_grad_(true);
  auto y = linear(xs, ws, bs);
  auto upstream = torch::linspace(-1, 1, y.numel()).view(y.sizes());
  auto grads = torch::autograd::grad({(y * upstream).sum()}, {xs, ws, bs});
  return {y.detach(), grads[0], grads[1], grads[2]};
}

TEST(SkinnyLinearTest, PaddedRowsGiveTorchValuesAndGradients) {
  torch::manual_seed(6);
  auto x = torch::randn({3, 22, 40});  // 66 rows, padded to 80
  auto weight = torch::randn({50, 40});
  auto bias = torch::randn({50});
  const int64_t padded_before = RowPaddedLinearCallsSoFar();
  auto ours = ValueAndGradients(
      [](auto& a, auto& w, auto& b) { return Linear(a, w, b); }, x, weight, bias);
  // The forward product and the backward one for x's gradient, both of 66 rows.
  EXPECT_EQ(RowPaddedLinearCallsSoFar() - padded_before, 2);
  auto theirs = ValueAndGradients(
      [](auto& a, auto& w, auto& b) { return torch::nn::functional::linear(a, w, b); }, x,
      weight, bias);
  ASSERT_EQ(ours[0].sizes(), theirs[0].sizes());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_LT(MaxRelativeError(ours[i], theirs[i]), 1e-5) << "output or gradient " << i;
  }
}

TEST(SkinnyLinearTest, PadsOnlyFloat32RowCountsOffTheMultiple) {
  torch::manual_seed(7);
  // An input that requires gradients and a frozen weight go straight to torch's linear.
  auto weight = torch::randn({12, 8});
  auto rows = [](int64_t count) { return torch::randn({count, 8}, torch::requires_grad()); };
  const int64_t padded_before = RowPaddedLinearCallsSoFar();
  Linear(rows(4 * kLinearRowMultiple), weight, torch::Tensor());  // a multiple
  Linear(rows(kMinPaddedLinearRows - 1), weight, torch::Tensor());  // too few
  Linear(rows(kMinPaddedLinearRows + 1).to(torch::kBFloat16), weight.to(torch::kBFloat16),
         torch::Tensor());  // oneDNN's blocking, not OpenBLAS's
  EXPECT_EQ(RowPaddedLinearCallsSoFar(), padded_before);
  Linear(rows(kMinPaddedLinearRows + 1), weight, torch::Tensor());
  EXPECT_EQ(RowPaddedLinearCallsSoFar() - padded_before, 1);
}

}  // namespace
}  // namespace aha
