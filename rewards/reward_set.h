// RewardSet: the weighted rewards of a run, built from the YAML `rewards:` list.
//
//   YAML::Node config = YAML::LoadFile(path);
//   ASSIGN_OR_RETURN(RewardSet rewards, RewardSet::FromYaml(config["rewards"], path));
//   ASSIGN_OR_RETURN(ScoredBatch scored, rewards.ScoreBatch(samples));  // samples: (N)
//   // scored.total[i] feeds the advantages; scored.components[r][i] are logged per reward.
//
// Abstains: a sample's total is the weighted sum over the components that did not abstain
// on it. When all of them abstain, the total is 0 and all_abstained[i] is set. No total is
// ever NaN: a non-finite score from a reward counts as an error and as an abstain.
#ifndef AHA_REWARDS_REWARD_SET_H_
#define AHA_REWARDS_REWARD_SET_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "rewards/reward.h"
#include "yaml-cpp/yaml.h"

namespace aha {

// The scores of one batch of N samples by R rewards.
struct ScoredBatch {
  std::vector<double> total;                                   // (N), weighted sum
  std::vector<bool> all_abstained;                             // (N)
  std::vector<std::vector<std::optional<double>>> components;  // (R, N), unweighted
  std::vector<int64_t> error_counts;  // (R), failed batches and non-finite scores
  std::vector<std::string> info;      // log lines, prefixed with the reward's name
};

// Returns the mean of the scores that are present, or std::nullopt when all abstained.
std::optional<double> MeanOfPresent(absl::Span<const std::optional<double>> scores);

class RewardSet {
 public:
  // Builds the rewards of `rewards`, the YAML list under the config's `rewards:` key.
  // `source_file` names the config in error messages. Unknown keys, wrong types, duplicate
  // names and unknown reward names are errors.
  static absl::StatusOr<RewardSet> FromYaml(const YAML::Node& rewards,
                                            const std::string& source_file);

  RewardSet(RewardSet&&) = default;
  RewardSet& operator=(RewardSet&&) = default;

  // Scores `samples` (N) with every reward. Returns an error when a reward does (for
  // example a command reward with fail_on_error) or returns the wrong number of scores.
  absl::StatusOr<ScoredBatch> ScoreBatch(absl::Span<const RewardSample> samples);

  size_t size() const { return components_.size(); }
  const std::string& name(size_t r) const { return components_[r].name; }
  double weight(size_t r) const { return components_[r].weight; }

  // The reward that the metrics report as accuracy: the entry marked `accuracy: true`, or
  // else the first of math_accuracy, countdown and gsm8k. std::nullopt when there is none.
  std::optional<size_t> accuracy_index() const { return accuracy_index_; }

 private:
  struct Component {
    std::string name;
    double weight = 1.0;
    std::unique_ptr<Reward> reward;
  };

  RewardSet() = default;

  std::vector<Component> components_;
  std::optional<size_t> accuracy_index_;
};

}  // namespace aha

#endif  // AHA_REWARDS_REWARD_SET_H_
