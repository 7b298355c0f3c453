// Group-relative advantages, computed on the host in float64. The exact equality test on each
// group's rewards needs the values there anyway, and copying N rewards is cheap next to a step.
#include "trainer/advantages.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace aha {
namespace {

struct Moments {
  double mean = 0.0;
  double std = 0.0;  // ddof = 1
};

// Two-pass mean and Bessel-corrected standard deviation; values.size() >= 2.
Moments ComputeMoments(const std::vector<double>& values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double squares = 0.0;
  for (double v : values) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / static_cast<double>(values.size() - 1))};
}

bool AllEqual(const std::vector<double>& values) {
  for (double v : values) {
    if (v != values.front()) return false;
  }
  return true;
}

// Rows of each group, in order of first appearance, so results do not depend on hash order.
std::vector<std::vector<int64_t>> GroupRows(absl::Span<const int64_t> group_ids) {
  absl::flat_hash_map<int64_t, size_t> index_of_group;
  std::vector<std::vector<int64_t>> groups;
  for (size_t row = 0; row < group_ids.size(); ++row) {
    auto [it, inserted] = index_of_group.try_emplace(group_ids[row], groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(static_cast<int64_t>(row));
  }
  return groups;
}

absl::StatusOr<std::vector<double>> RewardsOnHost(const torch::Tensor& rewards,
                                                  size_t num_group_ids) {
  if (!rewards.defined() || rewards.dim() != 1) {
    return absl::InvalidArgumentError(
        "advantages: rewards must be a 1-D tensor with one reward per completion row");
  }
  if (!rewards.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat("advantages: rewards must be float32 or float64, got ",
                     std::string(c10::toString(rewards.scalar_type()))));
  }
  if (static_cast<size_t>(rewards.size(0)) != num_group_ids) {
    return absl::InvalidArgumentError(absl::StrCat(
        "advantages: ", rewards.size(0), " rewards but ", num_group_ids,
        " group ids; pass one prompt id per completion row"));
  }
  if (num_group_ids == 0) {
    return absl::InvalidArgumentError("advantages: the batch has no completion rows");
  }
  torch::Tensor host = rewards.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const double* data = host.data_ptr<double>();
  std::vector<double> values(data, data + host.numel());
  for (size_t row = 0; row < values.size(); ++row) {
    if (!std::isfinite(values[row])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "advantages: reward of row ", row, " is ", values[row],
          "; every reward function must return a finite number"));
    }
  }
  return values;
}

// Rejects groups of one row, whose advantage would always be 0 (dr_grpo) or 0/0 (grpo).
absl::Status CheckGroupSizes(const std::vector<std::vector<int64_t>>& groups,
                             absl::Span<const int64_t> group_ids) {
  for (const std::vector<int64_t>& rows : groups) {
    if (rows.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "advantages: prompt id ", group_ids[rows.front()],
          " has a single completion, so it has no group to be compared with; set "
          "grpo.group_size to 2 or more (8 to 16 is usual)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AdvantageEstimator> ParseAdvantageEstimator(absl::string_view name,
                                                           absl::string_view key) {
  if (name == "grpo") return AdvantageEstimator::kGrpo;
  if (name == "dr_grpo") return AdvantageEstimator::kDrGrpo;
  if (name == "batch_std") return AdvantageEstimator::kBatchStd;
  return absl::InvalidArgumentError(absl::StrCat(key, ": unknown advantage estimator \"", name,
                                                 "\"; expected grpo, dr_grpo or batch_std"));
}

absl::string_view AdvantageEstimatorName(AdvantageEstimator estimator) {
  switch (estimator) {
    case AdvantageEstimator::kGrpo:
      return "grpo";
    case AdvantageEstimator::kDrGrpo:
      return "dr_grpo";
    case AdvantageEstimator::kBatchStd:
      return "batch_std";
  }
  return "unknown";
}

absl::StatusOr<Advantages> ComputeAdvantages(const torch::Tensor& rewards,
                                             absl::Span<const int64_t> group_ids,
                                             const AdvantageOptions& options) {
  if (!(options.eps >= 0.0) || !std::isfinite(options.eps)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpo.advantage_eps: must be a finite number >= 0, got ", options.eps));
  }
  ASSIGN_OR_RETURN(const std::vector<double> r, RewardsOnHost(rewards, group_ids.size()));
  const std::vector<std::vector<int64_t>> groups = GroupRows(group_ids);
  RETURN_IF_ERROR(CheckGroupSizes(groups, group_ids));

  const Moments batch = ComputeMoments(r);
  if (!std::isfinite(batch.mean) || !std::isfinite(batch.std)) {
    double largest = 0.0;
    for (double v : r) largest = std::max(largest, std::abs(v));
    return absl::InvalidArgumentError(absl::StrCat(
        "advantages: the rewards are too large for their mean and standard deviation in "
        "float64 (largest magnitude ", largest, "), which would make every advantage 0 or NaN; "
        "rescale the reward functions or their weights"));
  }
  std::vector<double> advantages(r.size(), 0.0);
  int64_t zero_variance_groups = 0;
  double group_std_sum = 0.0;
  for (const std::vector<int64_t>& rows : groups) {
    std::vector<double> group_rewards;
    group_rewards.reserve(rows.size());
    for (int64_t row : rows) group_rewards.push_back(r[row]);
    const Moments group = ComputeMoments(group_rewards);
    group_std_sum += group.std;
    if (AllEqual(group_rewards)) {
      // Already 0 in `advantages`; r - mean may leave a residue such as 1e-17 otherwise.
      ++zero_variance_groups;
      continue;
    }
    double scale = 1.0;
    if (options.estimator == AdvantageEstimator::kGrpo) scale = group.std + options.eps;
    if (options.estimator == AdvantageEstimator::kBatchStd) scale = batch.std + options.eps;
    for (int64_t row : rows) advantages[row] = (r[row] - group.mean) / scale;
  }

  Advantages result;
  const Moments advantage_moments = ComputeMoments(advantages);
  result.stats.num_groups = static_cast<int64_t>(groups.size());
  result.stats.zero_variance_group_fraction =
      static_cast<double>(zero_variance_groups) / static_cast<double>(groups.size());
  result.stats.reward_mean = batch.mean;
  result.stats.reward_std = batch.std;
  result.stats.group_std_mean = group_std_sum / static_cast<double>(groups.size());
  result.stats.advantage_mean = advantage_moments.mean;
  result.stats.advantage_std = advantage_moments.std;
  result.values = torch::tensor(advantages, torch::kFloat64)
                      .to(rewards.device(), torch::kFloat32);
  return result;
}

absl::StatusOr<Advantages> ComputeAdvantages(const torch::Tensor& rewards,
                                             const torch::Tensor& group_ids,
                                             const AdvantageOptions& options) {
  if (!group_ids.defined() || group_ids.dim() != 1 || group_ids.is_floating_point() ||
      group_ids.scalar_type() == torch::kBool) {
    return absl::InvalidArgumentError(
        "advantages: group ids must be a 1-D integer tensor with one prompt id per row");
  }
  torch::Tensor host = group_ids.to(torch::kCPU, torch::kInt64).contiguous();
  return ComputeAdvantages(
      rewards, absl::MakeConstSpan(host.data_ptr<int64_t>(), host.numel()), options);
}

}  // namespace aha
