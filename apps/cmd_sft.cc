// `aha sft --config FILE`: supervised fine-tuning of a model folder on prompt/response pairs
// (a JSONL file or the generated cold-start traces), with the loss on response tokens only.
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
#include "data/corpus.h"
#include "data/jsonl.h"
#include "policy/cpu_threads.h"
#include "policy/file_io.h"
#include "policy/policy_io.h"
#include "trainer/evaluate.h"
#include "trainer/lm_config.h"
#include "trainer/lm_trainer.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"config", "YAML file: init_from, out_dir, data, train and optional eval (required)"},
    {"model", "model folder to start from; overrides init_from"},
    {"out", "output folder; overrides out_dir"},
    {"steps", "optimizer steps; overrides train.steps"},
    {"threads", "CPU threads for LibTorch; overrides threads (default: one per CPU this process may use)"},
    {"set", "override any config value, KEY.PATH=VALUE (YAML), e.g. --set train.lr=1e-3; "
            "repeatable", /*is_switch=*/false, /*repeatable=*/true},
    CheckFlag(),
};

struct SftConfig {
  std::string init_from;
  std::string out_dir;
  int64_t threads = 0;
  SaveOptions save;
  std::vector<data::SftExample> examples;
  std::string data_description;
  LmTrainConfig train;
  // Evaluation after training, when the config has an `eval:` section.
  std::optional<EvalOptions> eval;
  EvalDataset eval_dataset;
  std::string prompt_template = "countdown-short";
  std::optional<RewardSet> rewards;
};

// `data:` has exactly one of `jsonl: {path, prompt_field, response_field}` and
// `cold_start: {CorpusOptions keys}`. A cold start also sets the default eval set (the test
// split of its problems) and prompt template.
absl::Status ReadData(YamlMap& root, SftConfig& config) {
  if (!root.Has("data")) return root.Error("data", "is required: give `jsonl:` or `cold_start:`");
  ASSIGN_OR_RETURN(YamlMap section, root.Child("data"));
  if (section.Has("jsonl") == section.Has("cold_start")) {
    return root.Error("data", "must contain exactly one of `jsonl:` and `cold_start:`");
  }
  if (section.Has("cold_start")) {
    ASSIGN_OR_RETURN(data::CorpusOptions corpus, ParseCorpusSection(section, "cold_start"));
    RETURN_IF_ERROR(section.CheckAllKeysRead());
    ASSIGN_OR_RETURN(config.examples, data::GenerateColdStart(corpus));
    config.data_description = absl::StrCat(config.examples.size(), " cold-start examples");
    config.prompt_template = corpus.prompt_template;
    ASSIGN_OR_RETURN(config.eval_dataset, CountdownTestSplit(corpus.problems));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(YamlMap jsonl, section.Child("jsonl"));
  data::SftOptions options;
  RETURN_IF_ERROR(jsonl.Require("path", options.path));
  RETURN_IF_ERROR(jsonl.Read("prompt_field", options.prompt_field));
  RETURN_IF_ERROR(jsonl.Read("response_field", options.response_field));
  RETURN_IF_ERROR(jsonl.CheckAllKeysRead());
  RETURN_IF_ERROR(section.CheckAllKeysRead());
  ASSIGN_OR_RETURN(config.examples, data::LoadSftJsonl(options));
  config.data_description = absl::StrCat(config.examples.size(), " examples from ", options.path);
  ASSIGN_OR_RETURN(config.eval_dataset,
                   CountdownTestSplit(data::CorpusOptions::DemoCountdownOptions()));
  return absl::OkStatus();
}

absl::StatusOr<SftConfig> ReadConfig(const std::string& path, const ParsedFlags& flags) {
  ASSIGN_OR_RETURN(YAML::Node node, LoadYamlFile(path));
  RETURN_IF_ERROR(ApplyYamlOverrides(node, flags.GetAll("set")));
  ASSIGN_OR_RETURN(YamlMap root, YamlMap::Create(node, path, ""));
  SftConfig config;
  RETURN_IF_ERROR(root.Read("init_from", config.init_from));
  RETURN_IF_ERROR(root.Read("out_dir", config.out_dir));
  RETURN_IF_ERROR(root.Read("threads", config.threads));
  ASSIGN_OR_RETURN(config.save.dtype, ReadSaveDtype(root));
  RETURN_IF_ERROR(ReadData(root, config));
  ASSIGN_OR_RETURN(YamlMap train, root.Child("train"));
  ASSIGN_OR_RETURN(config.train, ParseLmTrainConfig(train));
  if (root.Has("eval")) {
    ASSIGN_OR_RETURN(YamlMap eval, root.Child("eval"));
    ASSIGN_OR_RETURN(config.eval, ParseEvalOptions(eval));
    if (root.Has("dataset")) {
      ASSIGN_OR_RETURN(config.eval_dataset, ParseEvalDataset(root));
    }
  }
  RETURN_IF_ERROR(root.Read("prompt_template", config.prompt_template));
  ASSIGN_OR_RETURN(data::PromptTemplate prompt_template,
                   data::PromptTemplate::Resolve(config.prompt_template));
  ASSIGN_OR_RETURN(config.rewards, ParseRewardsOrDefault(root, prompt_template));
  RETURN_IF_ERROR(root.CheckAllKeysRead());

  if (auto model = flags.Get("model")) config.init_from = *model;
  if (auto out = flags.Get("out")) config.out_dir = *out;
  if (config.init_from.empty()) return root.Error("init_from", "is required (or pass --model)");
  if (config.out_dir.empty()) return root.Error("out_dir", "is required (or pass --out)");
  RETURN_IF_ERROR(CheckOutputIsNotModel(config.init_from, "init_from (or --model)",
                                        config.out_dir));
  RETURN_IF_ERROR(CheckOutputFolderPath(config.out_dir, "out_dir (or --out)"));
  ASSIGN_OR_RETURN(config.train.options.steps,
                   flags.GetInt("steps", config.train.options.steps));
  ASSIGN_OR_RETURN(config.threads, flags.GetInt("threads", config.threads));
  // Checked here, so that --check, which a pipeline runs on every stage first, reports them.
  RETURN_IF_ERROR(CheckLmTrainOptions(config.train.options, path));
  if (config.examples.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the data section gives no training examples (", config.data_description,
        "); check data.jsonl.path or data.cold_start.size"));
  }
  return config;
}

absl::Status Sft(const std::string& config_path, const ParsedFlags& flags) {
  ASSIGN_OR_RETURN(SftConfig config, ReadConfig(config_path, flags));
  if (flags.Has("check")) {
    PrintConfigValid("sft", config_path);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(PrepareOutputFolder(config.out_dir, "out_dir (or --out)"));
  ConfigureCpuThreads(config.threads);
  ASSIGN_OR_RETURN(Policy policy, LoadPolicy(config.init_from));

  std::vector<LmExample> examples;
  for (const data::SftExample& example : config.examples) {
    examples.push_back(MakePromptResponseExample(*policy.tokenizer, example.prompt,
                                                 example.response, config.train.loss_on_prompt,
                                                 config.train.append_eos));
  }
  std::printf("sft: %s on %s\n", config.data_description.c_str(), config.init_from.c_str());
  if (std::string warning = UnknownTokenWarning(examples, *policy.tokenizer); !warning.empty()) {
    std::printf("%s\n", warning.c_str());
  }

  TerminalProgress progress;
  ASSIGN_OR_RETURN(LmTrainResult trained,
                   TrainLm(policy.model, std::move(examples), config.train.options, &progress,
                           stdout));
  std::printf("trained %lld steps in %.1fs, %lld examples truncated to pack_length or the "
              "model's context\n",
              static_cast<long long>(trained.steps), trained.seconds,
              static_cast<long long>(trained.truncated_examples));
  RETURN_IF_ERROR(SavePolicy(policy.model, config.init_from, config.out_dir, config.save));
  std::printf("saved %s\n", config.out_dir.c_str());
  if (!config.eval) return absl::OkStatus();

  ASSIGN_OR_RETURN(data::PromptTemplate prompt_template,
                   data::PromptTemplate::Resolve(config.prompt_template));
  ASSIGN_OR_RETURN(EvalMetrics metrics,
                   Evaluate(policy, prompt_template, config.eval_dataset.examples, *config.eval,
                            *config.rewards, &progress));
  std::printf("eval on %s: %s\n", config.eval_dataset.description.c_str(),
              FormatEvalMetrics(metrics, config.eval->samples_per_prompt).c_str());
  nlohmann::json report = EvalMetricsToJson(metrics);
  report["dataset"] = config.eval_dataset.description;
  report["temperature"] = config.eval->temperature;
  const std::string eval_path = absl::StrCat(config.out_dir, "/eval.json");
  RETURN_IF_ERROR(WriteFileAtomically(eval_path, report.dump(2) + "\n"));
  std::printf("wrote %s\n", eval_path.c_str());
  return absl::OkStatus();
}

int RunSft(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha sft: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("sft", "--config FILE [--model DIR] [--out DIR] [--steps N] [--set KEY=VALUE]",
                  kFlags);
    return 0;
  }
  std::optional<std::string> config = flags->Get("config");
  if (!config) {
    std::fprintf(stderr, "aha sft: --config is required; see aha sft --help\n");
    return 2;
  }
  // Line-buffered, so progress lines reach a log file or pipe as they are printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  absl::Status status = Sft(*config, *flags);
  if (!status.ok()) {
    std::fprintf(stderr, "aha sft: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("sft", "fine-tune a model on prompt/response pairs (R1's cold start)", RunSft);

}  // namespace aha::cli
