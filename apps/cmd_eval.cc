// `aha eval --model DIR [--config FILE]`: samples completions for a prompt set (the Countdown
// test split by default, or a JSONL dataset), scores them and reports accuracy, format rate
// and length.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "base/yaml_map.h"
#include "policy/cpu_threads.h"
#include "policy/file_io.h"
#include "policy/policy_io.h"
#include "trainer/evaluate.h"
#include "trainer/lm_config.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"model", "model folder to evaluate (required)"},
    {"config", "YAML file with optional eval:, dataset:, prompt_template: and rewards: sections"},
    {"out", "JSON file to write the metrics to"},
    {"samples", "samples per prompt; overrides eval.samples_per_prompt (default 1)"},
    {"temperature", "sampling temperature, 0 for greedy; overrides eval.temperature (default 1)"},
    {"max_examples", "evaluate the first N prompts; overrides eval.max_examples (default all)"},
    {"max_new_tokens", "completion limit in tokens; overrides eval.max_new_tokens (default 256)"},
    {"seed", "sampling seed; overrides eval.seed (default 0)"},
    {"threads", "CPU threads for LibTorch (default: one per CPU this process may use)"},
    {"greedy", "decode greedily; the same as --temperature 0", /*is_switch=*/true},
    {"set", "override any config value, KEY.PATH=VALUE (YAML), e.g. --set eval.max_new_tokens=64"
            "; repeatable, also without --config", /*is_switch=*/false, /*repeatable=*/true},
    CheckFlag(),
};

struct EvalConfig {
  EvalOptions options;
  EvalDataset dataset;
  std::string prompt_template = "countdown-short";
  std::optional<RewardSet> rewards;
};

absl::StatusOr<EvalConfig> ReadConfig(const ParsedFlags& flags) {
  YAML::Node node(YAML::NodeType::Map);
  std::string path = "the command line";
  if (auto config_path = flags.Get("config")) {
    path = *config_path;
    ASSIGN_OR_RETURN(node, LoadYamlFile(path));
  }
  RETURN_IF_ERROR(ApplyYamlOverrides(node, flags.GetAll("set")));
  ASSIGN_OR_RETURN(YamlMap root, YamlMap::Create(node, path, ""));
  EvalConfig config;
  ASSIGN_OR_RETURN(YamlMap eval, root.Child("eval"));
  ASSIGN_OR_RETURN(config.options, ParseEvalOptions(eval));
  ASSIGN_OR_RETURN(config.dataset, ParseEvalDataset(root));
  RETURN_IF_ERROR(root.Read("prompt_template", config.prompt_template));
  ASSIGN_OR_RETURN(data::PromptTemplate prompt_template,
                   data::PromptTemplate::Resolve(config.prompt_template));
  ASSIGN_OR_RETURN(config.rewards, ParseRewardsOrDefault(root, prompt_template));
  RETURN_IF_ERROR(root.CheckAllKeysRead());

  EvalOptions& o = config.options;
  ASSIGN_OR_RETURN(o.samples_per_prompt, flags.GetInt("samples", o.samples_per_prompt));
  ASSIGN_OR_RETURN(o.temperature, flags.GetDouble("temperature", o.temperature));
  if (flags.Has("greedy")) o.temperature = 0.0;
  ASSIGN_OR_RETURN(o.max_examples, flags.GetInt("max_examples", o.max_examples));
  ASSIGN_OR_RETURN(o.max_new_tokens, flags.GetInt("max_new_tokens", o.max_new_tokens));
  if (flags.Has("max_new_tokens")) o.max_new_tokens_key = "--max_new_tokens";
  ASSIGN_OR_RETURN(int64_t seed, flags.GetInt("seed", static_cast<int64_t>(o.seed)));
  if (seed < 0) return absl::InvalidArgumentError("--seed must be >= 0");
  o.seed = static_cast<uint64_t>(seed);
  RETURN_IF_ERROR(ValidateEvalOptions(o));
  return config;
}

absl::Status RunEvaluation(const ParsedFlags& flags) {
  std::optional<std::string> model_dir = flags.Get("model");
  if (!model_dir) return absl::InvalidArgumentError("--model is required; see aha eval --help");
  ASSIGN_OR_RETURN(EvalConfig config, ReadConfig(flags));
  ASSIGN_OR_RETURN(int64_t threads, flags.GetInt("threads", 0));
  std::optional<std::string> out = flags.Get("out");
  std::error_code error;
  if (out && out->empty()) {
    return absl::InvalidArgumentError("--out is empty; give the path of the JSON file to write");
  }
  if (out && std::filesystem::is_directory(*out, error)) {
    return absl::InvalidArgumentError(absl::StrCat("--out ", *out, " is a folder; give the "
                                                   "path of the JSON file to write"));
  }
  if (out) {
    RETURN_IF_ERROR(CheckOutputIsNoInput(*out, "--out", {flags.GetOr("config", ""),
                                                         config.dataset.path}, *model_dir));
  }
  if (flags.Has("check")) {
    PrintConfigValid("eval", flags.GetOr("config", ""));
    return absl::OkStatus();
  }
  if (out) {
    // Made before the evaluation, which may take hours, so that a path that cannot be written
    // fails now rather than after it. In a pipeline an earlier stage may make it instead, so
    // --check does not require it.
    const std::filesystem::path parent = std::filesystem::path(*out).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent, error) &&
        !std::filesystem::create_directories(parent, error)) {
      return absl::InvalidArgumentError(absl::StrCat("--out ", *out, ": cannot create the folder ",
                                                     parent.string(), ": ", error.message()));
    }
  }
  ConfigureCpuThreads(threads);
  ASSIGN_OR_RETURN(Policy policy, LoadPolicy(*model_dir));
  ASSIGN_OR_RETURN(data::PromptTemplate prompt_template,
                   data::PromptTemplate::Resolve(config.prompt_template));

  TerminalProgress progress;
  ASSIGN_OR_RETURN(EvalMetrics metrics, Evaluate(policy, prompt_template, config.dataset.examples,
                                                 config.options, *config.rewards, &progress));
  std::printf("eval of %s on %s: %s\n", model_dir->c_str(), config.dataset.description.c_str(),
              FormatEvalMetrics(metrics, config.options.samples_per_prompt).c_str());
  if (out) {
    nlohmann::json report = EvalMetricsToJson(metrics);
    report["model"] = *model_dir;
    report["dataset"] = config.dataset.description;
    report["temperature"] = config.options.temperature;
    report["samples_per_prompt"] = config.options.samples_per_prompt;
    RETURN_IF_ERROR(WriteFileAtomically(*out, report.dump(2) + "\n"));
    std::printf("wrote %s\n", out->c_str());
  }
  return absl::OkStatus();
}

int RunEval(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha eval: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("eval", "--model DIR [--config FILE] [--set KEY=VALUE] [--out FILE] [options]",
                  kFlags);
    return 0;
  }
  absl::Status status = RunEvaluation(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "aha eval: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("eval", "measure accuracy, format rate and length of a model on a prompt set",
            RunEval);

}  // namespace aha::cli
