#include "policy/sampling.h"

#include <cmath>

#include <limits>
#include <optional>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

// Logits whose softmax is exactly `probs`.
torch::Tensor LogitsFor(const std::vector<double>& probs) {
  return torch::tensor(probs, torch::kFloat64).log().to(torch::kFloat32).unsqueeze(0);
}

std::vector<bool> Kept(const torch::Tensor& log_probs) {
  std::vector<bool> kept;
  for (int64_t i = 0; i < log_probs.size(1); ++i) {
    kept.push_back(std::isfinite(log_probs[0][i].item<double>()));
  }
  return kept;
}

TEST(SamplingTest, TopKKeepsKMostLikely) {
  SamplingOptions o;
  o.top_k = 2;
  auto lp = FilteredLogProbs(LogitsFor({0.1, 0.4, 0.2, 0.3}), o);
  EXPECT_EQ(Kept(lp), (std::vector<bool>{false, true, false, true}));
  EXPECT_NEAR(lp[0][1].exp().item<double>(), 0.4 / 0.7, 1e-6);
}

TEST(SamplingTest, TopPKeepsSmallestSetReachingP) {
  SamplingOptions o;
  o.top_p = 0.75;
  // Sorted: 0.5, 0.3, 0.15, 0.05. 0.5 < 0.75, so 0.3 is needed; 0.8 >= 0.75 stops there.
  auto lp = FilteredLogProbs(LogitsFor({0.15, 0.5, 0.05, 0.3}), o);
  EXPECT_EQ(Kept(lp), (std::vector<bool>{false, true, false, true}));
  o.top_p = 0.4;  // the most likely token alone reaches it
  EXPECT_EQ(Kept(FilteredLogProbs(LogitsFor({0.15, 0.5, 0.05, 0.3}), o)),
            (std::vector<bool>{false, true, false, false}));
}

TEST(SamplingTest, MinPDropsTokensBelowFractionOfMax) {
  SamplingOptions o;
  o.min_p = 0.25;  // threshold 0.25 * 0.6 = 0.15
  auto lp = FilteredLogProbs(LogitsFor({0.6, 0.16, 0.14, 0.1}), o);
  EXPECT_EQ(Kept(lp), (std::vector<bool>{true, true, false, false}));
  EXPECT_NEAR(lp[0][0].exp().item<double>(), 0.6 / 0.76, 1e-6);
}

TEST(SamplingTest, TemperatureScalesBeforeFiltering) {
  SamplingOptions o;
  o.temperature = 0.5;
  auto lp = FilteredLogProbs(LogitsFor({0.2, 0.8}), o);
  // softmax(log p / 0.5) is proportional to p^2: 0.04 and 0.64.
  EXPECT_NEAR(lp[0][1].exp().item<double>(), 0.64 / 0.68, 1e-6);
}

TEST(SamplingTest, InverseCdfNeverDrawsRemovedTokens) {
  const double removed = -INFINITY, half = std::log(0.5);
  // float64 takes the ops, float32 the loop.
  for (torch::ScalarType dtype : {torch::kFloat64, torch::kFloat32}) {
    auto lp = torch::tensor({removed, half, removed, half}).unsqueeze(0).to(dtype);
    for (double u : {0.0, 0.25, 0.4999, 0.5, 0.75, 0.999999}) {
      int64_t token =
          SampleFromLogProbs(lp, torch::tensor({u}, torch::kFloat64))[0].item<int64_t>();
      EXPECT_TRUE(token == 1 || token == 3) << "u = " << u;
      EXPECT_EQ(token, u < 0.5 ? 1 : 3) << "u = " << u;
    }
  }
}

// The float32 loop draws what the ops draw, with filtered tokens, peaked and flat rows, and
// uniforms at the ends of [0, 1).
TEST(SamplingTest, LoopDrawsWhatOpsDraw) {
  torch::manual_seed(3);
  for (int64_t vocab : {1, 2, 7, 1000, 151936}) {
    SCOPED_TRACE("vocab " + std::to_string(vocab));
    const int64_t rows = vocab > 1000 ? 8 : 400;
    auto logits = torch::randn({rows, vocab}) * 4.0;
    logits[0].fill_(0.0f);  // flat
    if (vocab > 2) logits.select(1, 1).masked_fill_(torch::rand({rows}) < 0.5, -INFINITY);
    auto lp = logits.log_softmax(-1);
    std::vector<double> draws;
    for (int64_t i = 0; i < rows; ++i) draws.push_back(CounterUniform(5, i, vocab));
    draws[0] = 0.0;
    draws[rows - 1] = std::nextafter(1.0, 0.0);
    auto u = torch::tensor(draws, torch::kFloat64);
    EXPECT_TRUE(SampleFromLogProbs(lp, u).equal(SampleFromLogProbsByOps(lp, u)));
  }
}

TEST(SamplingTest, SampledFrequenciesFollowProbabilities) {
  auto lp = LogitsFor({0.1, 0.6, 0.3}).log_softmax(-1);
  std::vector<int> counts(3, 0);
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    auto u = torch::tensor({CounterUniform(42, 0, i)}, torch::kFloat64);
    ++counts[SampleFromLogProbs(lp, u)[0].item<int64_t>()];
  }
  EXPECT_NEAR(counts[0] / double(draws), 0.1, 0.01);
  EXPECT_NEAR(counts[1] / double(draws), 0.6, 0.015);
  EXPECT_NEAR(counts[2] / double(draws), 0.3, 0.015);
}

TEST(SamplingTest, CounterUniformDependsOnlyOnItsInputs) {
  EXPECT_EQ(CounterUniform(1, 2, 3), CounterUniform(1, 2, 3));
  EXPECT_NE(CounterUniform(1, 2, 3), CounterUniform(1, 3, 3));
  EXPECT_NE(CounterUniform(1, 2, 3), CounterUniform(2, 2, 3));
  double u = CounterUniform(9, 9, 9);
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
}

TEST(SamplingProblemTest, AcceptsUsualSettings) {
  EXPECT_FALSE(FindSamplingProblem({1.0, 50, 0.95, 0.05}, /*allow_greedy=*/false));
  EXPECT_FALSE(FindSamplingProblem({0.0, 0, 1.0, 0.0}, /*allow_greedy=*/true));
}

TEST(SamplingProblemTest, RejectsEachBadField) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const struct {
    SamplingOptions options;
    bool allow_greedy;
    const char* field;
  } cases[] = {
      {{0.0, 0, 1.0, 0.0}, false, "temperature"},  // greedy while training
      {{1e-40, 0, 1.0, 0.0}, true, "temperature"},  // overflows the logits
      {{inf, 0, 1.0, 0.0}, true, "temperature"},
      {{nan, 0, 1.0, 0.0}, true, "temperature"},
      {{-1.0, 0, 1.0, 0.0}, true, "temperature"},
      {{1.0, -1, 1.0, 0.0}, true, "top_k"},
      {{1.0, 0, nan, 0.0}, true, "top_p"},
      {{1.0, 0, 0.0, 0.0}, true, "top_p"},
      {{1.0, 0, 1.0, 1.0}, true, "min_p"},
      {{1.0, 0, 1.0, nan}, true, "min_p"},
  };
  for (const auto& c : cases) {
    std::optional<SamplingProblem> problem = FindSamplingProblem(c.options, c.allow_greedy);
    ASSERT_TRUE(problem.has_value()) << c.field << " " << c.options.temperature;
    EXPECT_EQ(problem->field, c.field);
  }
}

}  // namespace
}  // namespace aha
