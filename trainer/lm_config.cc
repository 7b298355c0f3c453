#include "trainer/lm_config.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/yaml_json.h"
#include "data/countdown.h"
#include "data/jsonl.h"
#include "data/options_json.h"

namespace aha {
namespace {

// Validation messages start with the option name ("steps must be >= 0"); re-raise them at that
// key's file and line.
absl::Status AtKey(const YamlMap& section, const absl::Status& status) {
  if (status.ok()) return status;
  const std::string message(status.message());
  const size_t space = message.find(' ');
  if (space == std::string::npos) return section.Error("", message);
  return section.Error(message.substr(0, space), message.substr(space + 1));
}

absl::Status ReadSeed(YamlMap& section, const std::string& key, uint64_t& out) {
  int64_t value = static_cast<int64_t>(out);
  RETURN_IF_ERROR(section.Read(key, value));
  if (value < 0) return section.Error(key, "must be >= 0");
  out = static_cast<uint64_t>(value);
  return absl::OkStatus();
}

// "FILE:LINE: KEY", the prefix the data room's JSON readers put before a key.
std::string SectionWhere(const YamlMap& root, const YAML::Node& node, const std::string& key) {
  const std::string line =
      node.IsDefined() && node.Mark().line >= 0 ? absl::StrCat(":", node.Mark().line + 1) : "";
  return absl::StrCat(root.file(), line, ": ", key);
}

}  // namespace

absl::Status CheckLmTrainOptions(const LmTrainOptions& options, const std::string& path) {
  absl::Status status = ValidateLmTrainOptions(options);
  if (status.ok()) return status;
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": train.", status.message(), " (--steps overrides train.steps)"));
}

absl::StatusOr<LmTrainConfig> ParseLmTrainConfig(YamlMap& section) {
  LmTrainConfig config;
  LmTrainOptions& o = config.options;
  RETURN_IF_ERROR(section.Read("steps", o.steps));
  RETURN_IF_ERROR(section.Read("epochs", o.epochs));
  RETURN_IF_ERROR(section.Read("batch_rows", o.batch_rows));
  RETURN_IF_ERROR(section.Read("micro_batch_rows", o.micro_batch_rows));
  RETURN_IF_ERROR(section.Read("pack_length", o.pack_length));
  RETURN_IF_ERROR(ReadOptimizerOptions(section, o.optimizer));
  RETURN_IF_ERROR(section.Read("bf16_autocast", o.bf16_autocast));
  RETURN_IF_ERROR(section.Read("log_every", o.log_every));
  RETURN_IF_ERROR(ReadSeed(section, "seed", o.seed));
  RETURN_IF_ERROR(section.Read("loss_on_prompt", config.loss_on_prompt));
  RETURN_IF_ERROR(section.Read("append_eos", config.append_eos));
  RETURN_IF_ERROR(section.CheckAllKeysRead());
  RETURN_IF_ERROR(AtKey(section, ValidateLmTrainOptions(o)));
  return config;
}

absl::StatusOr<EvalOptions> ParseEvalOptions(YamlMap& section, EvalOptions defaults) {
  EvalOptions o = std::move(defaults);
  RETURN_IF_ERROR(section.Read("samples_per_prompt", o.samples_per_prompt));
  RETURN_IF_ERROR(section.Read("temperature", o.temperature));
  RETURN_IF_ERROR(section.Read("top_p", o.top_p));
  RETURN_IF_ERROR(section.Read("max_new_tokens", o.max_new_tokens));
  RETURN_IF_ERROR(section.Read("batch_prompts", o.batch_prompts));
  RETURN_IF_ERROR(section.Read("max_examples", o.max_examples));
  RETURN_IF_ERROR(ReadSeed(section, "seed", o.seed));
  RETURN_IF_ERROR(section.Read("format_reward", o.format_reward));
  RETURN_IF_ERROR(section.Read("keep_samples", o.keep_samples));
  RETURN_IF_ERROR(section.CheckAllKeysRead());
  RETURN_IF_ERROR(AtKey(section, ValidateEvalOptions(o)));
  return o;
}

absl::StatusOr<data::CorpusOptions> ParseCorpusSection(YamlMap& root, const std::string& key) {
  data::CorpusOptions options;
  if (!root.Has(key)) return options;
  const YAML::Node node = root.Raw(key);
  RETURN_IF_ERROR(data::ParseCorpusOptions(YamlToJson(node), SectionWhere(root, node, key),
                                           &options));
  return options;
}

absl::StatusOr<EvalDataset> CountdownTestSplit(const data::CountdownOptions& problems) {
  // Only the test split is needed; a train split of one problem keeps generation cheap.
  data::CountdownOptions options = problems;
  options.train_size = 1;
  ASSIGN_OR_RETURN(data::CountdownSplits splits, data::GenerateCountdown(options));
  EvalDataset dataset;
  dataset.description = absl::StrCat("countdown test split (", splits.test.size(), " problems)");
  dataset.examples = std::move(splits.test);
  return dataset;
}

absl::StatusOr<EvalDataset> ParseEvalDataset(YamlMap& root) {
  if (!root.Has("dataset")) {
    return CountdownTestSplit(data::CorpusOptions::DemoCountdownOptions());
  }
  ASSIGN_OR_RETURN(YamlMap section, root.Child("dataset"));
  const bool has_countdown = section.Has("countdown");
  if (has_countdown == section.Has("jsonl")) {
    return root.Error("dataset", "must contain exactly one of `countdown:` and `jsonl:`");
  }
  if (has_countdown) {
    data::CountdownOptions problems = data::CorpusOptions::DemoCountdownOptions();
    const YAML::Node node = section.Raw("countdown");
    RETURN_IF_ERROR(data::ParseCountdownOptions(
        YamlToJson(node), SectionWhere(section, node, "dataset.countdown"), &problems));
    RETURN_IF_ERROR(section.CheckAllKeysRead());
    return CountdownTestSplit(problems);
  }
  ASSIGN_OR_RETURN(YamlMap jsonl, section.Child("jsonl"));
  data::JsonlOptions options;
  std::string answer_format = "as_is";
  RETURN_IF_ERROR(jsonl.Require("path", options.path));
  RETURN_IF_ERROR(jsonl.Read("question_field", options.question_field));
  RETURN_IF_ERROR(jsonl.Read("answer_field", options.answer_field));
  RETURN_IF_ERROR(jsonl.Read("answer_format", answer_format));
  RETURN_IF_ERROR(jsonl.CheckAllKeysRead());
  RETURN_IF_ERROR(section.CheckAllKeysRead());
  absl::StatusOr<data::AnswerFormat> format = data::ParseAnswerFormat(answer_format);
  if (!format.ok()) return jsonl.Error("answer_format", std::string(format.status().message()));
  options.answer_format = *format;
  EvalDataset dataset;
  ASSIGN_OR_RETURN(dataset.examples, data::LoadJsonlDataset(options));
  dataset.description = options.path;
  dataset.path = options.path;
  return dataset;
}

absl::StatusOr<RewardSet> ParseRewardsOrDefault(YamlMap& root,
                                                const data::PromptTemplate& prompt_template) {
  if (root.Has("rewards")) return RewardSet::FromYaml(root.Raw("rewards"), root.file());
  const bool prefilled = absl::EndsWith(prompt_template.text(), "<think>");
  YAML::Node rewards = YAML::Load(absl::StrCat(
      "- name: countdown\n- name: format\n  prefilled_think: ", prefilled ? "true" : "false"));
  return RewardSet::FromYaml(rewards, "the default eval rewards");
}

absl::StatusOr<torch::Dtype> ReadSaveDtype(YamlMap& root) {
  std::string name = "float32";
  RETURN_IF_ERROR(root.Read("save_dtype", name));
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  return root.Error("save_dtype",
                    absl::StrCat("must be float32, bfloat16 or float16, got '", name, "'"));
}

}  // namespace aha
