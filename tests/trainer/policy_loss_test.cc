// Tests the clipped-surrogate policy loss: values and gradients by hand for each aggregation,
// clipping, the k3 KL, the entropy bonus, truncation masking and micro-batch accumulation.
//
// Shapes: N rows, C completion tokens, V vocabulary.
#include "trainer/policy_loss.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

torch::Tensor Float64(std::vector<std::vector<double>> rows) {
  std::vector<torch::Tensor> tensors;
  for (const auto& row : rows) tensors.push_back(torch::tensor(row, torch::kFloat64));
  return torch::stack(tensors);
}

torch::Tensor Mask(std::vector<std::vector<int>> rows) {
  std::vector<torch::Tensor> tensors;
  for (const auto& row : rows) {
    tensors.push_back(torch::tensor(std::vector<int64_t>(row.begin(), row.end())));
  }
  return torch::stack(tensors).to(torch::kBool);
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

LossNormalizer Normalizer(const torch::Tensor& mask, const torch::Tensor& truncated,
                          const PolicyLossOptions& options) {
  auto normalizer = ComputeLossNormalizer(mask, truncated, options);
  EXPECT_TRUE(normalizer.ok()) << normalizer.status();
  return normalizer.ok() ? *normalizer : LossNormalizer{};
}

// Two rows with 3 and 1 valid tokens. Row 0: A = 1, log ratios 0.1, -0.1, 0. Row 1: A = -2,
// log ratio 0. All ratios lie inside [0.8, 1.2], so l_it = -A * ratio and dl/dlogp = -A * ratio.
// Padding contains NaN, which must not reach the loss or the gradient.
struct TwoRows {
  torch::Tensor logprobs = Float64({{-1.0, -2.0, -0.5}, {-1.5, kNan, kNan}}).requires_grad_();
  torch::Tensor old_logprobs = Float64({{-1.1, -1.9, -0.5}, {-1.5, kNan, 3.0}});
  torch::Tensor advantages = torch::tensor({1.0, -2.0}, torch::kFloat64);
  torch::Tensor mask = Mask({{1, 1, 1}, {1, 0, 0}});
  // Row 0's ratios: e^0.1 = 1.1051709, e^-0.1 = 0.9048374, 1; they sum to 3.0100083.
  std::vector<double> ratios = {std::exp(0.1), std::exp(-0.1), 1.0};
};

struct HandCase {
  LossAggregation aggregation;
  double loss;
  double row0_scale;  // gradient of row 0 token t is -ratio_t / row0_scale
  double row1_grad;   // gradient of row 1 token 0
};

TEST(PolicyLossTest, HandComputedAggregations) {
  const double ratio_sum = std::exp(0.1) + std::exp(-0.1) + 1.0;
  const std::vector<HandCase> cases = {
      // token: normalizer 4 tokens. loss = (-3.0100083 + 2) / 4 = -0.2525021.
      // dL/dlogp: row 0 -ratio / 4, row 1 2 / 4.
      {LossAggregation::kToken, (-ratio_sum + 2.0) / 4.0, 4.0, 0.5},
      // grpo: normalizer 2 rows. loss = (-3.0100083 / 3 + 2 / 1) / 2 = 0.4983319.
      // dL/dlogp: row 0 -ratio / (3 * 2), row 1 2 / (1 * 2).
      {LossAggregation::kGrpo, (-ratio_sum / 3.0 + 2.0) / 2.0, 6.0, 1.0},
      // dr_grpo, max_completion_length 4: normalizer 2 * 4. loss = -1.0100083 / 8 = -0.1262510.
      // dL/dlogp: row 0 -ratio / 8, row 1 2 / 8.
      {LossAggregation::kDrGrpo, (-ratio_sum + 2.0) / 8.0, 8.0, 0.25},
  };
  for (const HandCase& c : cases) {
    SCOPED_TRACE(std::string(LossAggregationName(c.aggregation)));
    TwoRows in;
    PolicyLossOptions options;
    options.aggregation = c.aggregation;
    options.max_completion_length = 4;
    PolicyLossResult result = PolicyLoss({in.logprobs, in.old_logprobs, in.advantages, in.mask},
                                         options, Normalizer(in.mask, {}, options));
    EXPECT_NEAR(result.loss.item<double>(), c.loss, 1e-12);
    EXPECT_NEAR(result.stats.policy_gradient_loss, c.loss, 1e-12);
    result.loss.backward();
    torch::Tensor grad = in.logprobs.grad();
    for (int t = 0; t < 3; ++t) {
      EXPECT_NEAR(grad[0][t].item<double>(), -in.ratios[t] / c.row0_scale, 1e-12) << "t " << t;
    }
    EXPECT_NEAR(grad[1][0].item<double>(), c.row1_grad, 1e-12);
    EXPECT_EQ(grad[1][1].item<double>(), 0.0);
    EXPECT_EQ(grad[1][2].item<double>(), 0.0);
    EXPECT_EQ(result.stats.tokens, 4);
    EXPECT_NEAR(result.stats.RatioMean(), (ratio_sum + 1.0) / 4.0, 1e-12);
  }
}

TEST(PolicyLossTest, AsymmetricClipZeroesGradient) {
  // eps_low 0.1, eps_high 0.3: ratios are clipped to [0.9, 1.3].
  // Row 0, A = +1: ratio 1.5 is clipped high (l = -1.3, grad 0); ratio 0.5 is on the
  // pessimistic side and kept (l = -0.5, grad -0.5); ratio 1.2 is inside (l = -1.2, grad -1.2).
  // Row 1, A = -1: ratio 0.8 is clipped low (l = 0.9, grad 0); ratio 1.5 is kept
  // (l = 1.5, grad 1.5); ratio 0.95 is inside (l = 0.95, grad 0.95).
  // token aggregation over 6 tokens: loss = (-3.0 + 3.35) / 6 = 0.0583333, grad = above / 6.
  torch::Tensor logprobs = torch::zeros({2, 3}, torch::kFloat64).requires_grad_();
  torch::Tensor old_logprobs =
      -torch::log(Float64({{1.5, 0.5, 1.2}, {0.8, 1.5, 0.95}}));  // logp - old = log ratio
  torch::Tensor mask = torch::ones({2, 3}, torch::kBool);
  PolicyLossOptions options;
  options.eps_low = 0.1;
  options.eps_high = 0.3;
  options.aggregation = LossAggregation::kToken;
  PolicyLossResult result =
      PolicyLoss({logprobs, old_logprobs, torch::tensor({1.0, -1.0}, torch::kFloat64), mask},
                 options, Normalizer(mask, {}, options));
  EXPECT_NEAR(result.loss.item<double>(), 0.35 / 6.0, 1e-12);
  result.loss.backward();
  torch::Tensor expected = Float64({{0.0, -0.5, -1.2}, {0.0, 1.5, 0.95}}) / 6.0;
  EXPECT_LT(MaxAbsDiff(logprobs.grad(), expected), 1e-12) << logprobs.grad();
  EXPECT_EQ(logprobs.grad()[0][0].item<double>(), 0.0);
  EXPECT_EQ(logprobs.grad()[1][0].item<double>(), 0.0);
  EXPECT_EQ(result.stats.clipped_low, 1);
  EXPECT_EQ(result.stats.clipped_high, 1);
  EXPECT_NEAR(result.stats.ClipLowFraction(), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(result.stats.ClipHighFraction(), 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(result.stats.ratio_sum, 6.45, 1e-12);
}

TEST(PolicyLossTest, K3FiniteAtExtremeLogRatio) {
  // d = ref - logp. d = -100 clamps to -20: e^-20 + 20 - 1 = 19.000000002. d = 100 clamps to
  // 20: e^20 - 21 = 485165174.4. d = 0.5: e^0.5 - 1.5 = 0.1487213.
  torch::Tensor logprobs = torch::tensor({-1.0, -101.0, -2.0, -3.0}, torch::kFloat32);
  torch::Tensor ref = torch::tensor({-101.0, -1.0, -1.5, -3.0}, torch::kFloat32);
  torch::Tensor kl = K3Kl(logprobs, ref, 20.0).to(torch::kFloat64);
  EXPECT_TRUE(torch::isfinite(kl).all().item<bool>()) << kl;
  EXPECT_GE(kl.min().item<double>(), 0.0);
  EXPECT_NEAR(kl[0].item<double>(), std::exp(-20.0) + 19.0, 1e-5);
  EXPECT_NEAR(kl[1].item<double>() / (std::exp(20.0) - 21.0), 1.0, 1e-6);
  EXPECT_NEAR(kl[2].item<double>(), std::exp(0.5) - 1.5, 1e-6);
  EXPECT_EQ(kl[3].item<double>(), 0.0);

  // Non-negative over a sweep of log ratios, in float32.
  torch::Tensor sweep = torch::linspace(-200.0, 200.0, 4001, torch::kFloat32);
  torch::Tensor swept = K3Kl(torch::zeros_like(sweep), sweep, 20.0);
  EXPECT_TRUE(torch::isfinite(swept).all().item<bool>());
  EXPECT_GE(swept.min().item<double>(), 0.0);
}

TEST(PolicyLossTest, KlTermValueAndGradient) {
  // A = 0 removes the surrogate. d = ref - logp = -100, 0.5, 0; k3 = 19.000000002, 0.1487213,
  // 0. loss = beta * sum(k3) / 3 tokens. dk3/dlogp = 1 - e^d: 0 at the clamped token, 1 - e^0.5
  // = -0.6487213, 0; gradient = beta * that / 3.
  torch::Tensor logprobs = Float64({{-1.0, -2.0, -3.0}}).requires_grad_();
  torch::Tensor ref = Float64({{-101.0, -1.5, -3.0}});
  torch::Tensor mask = torch::ones({1, 3}, torch::kBool);
  PolicyLossOptions options;
  options.aggregation = LossAggregation::kToken;
  options.kl_beta = 0.1;
  PolicyLossInputs inputs{logprobs, logprobs.detach(), torch::zeros({1}, torch::kFloat64), mask};
  inputs.ref_logprobs = ref;
  PolicyLossResult result = PolicyLoss(inputs, options, Normalizer(mask, {}, options));
  const double k3_sum = std::exp(-20.0) + 19.0 + std::exp(0.5) - 1.5;
  EXPECT_NEAR(result.loss.item<double>(), 0.1 * k3_sum / 3.0, 1e-12);
  EXPECT_NEAR(result.stats.KlMean(), k3_sum / 3.0, 1e-12);
  EXPECT_EQ(result.stats.policy_gradient_loss, 0.0);
  result.loss.backward();
  torch::Tensor expected = Float64({{0.0, 0.1 * (1.0 - std::exp(0.5)) / 3.0, 0.0}});
  EXPECT_LT(MaxAbsDiff(logprobs.grad(), expected), 1e-12) << logprobs.grad();
}

TEST(PolicyLossTest, EntropyBonusLowersLoss) {
  // A = 0; entropy 1, 2 on the two valid tokens. loss = -0.01 * (1 + 2) / 2 = -0.015 and
  // dL/dH = -0.01 / 2 on valid tokens.
  torch::Tensor logprobs = torch::zeros({1, 3}, torch::kFloat64).requires_grad_();
  torch::Tensor entropy = Float64({{1.0, 2.0, 3.0}}).requires_grad_();
  torch::Tensor mask = Mask({{1, 1, 0}});
  PolicyLossOptions options;
  options.aggregation = LossAggregation::kToken;
  options.entropy_coef = 0.01;
  PolicyLossInputs inputs{logprobs, logprobs.detach(), torch::zeros({1}, torch::kFloat64), mask};
  inputs.entropy = entropy;
  PolicyLossResult result = PolicyLoss(inputs, options, Normalizer(mask, {}, options));
  EXPECT_NEAR(result.loss.item<double>(), -0.015, 1e-12);
  EXPECT_NEAR(result.stats.EntropyMean(), 1.5, 1e-12);
  result.loss.backward();
  EXPECT_LT(MaxAbsDiff(entropy.grad(), Float64({{-0.005, -0.005, 0.0}})), 1e-12);
}

TEST(PolicyLossTest, TruncatedRowsAreMasked) {
  // Row 0 (2 tokens, A = 1) finished; row 1 (3 tokens, A = -1) was truncated. Ratios are 1,
  // so l = -A. grpo aggregation.
  // Masked: only row 0 counts, N_seq = 1: loss = (-2 / 2) / 1 = -1, row 1 gradient 0.
  // Unmasked: N_seq = 2: loss = (-2 / 2 + 3 / 3) / 2 = 0.
  torch::Tensor mask = Mask({{1, 1, 0}, {1, 1, 1}});
  torch::Tensor truncated = torch::tensor({false, true});
  torch::Tensor advantages = torch::tensor({1.0, -1.0}, torch::kFloat64);
  for (bool mask_truncated : {true, false}) {
    SCOPED_TRACE(mask_truncated ? "masked" : "unmasked");
    torch::Tensor logprobs = torch::full({2, 3}, -1.0, torch::kFloat64).requires_grad_();
    PolicyLossOptions options;
    options.mask_truncated = mask_truncated;
    LossNormalizer normalizer = Normalizer(mask, truncated, options);
    EXPECT_EQ(normalizer.value, mask_truncated ? 1.0 : 2.0);
    PolicyLossInputs inputs{logprobs, logprobs.detach(), advantages, mask, truncated};
    PolicyLossResult result = PolicyLoss(inputs, options, normalizer);
    EXPECT_NEAR(result.loss.item<double>(), mask_truncated ? -1.0 : 0.0, 1e-12);
    EXPECT_EQ(result.stats.tokens, mask_truncated ? 2 : 5);
    result.loss.backward();
    const double row1_grad = mask_truncated ? 0.0 : 1.0 / 6.0;
    EXPECT_NEAR(logprobs.grad()[0][0].item<double>(), -0.5 / normalizer.value, 1e-12);
    EXPECT_NEAR(logprobs.grad()[1][0].item<double>(), row1_grad, 1e-12);
  }
}

TEST(PolicyLossTest, AllRowsMaskedGiveZeroLoss) {
  torch::Tensor logprobs = torch::full({2, 2}, -1.0, torch::kFloat64).requires_grad_();
  torch::Tensor mask = Mask({{1, 1}, {1, 0}});
  torch::Tensor truncated = torch::tensor({true, true});
  for (auto aggregation :
       {LossAggregation::kGrpo, LossAggregation::kToken, LossAggregation::kDrGrpo}) {
    PolicyLossOptions options;
    options.aggregation = aggregation;
    options.max_completion_length = 2;
    options.mask_truncated = true;
    PolicyLossInputs inputs{logprobs, logprobs.detach() - 0.5,
                            torch::tensor({1.0, -1.0}, torch::kFloat64), mask, truncated};
    PolicyLossResult result = PolicyLoss(inputs, options, Normalizer(mask, truncated, options));
    EXPECT_EQ(result.loss.item<double>(), 0.0);
    EXPECT_EQ(result.stats.tokens, 0);
    EXPECT_EQ(result.stats.ClipLowFraction(), 0.0);
  }
}

// The trainer's view: log-probs come from parameters through log_softmax and gather, and the
// batch is cut into micro-batches, each scored and backpropagated on its own.
TEST(PolicyLossTest, MicroBatchGradientMatchesFullBatch) {
  torch::manual_seed(11);
  const int64_t n = 6, c = 5, v = 7;
  torch::Tensor logits = torch::randn({n, c, v}, torch::kFloat64).requires_grad_();
  torch::Tensor targets = torch::randint(0, v, {n, c});
  torch::Tensor lengths = torch::tensor({5, 3, 1, 4, 2, 5});
  torch::Tensor mask = torch::arange(c).unsqueeze(0).lt(lengths.unsqueeze(1));  // (N, C)
  torch::Tensor truncated = torch::tensor({false, false, false, true, false, true});
  torch::Tensor advantages = torch::randn({n}, torch::kFloat64);

  auto score = [&](int64_t begin, int64_t end) {
    torch::Tensor log_p = logits.slice(0, begin, end).log_softmax(-1);  // (n, C, V)
    torch::Tensor logprobs =
        log_p.gather(2, targets.slice(0, begin, end).unsqueeze(2)).squeeze(2);  // (n, C)
    torch::Tensor entropy = -(log_p.exp() * log_p).sum(-1);                     // (n, C)
    return std::make_pair(logprobs, entropy);
  };
  torch::Tensor base = score(0, n).first.detach();
  // Old and reference log-probs shifted by Gaussian noise (std 0.3 and 0.5 nats), so that some
  // ratios fall outside the clip range.
  torch::Tensor old_logprobs = base + 0.3 * torch::randn({n, c}, torch::kFloat64);
  torch::Tensor ref_logprobs = base + 0.5 * torch::randn({n, c}, torch::kFloat64);

  for (auto aggregation :
       {LossAggregation::kGrpo, LossAggregation::kToken, LossAggregation::kDrGrpo}) {
    for (bool mask_truncated : {false, true}) {
      SCOPED_TRACE(std::string(LossAggregationName(aggregation)) +
                   (mask_truncated ? " masked" : ""));
      PolicyLossOptions options;
      options.aggregation = aggregation;
      options.eps_high = 0.28;
      options.max_completion_length = 8;
      options.mask_truncated = mask_truncated;
      options.kl_beta = 0.04;
      options.entropy_coef = 0.01;
      const LossNormalizer normalizer = Normalizer(mask, truncated, options);
      auto run = [&](int64_t begin, int64_t end) {
        auto [logprobs, entropy] = score(begin, end);
        PolicyLossInputs inputs{logprobs,
                                old_logprobs.slice(0, begin, end),
                                advantages.slice(0, begin, end),
                                mask.slice(0, begin, end),
                                truncated.slice(0, begin, end),
                                ref_logprobs.slice(0, begin, end),
                                entropy};
        PolicyLossResult result = PolicyLoss(inputs, options, normalizer);
        result.loss.backward();
        return result;
      };

      logits.mutable_grad() = torch::Tensor();
      PolicyLossResult full = run(0, n);
      torch::Tensor full_grad = logits.grad().clone();

      logits.mutable_grad() = torch::Tensor();
      double micro_loss = 0.0;
      PolicyLossStats micro_stats;
      for (auto [begin, end] : std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 5}, {5, 6}}) {
        PolicyLossResult part = run(begin, end);
        micro_loss += part.loss.item<double>();
        micro_stats.Add(part.stats);
      }

      EXPECT_GT(full_grad.abs().max().item<double>(), 1e-3);
      EXPECT_LT(MaxAbsDiff(logits.grad(), full_grad), 1e-12);
      EXPECT_NEAR(micro_loss, full.loss.item<double>(), 1e-12);
      EXPECT_EQ(micro_stats.tokens, full.stats.tokens);
      EXPECT_EQ(micro_stats.clipped_low, full.stats.clipped_low);
      EXPECT_EQ(micro_stats.clipped_high, full.stats.clipped_high);
      EXPECT_NEAR(micro_stats.KlMean(), full.stats.KlMean(), 1e-12);
      EXPECT_NEAR(micro_stats.policy_gradient_loss, full.stats.policy_gradient_loss, 1e-12);
      EXPECT_GT(full.stats.clipped_low + full.stats.clipped_high, 0);
    }
  }
}

TEST(PolicyLossTest, InvalidOptionsNameKey) {
  torch::Tensor mask = torch::ones({2, 4}, torch::kBool);
  auto expect_key = [&](const PolicyLossOptions& options, const char* key) {
    auto normalizer = ComputeLossNormalizer(mask, {}, options);
    ASSERT_FALSE(normalizer.ok()) << key;
    EXPECT_EQ(normalizer.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(normalizer.status().message().find(key), absl::string_view::npos)
        << normalizer.status();
  };
  PolicyLossOptions eps_low;
  eps_low.eps_low = 1.0;
  expect_key(eps_low, "grpo.eps_low");
  PolicyLossOptions eps_high;
  eps_high.eps_high = -0.1;
  expect_key(eps_high, "grpo.eps_high");
  PolicyLossOptions beta;
  beta.kl_beta = std::numeric_limits<double>::infinity();
  expect_key(beta, "grpo.kl_beta");
  PolicyLossOptions dr_grpo_unset;
  dr_grpo_unset.aggregation = LossAggregation::kDrGrpo;
  expect_key(dr_grpo_unset, "grpo.max_completion_length");
  PolicyLossOptions dr_grpo_short = dr_grpo_unset;
  dr_grpo_short.max_completion_length = 3;  // shorter than C = 4
  expect_key(dr_grpo_short, "grpo.max_completion_length");
  PolicyLossOptions no_flags;
  no_flags.mask_truncated = true;
  expect_key(no_flags, "grpo.mask_truncated");
}

TEST(PolicyLossTest, ParseAggregationNames) {
  EXPECT_EQ(*ParseLossAggregation("grpo", "grpo.loss_aggregation"), LossAggregation::kGrpo);
  EXPECT_EQ(*ParseLossAggregation("token", "grpo.loss_aggregation"), LossAggregation::kToken);
  EXPECT_EQ(*ParseLossAggregation("dr_grpo", "grpo.loss_aggregation"),
            LossAggregation::kDrGrpo);
  auto bad = ParseLossAggregation("bnpo", "grpo.loss_aggregation");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("grpo.loss_aggregation"), absl::string_view::npos);
}

}  // namespace
}  // namespace aha
