#include "policy/policy_io.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "policy/file_io.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTokenizerFiles[] = {"vocab.json", "tokenizer.json",
                                           "tokenizer_config.json", "generation_config.json",
                                           "special_tokens_map.json"};

bool IsIgnorableExtra(const std::string& name, const ModelConfig& config) {
  if (absl::EndsWith(name, "rotary_emb.inv_freq")) return true;
  return name == "lm_head.weight" && config.tie_word_embeddings;
}

}  // namespace

absl::StatusOr<CausalLm> LoadModel(const std::string& dir, const LoadOptions& options) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(config_path));
  CausalLm model(config);
  ASSIGN_OR_RETURN(LoadReport report, LoadModuleTensors(*model, dir, options));
  std::vector<std::string> unexpected;
  for (const std::string& name : report.unused_tensors) {
    if (!IsIgnorableExtra(name, config)) unexpected.push_back(name);
  }
  if (!unexpected.empty()) {
    const size_t shown = std::min<size_t>(unexpected.size(), 5);
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": the weights contain ", unexpected.size(), " tensor(s) that ", config_path,
        " does not describe, for example ",
        absl::StrJoin(unexpected.begin(), unexpected.begin() + shown, ", "),
        "; check that config.json belongs to these weights (architectures, model_type)"));
  }
  model->to(options.device);
  return model;
}

absl::StatusOr<Policy> LoadPolicy(const std::string& dir, const LoadOptions& options) {
  Policy policy;
  policy.source_dir = dir;
  ASSIGN_OR_RETURN(policy.model, LoadModel(dir, options));
  policy.config = policy.model->config();
  ASSIGN_OR_RETURN(policy.tokenizer, LoadTokenizer(dir));
  if (policy.tokenizer->VocabSize() > policy.config.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": the tokenizer has ", policy.tokenizer->VocabSize(),
        " tokens but config.json's vocab_size is ", policy.config.vocab_size,
        "; the model cannot embed the extra ids"));
  }
  return policy;
}

absl::Status CopyTokenizerFiles(const std::string& from_dir, const std::string& to_dir) {
  std::error_code error;
  fs::create_directories(to_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", to_dir, ": ", error.message()));
  }
  int copied = 0;
  for (const char* name : kTokenizerFiles) {
    fs::path from = fs::path(from_dir) / name;
    if (!fs::exists(from)) continue;
    if (fs::equivalent(fs::path(from_dir), fs::path(to_dir), error)) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string contents, ReadFileToString(from.string()));
    RETURN_IF_ERROR(WriteFileAtomically((fs::path(to_dir) / name).string(), contents));
    if (std::string(name) == "vocab.json" || std::string(name) == "tokenizer.json") ++copied;
  }
  if (copied == 0) {
    return absl::NotFoundError(absl::StrCat(from_dir,
                                            " has neither vocab.json nor tokenizer.json"));
  }
  return absl::OkStatus();
}

absl::Status SavePolicy(const CausalLm& model, const std::string& tokenizer_dir,
                        const std::string& dir, const SaveOptions& options) {
  ModelConfig config = model->config();
  config.torch_dtype = options.dtype == torch::kFloat32    ? "float32"
                       : options.dtype == torch::kFloat16 ? "float16"
                                                          : "bfloat16";
  RETURN_IF_ERROR(SaveModuleTensors(*model, dir, options));
  RETURN_IF_ERROR(WriteModelConfig(config, (fs::path(dir) / "config.json").string()));
  return CopyTokenizerFiles(tokenizer_dir, dir);
}

}  // namespace aha
