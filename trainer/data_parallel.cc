// Sharding of the prompts and the cross-rank reductions of a data-parallel GRPO step.
#include "trainer/data_parallel.h"

#include <cmath>
#include <string>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "dist/metric_reduction.h"

namespace aha {

absl::Status CheckPromptsDivideAmongRanks(int64_t prompts_per_step, int world_size,
                                          const std::string& config_path) {
  if (prompts_per_step % world_size == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      config_path, ": grpo.prompts_per_step (", prompts_per_step,
      ") must be a multiple of the world size (", world_size,
      "), so that every rank rolls out the same number of whole groups"));
}

int64_t KeepRankShare(std::vector<data::Example>& examples, const dist::Communicator& comm) {
  const int64_t share = static_cast<int64_t>(examples.size()) / comm.world_size();
  const int64_t first = share * comm.rank();
  examples = std::vector<data::Example>(examples.begin() + first,
                                        examples.begin() + first + share);
  return first;
}

absl::StatusOr<Advantages> ComputeDataParallelAdvantages(dist::Communicator& comm,
                                                         const torch::Tensor& rewards,
                                                         int64_t group_size,
                                                         const AdvantageOptions& options) {
  const int64_t n = rewards.size(0);
  ASSIGN_OR_RETURN(torch::Tensor all_rewards,
                   comm.AllGather(rewards.to(torch::kCPU, torch::kFloat64)));  // (N)
  std::vector<int64_t> group_ids(all_rewards.size(0));
  for (size_t row = 0; row < group_ids.size(); ++row) {
    group_ids[row] = static_cast<int64_t>(row) / group_size;
  }
  ASSIGN_OR_RETURN(Advantages all, ComputeAdvantages(all_rewards, group_ids, options));
  all.values = all.values.narrow(0, n * comm.rank(), n).to(rewards.device());
  return all;
}

absl::StatusOr<LossNormalizer> ComputeDataParallelLossNormalizer(
    dist::Communicator& comm, const torch::Tensor& mask, const torch::Tensor& truncated,
    const PolicyLossOptions& options) {
  ASSIGN_OR_RETURN(double local, ComputeLossDenominator(mask, truncated, options));
  ASSIGN_OR_RETURN(std::vector<double> total, comm.SumAcrossRanks({local}));
  return LossNormalizer{std::max(total[0], 1.0)};
}

absl::Status ReduceStepMetrics(dist::Communicator& comm,
                               const std::vector<std::string>& reward_names, int64_t rows,
                               int64_t loss_tokens, double entropy_tokens, StepMetrics& m) {
  const double row_weight = static_cast<double>(rows);
  // The population variance of the rewards comes from the mean of r^2 over all rows.
  double reward_second_moment = m.reward_std * m.reward_std + m.reward_mean * m.reward_mean;
  // Ranks without any completion with (without) reflection give these no weight.
  double with_reflection = m.accuracy_with_reflection.value_or(0.0);
  double without_reflection = m.accuracy_without_reflection.value_or(0.0);
  double with_weight = m.accuracy_with_reflection ? 1.0 : 0.0;
  double without_weight = m.accuracy_without_reflection ? 1.0 : 0.0;
  double reward_errors = static_cast<double>(m.reward_errors);

  dist::MetricReduction reduction;
  for (double* mean : {&m.reward_mean, &reward_second_moment, &m.accuracy, &m.format_rate,
                       &m.length_mean, &m.length_p50, &m.length_p90, &m.truncated_fraction,
                       &m.zero_variance_groups}) {
    reduction.Mean(*mean, row_weight);
  }
  // Every rank registers every reward, also one absent from its map because it abstained on
  // all of its rows, so that the reduced vectors line up.
  // NOTE: a reward that abstains on some rows is averaged with row weights, an estimate.
  std::vector<double> component_means, component_weights;
  for (const std::string& name : reward_names) {
    auto it = m.reward_components.find(name);
    component_means.push_back(it != m.reward_components.end() ? it->second : 0.0);
    component_weights.push_back(it != m.reward_components.end() ? row_weight : 0.0);
  }
  for (size_t r = 0; r < reward_names.size(); ++r) {
    reduction.Mean(component_means[r], component_weights[r]);
    reduction.Sum(component_weights[r]);
  }
  for (auto& [name, value] : m.reflection) reduction.Mean(value, row_weight);
  reduction.Mean(with_reflection, with_weight);
  reduction.Mean(without_reflection, without_weight);
  reduction.Sum(with_weight);
  reduction.Sum(without_weight);
  for (double* mean : {&m.kl, &m.clip_low, &m.clip_high, &m.ratio_mean}) {
    reduction.Mean(*mean, static_cast<double>(loss_tokens));
  }
  reduction.Mean(m.entropy, entropy_tokens);
  // The loss of each rank is already divided by the whole batch's normalizer.
  reduction.Sum(m.policy_loss);
  reduction.Sum(m.rollout_tokens_per_second);
  reduction.Sum(reward_errors);
  reduction.Sum(m.groups_sampled);
  reduction.Sum(m.groups_dropped);
  reduction.Sum(m.groups_trained);
  for (double* max : {&m.length_max, &m.sampler_scorer_max_diff, &m.seconds_generate,
                      &m.seconds_reward, &m.seconds_train}) {
    reduction.Max(*max);
  }
  RETURN_IF_ERROR(reduction.Reduce(comm));

  for (size_t r = 0; r < reward_names.size(); ++r) {
    if (component_weights[r] > 0) m.reward_components[reward_names[r]] = component_means[r];
  }
  m.reward_std = std::sqrt(std::max(0.0, reward_second_moment - m.reward_mean * m.reward_mean));
  m.reward_errors = static_cast<int64_t>(reward_errors);
  if (with_weight > 0) m.accuracy_with_reflection = with_reflection;
  if (without_weight > 0) m.accuracy_without_reflection = without_reflection;
  return absl::OkStatus();
}

}  // namespace aha
