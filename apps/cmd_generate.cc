// `aha generate`: samples completions of one prompt from a model folder.
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "policy/cpu_threads.h"
#include "policy/group_sampler.h"
#include "policy/policy_io.h"
#include "policy/sampling.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"model", "model folder: config.json, safetensors weights and a tokenizer (required)"},
    {"prompt", "prompt text, used as is (required)"},
    {"n", "number of completions G (default 1)"},
    {"max-new-tokens", "maximum tokens per completion (default 256)"},
    {"temperature", "sampling temperature; 0 is greedy (default 1.0)"},
    {"top-k", "keep the k most likely tokens; 0 keeps all (default 0)"},
    {"top-p", "nucleus sampling mass (default 1.0)"},
    {"min-p", "drop tokens below this fraction of the top probability (default 0)"},
    {"stop", "stop string; the completion ends once its text contains it"},
    {"seed", "random seed (default 0)"},
    {"threads", "CPU threads (default: one per CPU this process may use)"},
    {"device", "cpu or cuda (default cpu)"},
};

absl::Status Generate(const ParsedFlags& flags) {
  auto model_dir = flags.Get("model");
  auto prompt = flags.Get("prompt");
  if (!model_dir || !prompt) {
    return absl::InvalidArgumentError("--model and --prompt are required; see --help");
  }
  ASSIGN_OR_RETURN(int64_t n, flags.GetInt("n", 1));
  ASSIGN_OR_RETURN(int64_t max_new, flags.GetInt("max-new-tokens", 256));
  ASSIGN_OR_RETURN(double temperature, flags.GetDouble("temperature", 1.0));
  ASSIGN_OR_RETURN(int64_t top_k, flags.GetInt("top-k", 0));
  ASSIGN_OR_RETURN(double top_p, flags.GetDouble("top-p", 1.0));
  ASSIGN_OR_RETURN(double min_p, flags.GetDouble("min-p", 0.0));
  ASSIGN_OR_RETURN(int64_t seed, flags.GetInt("seed", 0));
  ASSIGN_OR_RETURN(int64_t threads, flags.GetInt("threads", 0));
  if (n < 1 || max_new < 1) return absl::InvalidArgumentError("--n and --max-new-tokens must be >= 1");
  const SamplingOptions sampling = {temperature, top_k, top_p, min_p};
  if (auto problem = FindSamplingProblem(sampling, /*allow_greedy=*/true)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", absl::StrReplaceAll(problem->field, {{"_", "-"}}), " ", problem->message));
  }
  if (threads < 0) return absl::InvalidArgumentError("--threads must be >= 0 (0: one per CPU)");
  std::optional<std::string> stop = flags.Get("stop");
  if (stop && stop->empty()) {
    return absl::InvalidArgumentError("--stop is empty, which would end every completion at "
                                      "once; leave it out or give a string");
  }
  ConfigureCpuThreads(threads);

  LoadOptions load;
  const std::string device = flags.GetOr("device", "cpu");
  if (device == "cuda") {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError("--device cuda, but this build of LibTorch sees no "
                                           "CUDA device");
    }
    load.device = torch::kCUDA;
  } else if (device != "cpu") {
    return absl::InvalidArgumentError(absl::StrCat("--device must be cpu or cuda, got ", device));
  }
  ASSIGN_OR_RETURN(Policy policy, LoadPolicy(*model_dir, load));
  policy.model->eval();

  std::vector<int32_t> ids = policy.tokenizer->Encode(*prompt);
  if (ids.empty()) return absl::InvalidArgumentError("--prompt encodes to no tokens");
  RETURN_IF_ERROR(CheckPromptFitsContext(static_cast<int64_t>(ids.size()), policy.config,
                                         "--prompt"));
  GroupSamplerOptions options;
  options.group_size = n;
  options.max_new_tokens = max_new;
  options.sampling = sampling;
  options.seed = static_cast<uint64_t>(seed);
  options = WithTokenizerSpecials(options, *policy.tokenizer);
  if (stop) options.stop_strings.push_back(*stop);

  GroupSampler sampler(policy.model, policy.tokenizer.get());
  TerminalProgress progress;
  Rollouts rollouts = sampler.Sample({ids}, options, &progress);
  auto completions = rollouts.completion_ids.to(torch::kCPU);
  for (int64_t row = 0; row < n; ++row) {
    std::vector<int32_t> tokens;
    for (int64_t j = 0; j < rollouts.completion_lengths[row]; ++j) {
      tokens.push_back(static_cast<int32_t>(completions[row][j].item<int64_t>()));
    }
    std::printf("=== completion %lld (%lld tokens, finish: %s)\n%s%s\n",
                static_cast<long long>(row), static_cast<long long>(tokens.size()),
                FinishReasonName(rollouts.finish_reasons[row]), prompt->c_str(),
                policy.tokenizer->Decode(tokens).c_str());
  }
  if (rollouts.context_stops > 0) {
    std::printf("%s\n", ContextStopWarning(rollouts.context_stops, policy.config.max_position_embeddings,
                                            "--max-new-tokens").c_str());
  }
  return absl::OkStatus();
}

int RunGenerate(const std::vector<std::string>& args) {
  auto flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha generate: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("generate", "--model DIR --prompt TEXT [--n G] [options]", kFlags);
    return 0;
  }
  absl::Status status = Generate(*flags);
  if (status.ok()) status = CheckStdoutWritten();
  if (!status.ok()) {
    std::fprintf(stderr, "aha generate: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("generate", "sample completions of a prompt from a model folder", RunGenerate);

}  // namespace aha::cli
