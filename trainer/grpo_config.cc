#include "trainer/grpo_config.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/yaml_json.h"
#include "base/yaml_map.h"
#include "data/options_json.h"

namespace aha {
namespace {

absl::Status ReadJsonlOptions(YamlMap& section, data::JsonlOptions& options) {
  RETURN_IF_ERROR(section.Require("path", options.path));
  RETURN_IF_ERROR(section.Read("question_field", options.question_field));
  RETURN_IF_ERROR(section.Read("answer_field", options.answer_field));
  std::string format = "as_is";
  RETURN_IF_ERROR(section.Read("answer_format", format));
  auto parsed = data::ParseAnswerFormat(format);
  if (!parsed.ok()) return section.Error("answer_format", std::string(parsed.status().message()));
  options.answer_format = *parsed;
  return section.CheckAllKeysRead();
}

absl::Status ReadData(YamlMap& section, DataConfig& data) {
  RETURN_IF_ERROR(section.Read("kind", data.kind));
  RETURN_IF_ERROR(section.Read("prompt_template", data.prompt_template));
  int64_t seed = 0;
  RETURN_IF_ERROR(section.Read("shuffle_seed", seed));
  data.shuffle_seed = static_cast<uint64_t>(seed);
  if (data.kind == "countdown") {
    if (section.Has("countdown")) {
      YAML::Node node = section.Raw("countdown");
      RETURN_IF_ERROR(data::ParseCountdownOptions(
          YamlToJson(node), absl::StrCat(section.file(), ": data.countdown"), &data.countdown));
    }
  } else if (data.kind == "jsonl") {
    ASSIGN_OR_RETURN(YamlMap train, section.Child("train"));
    RETURN_IF_ERROR(ReadJsonlOptions(train, data.train_jsonl));
    if (section.Has("test")) {
      ASSIGN_OR_RETURN(YamlMap test, section.Child("test"));
      data.test_jsonl = data::JsonlOptions{};
      RETURN_IF_ERROR(ReadJsonlOptions(test, *data.test_jsonl));
    }
  } else {
    return section.Error("kind", absl::StrCat("must be countdown or jsonl, got '", data.kind, "'"));
  }
  return section.CheckAllKeysRead();
}

absl::Status ReadGrpo(YamlMap& s, GrpoOptions& g) {
  RETURN_IF_ERROR(s.Read("steps", g.steps));
  RETURN_IF_ERROR(s.Read("prompts_per_step", g.prompts_per_step));
  RETURN_IF_ERROR(s.Read("group_size", g.group_size));
  RETURN_IF_ERROR(s.Read("max_new_tokens", g.max_new_tokens));
  RETURN_IF_ERROR(s.Read("temperature", g.sampling.temperature));
  RETURN_IF_ERROR(s.Read("top_k", g.sampling.top_k));
  RETURN_IF_ERROR(s.Read("top_p", g.sampling.top_p));
  RETURN_IF_ERROR(s.Read("min_p", g.sampling.min_p));
  RETURN_IF_ERROR(s.Read("stop", g.stop_strings));
  std::string estimator = "grpo";
  RETURN_IF_ERROR(s.Read("advantage", estimator));
  auto parsed_estimator = ParseAdvantageEstimator(estimator, "grpo.advantage");
  if (!parsed_estimator.ok()) {
    return s.Error("advantage", std::string(parsed_estimator.status().message()));
  }
  g.advantages.estimator = *parsed_estimator;
  RETURN_IF_ERROR(s.Read("advantage_eps", g.advantages.eps));
  std::string aggregation = "grpo";
  RETURN_IF_ERROR(s.Read("loss_aggregation", aggregation));
  auto parsed_aggregation = ParseLossAggregation(aggregation, "grpo.loss_aggregation");
  if (!parsed_aggregation.ok()) {
    return s.Error("loss_aggregation", std::string(parsed_aggregation.status().message()));
  }
  g.loss.aggregation = *parsed_aggregation;
  RETURN_IF_ERROR(s.Read("eps_low", g.loss.eps_low));
  RETURN_IF_ERROR(s.Read("eps_high", g.loss.eps_high));
  RETURN_IF_ERROR(s.Read("kl_beta", g.loss.kl_beta));
  RETURN_IF_ERROR(s.Read("entropy_coef", g.loss.entropy_coef));
  RETURN_IF_ERROR(s.Read("mask_truncated", g.loss.mask_truncated));
  RETURN_IF_ERROR(s.Read("updates_per_step", g.updates_per_step));
  RETURN_IF_ERROR(s.Read("micro_batch_rows", g.micro_batch_rows));
  RETURN_IF_ERROR(s.Read("share_prompt_prefix", g.share_prompt_prefix));
  RETURN_IF_ERROR(s.Read("dynamic_sampling", g.dynamic_sampling));
  RETURN_IF_ERROR(s.Read("max_sampling_rounds", g.max_sampling_rounds));
  RETURN_IF_ERROR(s.CheckAllKeysRead());
  g.loss.max_completion_length = g.max_new_tokens;

  if (g.steps < 1) return s.Error("steps", "must be >= 1");
  if (g.prompts_per_step < 1) return s.Error("prompts_per_step", "must be >= 1");
  if (g.group_size < 2) {
    return s.Error("group_size", "must be >= 2: group-relative advantages compare each "
                                 "completion with the others of its prompt");
  }
  if (g.max_new_tokens < 1) return s.Error("max_new_tokens", "must be >= 1");
  if (auto problem = FindSamplingProblem(g.sampling, /*allow_greedy=*/false)) {
    return s.Error(problem->field, problem->message);
  }
  for (const std::string& stop : g.stop_strings) {
    if (stop.empty()) return s.Error("stop", "holds an empty string, which would end every "
                                             "completion at once; remove it");
  }
  if (!(g.advantages.eps >= 0.0) || !std::isfinite(g.advantages.eps)) {
    return s.Error("advantage_eps", "must be a finite number >= 0");
  }
  if (g.updates_per_step < 1) return s.Error("updates_per_step", "must be >= 1");
  if (g.micro_batch_rows < 1) return s.Error("micro_batch_rows", "must be >= 1");
  if (g.max_sampling_rounds < 1) return s.Error("max_sampling_rounds", "must be >= 1");
  absl::Status loss_status = ValidatePolicyLossOptions(g.loss);
  if (!loss_status.ok()) {
    // The messages read "grpo.KEY: ..."; report each at its own key and line.
    const std::string message(loss_status.message());
    const size_t colon = message.find(": ");
    if (absl::StartsWith(message, "grpo.") && colon != std::string::npos) {
      return s.Error(message.substr(5, colon - 5), message.substr(colon + 2));
    }
    return s.Error("eps_low", message);
  }
  return absl::OkStatus();
}

// log.reflection_sets (built-in names) and log.reflection_keywords (one extra set).
absl::Status ReadReflectionSets(YamlMap& s, std::vector<KeywordSet>& sets) {
  std::vector<std::string> names = {"r1", "oat"};
  std::vector<std::string> keywords;
  RETURN_IF_ERROR(s.Read("reflection_sets", names));
  RETURN_IF_ERROR(s.Read("reflection_keywords", keywords));
  sets.clear();
  for (const std::string& name : names) {
    absl::StatusOr<KeywordSet> set = BuiltInReflectionSet(name);
    if (!set.ok()) return s.Error("reflection_sets", std::string(set.status().message()));
    sets.push_back(*std::move(set));
  }
  if (!keywords.empty()) sets.push_back({"custom", keywords});
  absl::Status valid = ReflectionCounter::Create(sets).status();
  if (!valid.ok()) {
    return s.Error(keywords.empty() ? "reflection_sets" : "reflection_keywords",
                   std::string(valid.message()));
  }
  return absl::OkStatus();
}

absl::Status ReadLog(YamlMap& s, LogOptions& log) {
  RETURN_IF_ERROR(s.Read("samples_every", log.samples_every));
  RETURN_IF_ERROR(s.Read("samples_per_step", log.samples_per_step));
  RETURN_IF_ERROR(s.Read("eval_every", log.eval_every));
  RETURN_IF_ERROR(s.Read("eval_prompts", log.eval_prompts));
  RETURN_IF_ERROR(s.Read("eval_group_size", log.eval_group_size));
  RETURN_IF_ERROR(s.Read("eval_temperature", log.eval_temperature));
  RETURN_IF_ERROR(s.Read("eval_before_training", log.eval_before_training));
  RETURN_IF_ERROR(s.Read("checkpoint_every", log.checkpoint_every));
  RETURN_IF_ERROR(s.Read("tensorboard", log.tensorboard));
  RETURN_IF_ERROR(ReadReflectionSets(s, log.reflection_sets));
  RETURN_IF_ERROR(s.CheckAllKeysRead());
  if (log.eval_prompts < 0) return s.Error("eval_prompts", "must be >= 0");
  if (log.eval_group_size < 1) return s.Error("eval_group_size", "must be >= 1");
  SamplingOptions eval_sampling;
  eval_sampling.temperature = log.eval_temperature;
  if (auto problem = FindSamplingProblem(eval_sampling, /*allow_greedy=*/true)) {
    return s.Error("eval_temperature", problem->message);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GrpoRunConfig> LoadGrpoRunConfig(const std::string& path,
                                                const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(YAML::Node node, LoadYamlFile(path));
  RETURN_IF_ERROR(ApplyYamlOverrides(node, overrides));
  ASSIGN_OR_RETURN(YamlMap root, YamlMap::Create(node, path, ""));
  GrpoRunConfig config;
  config.config_path = path;

  ASSIGN_OR_RETURN(YamlMap run, root.Child("run"));
  RETURN_IF_ERROR(run.Require("out_dir", config.out_dir));
  int64_t seed = 0;
  RETURN_IF_ERROR(run.Read("seed", seed));
  config.seed = static_cast<uint64_t>(seed);
  RETURN_IF_ERROR(run.Read("threads", config.threads));
  RETURN_IF_ERROR(run.Read("device", config.device));
  RETURN_IF_ERROR(run.Read("dist_timeout_seconds", config.dist_timeout_seconds));
  RETURN_IF_ERROR(run.Read("dist_bucket_mb", config.dist_bucket_mb));
  RETURN_IF_ERROR(run.CheckAllKeysRead());
  if (config.threads < 0) return run.Error("threads", "must be >= 0 (0: one per CPU this process may use)");
  if (!(config.dist_timeout_seconds > 0)) return run.Error("dist_timeout_seconds", "must be > 0");
  if (!(config.dist_bucket_mb > 0)) return run.Error("dist_bucket_mb", "must be > 0");
  if (config.device != "cpu" && config.device != "cuda") {
    return run.Error("device", "must be cpu or cuda");
  }

  ASSIGN_OR_RETURN(YamlMap policy, root.Child("policy"));
  RETURN_IF_ERROR(policy.Require("path", config.policy_path));
  RETURN_IF_ERROR(policy.Read("dtype", config.dtype));
  if (policy.Has("reference_path")) {
    config.reference_path.emplace();
    RETURN_IF_ERROR(policy.Read("reference_path", *config.reference_path));
  }
  RETURN_IF_ERROR(policy.CheckAllKeysRead());
  if (config.dtype != "float32" && config.dtype != "bfloat16") {
    return policy.Error("dtype", "must be float32 or bfloat16");
  }

  ASSIGN_OR_RETURN(YamlMap data, root.Child("data"));
  RETURN_IF_ERROR(ReadData(data, config.data));

  if (!root.Has("rewards")) {
    return root.Error("rewards", "is required: list the rewards, for example "
                                 "[{name: countdown}, {name: format, weight: 0.5}]");
  }
  config.rewards = root.Raw("rewards");

  ASSIGN_OR_RETURN(YamlMap grpo, root.Child("grpo"));
  RETURN_IF_ERROR(ReadGrpo(grpo, config.grpo));
  ASSIGN_OR_RETURN(YamlMap optimizer, root.Child("optimizer"));
  RETURN_IF_ERROR(ReadOptimizerOptions(optimizer, config.optimizer));
  RETURN_IF_ERROR(optimizer.CheckAllKeysRead());
  ASSIGN_OR_RETURN(YamlMap log, root.Child("log"));
  RETURN_IF_ERROR(ReadLog(log, config.log));
  RETURN_IF_ERROR(root.CheckAllKeysRead());
  return config;
}

}  // namespace aha
