// Tests group advantages against values computed by hand.
#include "trainer/advantages.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

std::vector<double> ToVector(const torch::Tensor& t) {
  torch::Tensor host = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
}

torch::Tensor Rewards(std::vector<double> values) {
  return torch::tensor(values, torch::kFloat64);
}

TEST(AdvantagesTest, GrpoOneCorrectOfFour) {
  // mean = 0.25; deviations 0.75, -0.25 x3; sum of squares 0.75; ddof = 1: var 0.25, std 0.5.
  // A = dev / (0.5 + 1e-4): [1.49970, -0.49990, -0.49990, -0.49990].
  auto result = ComputeAdvantages(Rewards({1, 0, 0, 0}), std::vector<int64_t>{7, 7, 7, 7}, {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->values.scalar_type(), torch::kFloat32);
  std::vector<double> a = ToVector(result->values);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_NEAR(a[0], 0.75 / 0.5001, 1e-6);
  for (int i = 1; i < 4; ++i) EXPECT_NEAR(a[i], -0.25 / 0.5001, 1e-6);
  EXPECT_NEAR(a[0], 1.5, 1e-3);
  EXPECT_NEAR(a[1], -0.5, 1e-3);
}

// The squares of rewards near 1e160 overflow float64, so the standard deviation would be
// infinite and every advantage 0; that must be an error, not a silent no-op update.
TEST(AdvantagesTest, HugeRewardsAreAnError) {
  auto result = ComputeAdvantages(Rewards({1e160, -1e160, 1e160, -1e160}),
                                  std::vector<int64_t>{0, 0, 1, 1}, {});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("too large"), std::string::npos)
      << result.status();
}

TEST(AdvantagesTest, EqualRewardsGiveExactZeros) {
  // 0.1 * 3 / 3 is 0.10000000000000002 in float64, so r - mean would not be 0 without the
  // equality check.
  for (auto estimator : {AdvantageEstimator::kGrpo, AdvantageEstimator::kDrGrpo,
                         AdvantageEstimator::kBatchStd}) {
    AdvantageOptions options;
    options.estimator = estimator;
    auto result = ComputeAdvantages(Rewards({3, 3, 3, 3, 0.1, 0.1, 0.1}),
                                    std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1}, options);
    ASSERT_TRUE(result.ok()) << result.status();
    for (double a : ToVector(result->values)) EXPECT_EQ(a, 0.0);
    EXPECT_EQ(result->stats.zero_variance_group_fraction, 1.0);
  }
}

TEST(AdvantagesTest, InterleavedRowsMatchContiguous) {
  const std::vector<double> group_a = {1, 0, 0.5, 0};
  const std::vector<double> group_b = {2, 5, 3, 3};
  std::vector<double> contiguous = group_a;
  contiguous.insert(contiguous.end(), group_b.begin(), group_b.end());
  std::vector<double> interleaved;
  for (int i = 0; i < 4; ++i) {
    interleaved.push_back(group_a[i]);
    interleaved.push_back(group_b[i]);
  }
  for (auto estimator : {AdvantageEstimator::kGrpo, AdvantageEstimator::kDrGrpo,
                         AdvantageEstimator::kBatchStd}) {
    AdvantageOptions options;
    options.estimator = estimator;
    auto c = ComputeAdvantages(Rewards(contiguous),
                               std::vector<int64_t>{4, 4, 4, 4, 9, 9, 9, 9}, options);
    auto i = ComputeAdvantages(Rewards(interleaved),
                               std::vector<int64_t>{4, 9, 4, 9, 4, 9, 4, 9}, options);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(i.ok()) << i.status();
    std::vector<double> from_contiguous = ToVector(c->values);
    std::vector<double> from_interleaved = ToVector(i->values);
    for (int k = 0; k < 4; ++k) {
      EXPECT_FLOAT_EQ(from_interleaved[2 * k], from_contiguous[k]) << "group a, row " << k;
      EXPECT_FLOAT_EQ(from_interleaved[2 * k + 1], from_contiguous[4 + k])
          << "group b, row " << k;
    }
    EXPECT_NE(from_contiguous[0], 0.0);
  }
}

TEST(AdvantagesTest, DrGrpoSubtractsGroupMean) {
  AdvantageOptions options;
  options.estimator = AdvantageEstimator::kDrGrpo;
  // Group 0 mean 0.25; group 1 {2, 6} mean 4.
  auto result = ComputeAdvantages(Rewards({1, 2, 0, 6, 0, 0}),
                                  std::vector<int64_t>{0, 1, 0, 1, 0, 0}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<double> a = ToVector(result->values);
  const std::vector<double> expected = {0.75, -2, -0.25, 2, -0.25, -0.25};
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], expected[k], 1e-7) << "row " << k;
}

TEST(AdvantagesTest, BatchStdUsesOneScale) {
  AdvantageOptions options;
  options.estimator = AdvantageEstimator::kBatchStd;
  // Groups {1, 0} (mean 0.5) and {3, 5} (mean 4). Batch mean 2.25, squared deviations
  // 1.5625 + 5.0625 + 0.5625 + 7.5625 = 14.75, var 14.75 / 3, std 2.2173558.
  auto result =
      ComputeAdvantages(Rewards({1, 0, 3, 5}), std::vector<int64_t>{0, 0, 1, 1}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<double> a = ToVector(result->values);
  const double scale = std::sqrt(14.75 / 3.0) + 1e-4;
  EXPECT_NEAR(a[0], 0.5 / scale, 1e-6);
  EXPECT_NEAR(a[1], -0.5 / scale, 1e-6);
  EXPECT_NEAR(a[2], -1.0 / scale, 1e-6);
  EXPECT_NEAR(a[3], 1.0 / scale, 1e-6);
  EXPECT_NEAR(scale, 2.2174558, 1e-6);
}

TEST(AdvantagesTest, SingleRowGroupIsConfigError) {
  auto result = ComputeAdvantages(Rewards({1, 0, 1}), std::vector<int64_t>{0, 0, 5}, {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("grpo.group_size"), absl::string_view::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("prompt id 5"), absl::string_view::npos)
      << result.status();
}

TEST(AdvantagesTest, NonFiniteRewardNamesRow) {
  for (double bad : {std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    auto result =
        ComputeAdvantages(Rewards({1, 0, bad, 0}), std::vector<int64_t>{0, 0, 1, 1}, {});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find("row 2"), absl::string_view::npos)
        << result.status();
  }
}

TEST(AdvantagesTest, SizeMismatchAndEmptyAreErrors) {
  auto mismatch = ComputeAdvantages(Rewards({1, 0}), std::vector<int64_t>{0, 0, 0}, {});
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  auto empty = ComputeAdvantages(torch::zeros({0}, torch::kFloat64), std::vector<int64_t>{}, {});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  auto integer_rewards =
      ComputeAdvantages(torch::tensor({1, 0}), std::vector<int64_t>{0, 0}, {});
  EXPECT_EQ(integer_rewards.status().code(), absl::StatusCode::kInvalidArgument);
  AdvantageOptions negative_eps;
  negative_eps.eps = -1.0;
  auto bad_eps = ComputeAdvantages(Rewards({1, 0}), std::vector<int64_t>{0, 0}, negative_eps);
  EXPECT_EQ(bad_eps.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AdvantagesTest, TensorGroupIdsAndFloat32Rewards) {
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f});
  auto from_tensor =
      ComputeAdvantages(rewards, torch::tensor({3, 8, 3, 8}, torch::kInt64), {});
  auto from_span = ComputeAdvantages(rewards, std::vector<int64_t>{3, 8, 3, 8}, {});
  ASSERT_TRUE(from_tensor.ok()) << from_tensor.status();
  ASSERT_TRUE(from_span.ok()) << from_span.status();
  EXPECT_TRUE(torch::equal(from_tensor->values, from_span->values));
  // Each group {1, 0}: mean 0.5, std sqrt(0.5) = 0.7071068.
  EXPECT_NEAR(from_tensor->values[0].item<double>(), 0.5 / (std::sqrt(0.5) + 1e-4), 1e-6);

  auto float_ids = ComputeAdvantages(rewards, torch::tensor({0.0, 0.0, 1.0, 1.0}), {});
  EXPECT_EQ(float_ids.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AdvantagesTest, StatsCountZeroVarianceGroups) {
  // Groups: {1, 0} varies, {1, 1} and {0, 0} do not.
  auto result = ComputeAdvantages(Rewards({1, 0, 1, 1, 0, 0}),
                                  std::vector<int64_t>{0, 0, 1, 1, 2, 2}, {});
  ASSERT_TRUE(result.ok()) << result.status();
  const AdvantageStats& stats = result->stats;
  EXPECT_EQ(stats.num_groups, 3);
  EXPECT_NEAR(stats.zero_variance_group_fraction, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(stats.reward_mean, 0.5, 1e-12);
  // Batch: squared deviations all 0.25, sum 1.5, ddof = 1 over 6 rows: var 0.3.
  EXPECT_NEAR(stats.reward_std, std::sqrt(0.3), 1e-12);
  EXPECT_NEAR(stats.group_std_mean, std::sqrt(0.5) / 3.0, 1e-12);
  EXPECT_NEAR(stats.advantage_mean, 0.0, 1e-12);
}

TEST(AdvantagesTest, ParseEstimatorNames) {
  EXPECT_EQ(*ParseAdvantageEstimator("grpo", "grpo.advantage"), AdvantageEstimator::kGrpo);
  EXPECT_EQ(*ParseAdvantageEstimator("dr_grpo", "grpo.advantage"),
            AdvantageEstimator::kDrGrpo);
  EXPECT_EQ(*ParseAdvantageEstimator("batch_std", "grpo.advantage"),
            AdvantageEstimator::kBatchStd);
  auto bad = ParseAdvantageEstimator("rloo", "grpo.advantage");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("grpo.advantage"), absl::string_view::npos);
  EXPECT_EQ(AdvantageEstimatorName(AdvantageEstimator::kBatchStd), "batch_std");
}

}  // namespace
}  // namespace aha
