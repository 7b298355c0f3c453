// RewardSet: builds the configured rewards and combines their scores.
#include "rewards/reward_set.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/yaml_json.h"
#include "rewards/command_reward.h"
#include "rewards/plugin_reward.h"

namespace aha {
namespace {

// A command that times out fails one batch and is restarted. A plugin call that times out
// stops aha, because it cannot be cancelled, so plugins get more time.
constexpr double kCommandTimeoutSeconds = 30;
constexpr double kPluginTimeoutSeconds = 300;

absl::StatusOr<std::unique_ptr<Reward>> BuildReward(RewardOptions& options) {
  const std::string& name = options.reward_name();
  bool is_command = options.Has("command");
  bool is_plugin = options.Has("plugin");
  if (is_command && is_plugin) {
    return options.EntryError("has both `command` and `plugin`; keep one");
  }

  if (is_command) {
    ASSIGN_OR_RETURN(std::vector<std::string> argv, options.GetStringList("command"));
    ASSIGN_OR_RETURN(ExternalRewardOptions external,
                     ReadExternalRewardOptions(options, kCommandTimeoutSeconds));
    absl::StatusOr<std::unique_ptr<CommandReward>> reward =
        CommandReward::Create(name, std::move(argv), external);
    if (!reward.ok()) return options.KeyError("command", std::string(reward.status().message()));
    return std::unique_ptr<Reward>(*std::move(reward));
  }

  if (is_plugin) {
    ASSIGN_OR_RETURN(std::string path, options.GetString("plugin", ""));
    ASSIGN_OR_RETURN(ExternalRewardOptions external,
                     ReadExternalRewardOptions(options, kPluginTimeoutSeconds));
    YAML::Node plugin_options = options.GetNode("options");
    if (plugin_options.IsDefined() && !plugin_options.IsMap()) {
      return options.KeyError("options", "expected a mapping of the plugin's options");
    }
    std::string options_json =
        plugin_options.IsDefined() ? YamlToJson(plugin_options).dump() : "{}";
    absl::StatusOr<std::unique_ptr<PluginReward>> reward =
        PluginReward::Load(name, path, options_json, external);
    if (!reward.ok()) return options.KeyError("plugin", std::string(reward.status().message()));
    return std::unique_ptr<Reward>(*std::move(reward));
  }

  const RewardFactory* factory = FindReward(name);
  if (factory == nullptr) {
    return options.KeyError(
        "name", absl::StrCat("no reward is registered under this name; built-in and linked "
                             "rewards: ",
                             absl::StrJoin(RegisteredRewardNames(), ", "),
                             ". For an external reward add `command:` or `plugin:`"));
  }
  return (*factory)(options);
}

}  // namespace

std::optional<double> MeanOfPresent(absl::Span<const std::optional<double>> scores) {
  double sum = 0.0;
  int64_t count = 0;
  for (const std::optional<double>& score : scores) {
    if (!score) continue;
    sum += *score;
    ++count;
  }
  if (count == 0) return std::nullopt;
  return sum / static_cast<double>(count);
}

absl::StatusOr<RewardSet> RewardSet::FromYaml(const YAML::Node& rewards,
                                              const std::string& source_file) {
  if (!rewards.IsDefined() || rewards.IsNull()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_file, ": missing `rewards:`; list at least one reward"));
  }
  if (!rewards.IsSequence() || rewards.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_file, ": `rewards:` must be a non-empty list of entries such as `- name: format`"));
  }

  RewardSet set;
  std::set<std::string> names;
  std::optional<size_t> marked_accuracy;
  for (size_t i = 0; i < rewards.size(); ++i) {
    const YAML::Node& entry = rewards[i];
    std::string position = absl::StrCat(source_file, ": rewards entry ", i + 1);
    if (!entry.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(position, ": expected a mapping with `name:`"));
    }
    if (!entry["name"].IsDefined() || !entry["name"].IsScalar() ||
        entry["name"].Scalar().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(position, ": missing `name:`"));
    }
    RewardOptions options(entry, source_file, entry["name"].Scalar());
    options.GetNode("name");
    if (!names.insert(options.reward_name()).second) {
      return options.KeyError("name", "used by an earlier entry; names must be unique");
    }

    Component component;
    component.name = options.reward_name();
    ASSIGN_OR_RETURN(component.weight, options.GetDouble("weight", 1.0));
    ASSIGN_OR_RETURN(bool is_accuracy, options.GetBool("accuracy", false));
    if (is_accuracy && marked_accuracy) {
      return options.KeyError("accuracy", absl::StrCat("already set on '",
                                                       set.components_[*marked_accuracy].name,
                                                       "'; mark one reward only"));
    }
    if (is_accuracy) marked_accuracy = i;
    ASSIGN_OR_RETURN(component.reward, BuildReward(options));
    RETURN_IF_ERROR(options.CheckNoUnreadKeys());
    set.components_.push_back(std::move(component));
  }

  set.accuracy_index_ = marked_accuracy;
  for (size_t r = 0; r < set.components_.size() && !set.accuracy_index_; ++r) {
    const std::string& name = set.components_[r].name;
    if (name == "math_accuracy" || name == "countdown" || name == "gsm8k") set.accuracy_index_ = r;
  }
  return set;
}

absl::StatusOr<ScoredBatch> RewardSet::ScoreBatch(absl::Span<const RewardSample> samples) {
  const size_t n = samples.size();
  ScoredBatch batch;
  batch.total.assign(n, 0.0);
  batch.all_abstained.assign(n, true);

  for (Component& component : components_) {
    absl::StatusOr<RewardResult> result = component.reward->Score(samples);
    if (!result.ok()) {
      return absl::Status(result.status().code(), absl::StrCat("reward '", component.name,
                                                               "': ", result.status().message()));
    }
    if (result->scores.size() != n) {
      return absl::InternalError(absl::StrCat("reward '", component.name, "' returned ",
                                              result->scores.size(), " scores for ", n,
                                              " samples; a reward must score every sample"));
    }

    int64_t errors = result->num_errors;
    int64_t non_finite = 0;
    std::string first_non_finite;
    for (size_t i = 0; i < n; ++i) {
      std::optional<double>& score = result->scores[i];
      if (score && !std::isfinite(*score)) {
        if (non_finite++ == 0) first_non_finite = absl::StrCat("sample ", i, " scored ", *score);
        score.reset();
        ++errors;
      }
      if (!score) continue;
      batch.total[i] += component.weight * *score;
      batch.all_abstained[i] = false;
    }
    if (non_finite > 0) {
      // One line per reward and batch, where a line per sample could flood the log.
      std::string line = absl::StrCat(non_finite, " of ", n, " samples scored NaN or infinity (",
                                      first_non_finite, "); counted as errors and abstains");
      std::fprintf(stderr, "reward '%s': %s\n", component.name.c_str(), line.c_str());
      batch.info.push_back(absl::StrCat(component.name, ": ", std::move(line)));
    }
    for (std::string& line : result->info) {
      batch.info.push_back(absl::StrCat(component.name, ": ", std::move(line)));
    }
    batch.components.push_back(std::move(result->scores));
    batch.error_counts.push_back(errors);
  }
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(batch.total[i])) continue;
    std::vector<std::string> terms;
    for (size_t r = 0; r < components_.size(); ++r) {
      if (!batch.components[r][i]) continue;
      terms.push_back(absl::StrCat(components_[r].name, " ", *batch.components[r][i], " x weight ",
                                   components_[r].weight));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "the weighted sum of the rewards of sample ", i, " is ", batch.total[i], " (",
        absl::StrJoin(terms, ", "), "), beyond the float64 range; rescale these rewards or "
        "lower their weights"));
  }
  return batch;
}

}  // namespace aha
