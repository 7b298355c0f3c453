// `aha init`: creates a model folder with random weights from a YAML config.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "base/yaml_map.h"
#include "policy/model_yaml.h"
#include "policy/policy_io.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"config", "YAML file with model: and tokenizer: sections (required)"},
    {"out", "folder to write config.json, model.safetensors and vocab.json to (required)"},
    {"dtype", "dtype of the saved weights: float32, bfloat16 or float16 (default float32)"},
};

absl::Status Init(const ParsedFlags& flags) {
  auto config_path = flags.Get("config");
  auto out = flags.Get("out");
  if (!config_path || !out) {
    return absl::InvalidArgumentError("--config and --out are required; see aha init --help");
  }
  ASSIGN_OR_RETURN(YAML::Node root_node, LoadYamlFile(*config_path));
  ASSIGN_OR_RETURN(YamlMap root, YamlMap::Create(root_node, *config_path, ""));
  ASSIGN_OR_RETURN(NewModelSpec spec, ParseNewModelSpec(root));
  RETURN_IF_ERROR(root.CheckAllKeysRead());

  SaveOptions save;
  const std::string dtype = flags.GetOr("dtype", "float32");
  if (dtype == "float32") {
    save.dtype = torch::kFloat32;
  } else if (dtype == "bfloat16") {
    save.dtype = torch::kBFloat16;
  } else if (dtype == "float16") {
    save.dtype = torch::kFloat16;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--dtype must be float32, bfloat16 or float16, got '", dtype, "'"));
  }

  RETURN_IF_ERROR(PrepareOutputFolder(*out, "--out"));
  CausalLm model(spec.config);
  InitializeWeights(*model, spec.init_std, spec.seed);
  RETURN_IF_ERROR(spec.tokenizer.Save(*out));
  RETURN_IF_ERROR(SavePolicy(model, *out, *out, save));
  int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  std::printf("wrote %s: %s, %lld parameters, vocabulary %lld\n", out->c_str(),
              spec.config.architecture.c_str(), static_cast<long long>(parameters),
              static_cast<long long>(spec.config.vocab_size));
  return absl::OkStatus();
}

int RunInit(const std::vector<std::string>& args) {
  auto flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha init: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("init", "--config FILE --out DIR", kFlags);
    return 0;
  }
  absl::Status status = Init(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "aha init: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("init", "create a model folder with random weights from a YAML config", RunInit);

}  // namespace aha::cli
