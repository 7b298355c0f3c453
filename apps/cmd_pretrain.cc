// `aha pretrain --config FILE`: creates a tiny model (or loads one), generates the synthetic
// Countdown corpus, trains it by next-token prediction, saves it and evaluates it on the
// Countdown test split.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "base/yaml_map.h"
#include "data/corpus.h"
#include "policy/char_tokenizer.h"
#include "policy/cpu_threads.h"
#include "policy/file_io.h"
#include "policy/model_yaml.h"
#include "policy/policy_io.h"
#include "trainer/evaluate.h"
#include "trainer/lm_config.h"
#include "trainer/lm_trainer.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"config", "YAML file: out_dir, model/tokenizer or init_from, corpus, train, eval (required)"},
    {"out", "output folder; overrides out_dir"},
    {"steps", "optimizer steps; overrides train.steps"},
    {"threads", "CPU threads for LibTorch; overrides threads (default: one per CPU this process may use)"},
    {"skip_eval", "save the model without evaluating it", /*is_switch=*/true},
    {"set", "override any config value, KEY.PATH=VALUE (YAML), e.g. --set train.lr=1e-3; "
            "repeatable", /*is_switch=*/false, /*repeatable=*/true},
    CheckFlag(),
};

// Everything the config file sets, read and checked before any work starts.
struct PretrainConfig {
  std::string out_dir;
  std::string init_from;
  std::optional<NewModelSpec> new_model;
  int64_t threads = 0;
  SaveOptions save;
  data::CorpusOptions corpus;
  LmTrainConfig train;
  EvalOptions eval;
  std::optional<RewardSet> rewards;
};

absl::StatusOr<PretrainConfig> ReadConfig(const std::string& path, const ParsedFlags& flags) {
  ASSIGN_OR_RETURN(YAML::Node node, LoadYamlFile(path));
  RETURN_IF_ERROR(ApplyYamlOverrides(node, flags.GetAll("set")));
  ASSIGN_OR_RETURN(YamlMap root, YamlMap::Create(node, path, ""));
  PretrainConfig config;
  RETURN_IF_ERROR(root.Read("out_dir", config.out_dir));
  RETURN_IF_ERROR(root.Read("init_from", config.init_from));
  RETURN_IF_ERROR(root.Read("threads", config.threads));
  ASSIGN_OR_RETURN(config.save.dtype, ReadSaveDtype(root));
  if (config.init_from.empty()) {
    ASSIGN_OR_RETURN(config.new_model, ParseNewModelSpec(root));
  } else if (root.Has("model") || root.Has("tokenizer")) {
    return root.Error("init_from", "cannot be combined with model: or tokenizer: sections");
  }
  ASSIGN_OR_RETURN(config.corpus, ParseCorpusSection(root, "corpus"));
  ASSIGN_OR_RETURN(YamlMap train, root.Child("train"));
  ASSIGN_OR_RETURN(config.train, ParseLmTrainConfig(train));
  ASSIGN_OR_RETURN(YamlMap eval, root.Child("eval"));
  ASSIGN_OR_RETURN(config.eval, ParseEvalOptions(eval));
  ASSIGN_OR_RETURN(data::PromptTemplate prompt_template,
                   data::PromptTemplate::Resolve(config.corpus.prompt_template));
  ASSIGN_OR_RETURN(config.rewards, ParseRewardsOrDefault(root, prompt_template));
  RETURN_IF_ERROR(root.CheckAllKeysRead());

  if (auto out = flags.Get("out")) config.out_dir = *out;
  if (config.out_dir.empty()) {
    return root.Error("out_dir", "is required (or pass --out DIR)");
  }
  RETURN_IF_ERROR(CheckOutputIsNotModel(config.init_from, "init_from", config.out_dir));
  RETURN_IF_ERROR(CheckOutputFolderPath(config.out_dir, "out_dir (or --out)"));
  ASSIGN_OR_RETURN(config.train.options.steps,
                   flags.GetInt("steps", config.train.options.steps));
  ASSIGN_OR_RETURN(config.threads, flags.GetInt("threads", config.threads));
  RETURN_IF_ERROR(CheckLmTrainOptions(config.train.options, path));
  return config;
}

// The starting policy: a new model with seeded random weights, or the folder init_from.
absl::StatusOr<Policy> StartingPolicy(const PretrainConfig& config) {
  if (!config.init_from.empty()) return LoadPolicy(config.init_from);
  const NewModelSpec& spec = *config.new_model;
  Policy policy;
  policy.config = spec.config;
  policy.model = CausalLm(spec.config);
  InitializeWeights(*policy.model, spec.init_std, spec.seed);
  policy.tokenizer = std::make_unique<CharTokenizer>(spec.tokenizer);
  return policy;
}

absl::Status Pretrain(const std::string& config_path, const ParsedFlags& flags) {
  ASSIGN_OR_RETURN(PretrainConfig config, ReadConfig(config_path, flags));
  if (flags.Has("check")) {
    // The corpus is generated too: whether its entries fit max_length shows only then.
    ASSIGN_OR_RETURN(std::vector<data::CorpusEntry> corpus, data::GenerateCorpus(config.corpus));
    if (corpus.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path, ": corpus.size is 0, so there is nothing to train on"));
    }
    PrintConfigValid("pretrain", config_path);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(PrepareOutputFolder(config.out_dir, "out_dir (or --out)"));
  ConfigureCpuThreads(config.threads);
  ASSIGN_OR_RETURN(Policy policy, StartingPolicy(config));
  int64_t parameters = 0;
  for (const auto& p : policy.model->parameters()) parameters += p.numel();
  std::printf("model: %lld parameters, vocabulary %lld, %d threads\n",
              static_cast<long long>(parameters), static_cast<long long>(policy.config.vocab_size),
              torch::get_num_threads());

  // ---- corpus.
  const auto corpus_start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<data::CorpusEntry> corpus, data::GenerateCorpus(config.corpus));
  const double corpus_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - corpus_start).count();
  std::vector<LmExample> examples;
  int64_t correct = 0, tokens = 0;
  for (const data::CorpusEntry& entry : corpus) {
    // The completion already ends in the end marker, which encodes to the EOS id.
    examples.push_back(MakePromptResponseExample(*policy.tokenizer, entry.prompt,
                                                 entry.completion, config.train.loss_on_prompt,
                                                 /*append_eos=*/false));
    correct += entry.correct;
    tokens += static_cast<int64_t>(examples.back().ids.size());
  }
  if (std::string warning = UnknownTokenWarning(examples, *policy.tokenizer); !warning.empty()) {
    std::printf("%s\n", warning.c_str());
  }
  std::printf("corpus: %zu entries, %lld tokens, correct fraction %.3f, generated in %.1fs\n",
              corpus.size(), static_cast<long long>(tokens),
              static_cast<double>(correct) / std::max<size_t>(1, corpus.size()), corpus_seconds);

  // ---- train and save.
  TerminalProgress progress;
  // Process CPU time of all threads: on a shared machine it varies less than wall time.
  const std::clock_t cpu_start = std::clock();
  ASSIGN_OR_RETURN(LmTrainResult trained,
                   TrainLm(policy.model, std::move(examples), config.train.options, &progress,
                           stdout));
  const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::printf(
      "trained %lld steps in %.1fs (CPU time %.1fs, %.0f tokens/s), %lld examples truncated\n",
      static_cast<long long>(trained.steps), trained.seconds, cpu_seconds,
      trained.real_tokens / std::max(1e-9, trained.seconds),
      static_cast<long long>(trained.truncated_examples));
  if (config.new_model) RETURN_IF_ERROR(config.new_model->tokenizer.Save(config.out_dir));
  const std::string tokenizer_dir =
      config.init_from.empty() ? config.out_dir : config.init_from;
  RETURN_IF_ERROR(SavePolicy(policy.model, tokenizer_dir, config.out_dir, config.save));
  std::printf("saved %s\n", config.out_dir.c_str());
  if (flags.Has("skip_eval")) return absl::OkStatus();

  // ---- evaluate on the Countdown test split, which the corpus never contains.
  ASSIGN_OR_RETURN(EvalDataset dataset, CountdownTestSplit(config.corpus.problems));
  ASSIGN_OR_RETURN(data::PromptTemplate prompt_template,
                   data::PromptTemplate::Resolve(config.corpus.prompt_template));
  ASSIGN_OR_RETURN(EvalMetrics metrics, Evaluate(policy, prompt_template, dataset.examples,
                                                 config.eval, *config.rewards, &progress));
  std::printf("eval on %s: %s\n", dataset.description.c_str(),
              FormatEvalMetrics(metrics, config.eval.samples_per_prompt).c_str());
  nlohmann::json report = EvalMetricsToJson(metrics);
  report["dataset"] = dataset.description;
  report["temperature"] = config.eval.temperature;
  report["train"] = {{"steps", trained.steps},
                     {"seconds", trained.seconds},
                     {"cpu_seconds", cpu_seconds},
                     {"final_loss", trained.losses.empty() ? 0.0 : trained.losses.back()},
                     {"real_tokens", trained.real_tokens},
                     {"threads", torch::get_num_threads()}};
  const std::string eval_path = absl::StrCat(config.out_dir, "/eval.json");
  RETURN_IF_ERROR(WriteFileAtomically(eval_path, report.dump(2) + "\n"));
  std::printf("wrote %s\n", eval_path.c_str());
  return absl::OkStatus();
}

int RunPretrain(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha pretrain: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("pretrain",
                  "--config FILE [--out DIR] [--steps N] [--threads N] [--set KEY=VALUE]",
                  kFlags);
    return 0;
  }
  std::optional<std::string> config = flags->Get("config");
  if (!config) {
    std::fprintf(stderr, "aha pretrain: --config is required; see aha pretrain --help\n");
    return 2;
  }
  // Line-buffered, so progress lines reach a log file or pipe as they are printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  absl::Status status = Pretrain(*config, *flags);
  if (!status.ok()) {
    std::fprintf(stderr, "aha pretrain: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("pretrain", "pretrain a tiny model on the synthetic Countdown corpus", RunPretrain);

}  // namespace aha::cli
