#include "policy/policy_io.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "policy/file_io.h"
#include "policy/safetensors_folder.h"

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

// Checks config.json's vocabulary, width and depth against the weight files' headers before
// the model is built, so that a wrong config gives this error instead of an attempt to
// allocate whatever it describes.
absl::Status CheckConfigAgainstWeights(const std::string& dir, const std::string& config_path,
                                       const ModelConfig& config) {
  ASSIGN_OR_RETURN(SafetensorsFolder folder, SafetensorsFolder::Open(dir));
  auto mismatch = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path, " does not match the weights in ", folder.source(), ": ", what,
        "; check that config.json belongs to these weights"));
  };
  const SafetensorsTensor* embed = folder.Find("model.embed_tokens.weight").tensor;
  if (embed != nullptr) {
    const std::vector<int64_t> expected = {config.vocab_size, config.hidden_size};
    if (embed->shape != expected) {
      return mismatch(absl::StrCat("model.embed_tokens.weight has shape [",
                                   absl::StrJoin(embed->shape, ", "), "], but vocab_size ",
                                   config.vocab_size, " and hidden_size ", config.hidden_size,
                                   " ask for [", absl::StrJoin(expected, ", "), "]"));
    }
  }
  int64_t layers_in_files = 0;
  for (const std::string& name : folder.Names()) {
    int64_t index = 0;
    if (std::sscanf(name.c_str(), "model.layers.%ld.", &index) == 1) {
      layers_in_files = std::max(layers_in_files, index + 1);
    }
  }
  if (layers_in_files != config.num_hidden_layers) {
    return mismatch(absl::StrCat("num_hidden_layers is ", config.num_hidden_layers,
                                 ", but the files hold ", layers_in_files, " layers"));
  }
  return absl::OkStatus();
}

// A tokenizer whose files name no end-of-sequence token, given the ids that config.json
// names. Everything else is the wrapped tokenizer's.
class TokenizerWithEos : public Tokenizer {
 public:
  TokenizerWithEos(std::unique_ptr<Tokenizer> inner, std::vector<int32_t> eos_ids)
      : inner_(std::move(inner)), special_(inner_->special_tokens()) {
    special_.eos_ids = std::move(eos_ids);
  }
  std::vector<int32_t> Encode(std::string_view text) const override {
    return inner_->Encode(text);
  }
  std::string DecodeBytes(absl::Span<const int32_t> ids, bool skip_special) const override {
    return inner_->DecodeBytes(ids, skip_special);
  }
  std::string Decode(absl::Span<const int32_t> ids, bool skip_special) const override {
    return inner_->Decode(ids, skip_special);
  }
  int32_t VocabSize() const override { return inner_->VocabSize(); }
  std::optional<int32_t> TokenToId(std::string_view token) const override {
    return inner_->TokenToId(token);
  }
  std::optional<std::string> IdToToken(int32_t id) const override {
    return inner_->IdToToken(id);
  }
  bool IsSpecial(int32_t id) const override { return inner_->IsSpecial(id); }
  const SpecialTokens& special_tokens() const override { return special_; }

 private:
  std::unique_ptr<Tokenizer> inner_;
  SpecialTokens special_;
};

}  // namespace

std::optional<std::string> FirstNonFiniteParameter(const torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (const auto& item : module.named_parameters()) {
    if (!torch::isfinite(item.value()).all().item<bool>()) return item.key();
  }
  return std::nullopt;
}

absl::StatusOr<CausalLm> LoadModel(const std::string& dir, const LoadOptions& options) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(config_path));
  RETURN_IF_ERROR(CheckConfigAgainstWeights(dir, config_path, config));
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
  // A NaN or infinite weight makes every output NaN. That shows up much later, as empty
  // generations or a non-finite loss, so the load names the tensor instead.
  if (std::optional<std::string> name = FirstNonFiniteParameter(*model)) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": tensor ", *name, " contains NaN or infinite values (an F64 value beyond "
        "float32's range becomes infinite); the weights are damaged or were saved from a "
        "diverged run"));
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
  if (policy.tokenizer->special_tokens().eos_ids.empty()) {
    // As transformers does, fall back to config.json's eos_token_id.
    std::vector<int32_t> eos_ids;
    for (int64_t id : policy.config.eos_token_ids) {
      if (id >= 0 && id < policy.tokenizer->VocabSize()) {
        eos_ids.push_back(static_cast<int32_t>(id));
      }
    }
    if (!eos_ids.empty()) {
      policy.tokenizer =
          std::make_unique<TokenizerWithEos>(std::move(policy.tokenizer), std::move(eos_ids));
    } else {
      std::fprintf(stderr, "aha: warning: %s names no end-of-sequence token, neither in its "
                   "tokenizer files nor as config.json's eos_token_id, so every completion runs "
                   "to max_new_tokens\n", dir.c_str());
    }
  }
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
