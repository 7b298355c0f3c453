// Loading and saving a whole policy folder: config.json, safetensors weights and the tokenizer
// files, in the layout of a Hugging Face model folder.
#ifndef AHA_POLICY_POLICY_IO_H_
#define AHA_POLICY_POLICY_IO_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "policy/checkpoint.h"
#include "policy/model_config.h"
#include "policy/tokenizer.h"
#include "policy/transformer.h"

namespace aha {

struct Policy {
  ModelConfig config;
  CausalLm model{nullptr};
  std::unique_ptr<Tokenizer> tokenizer;
  std::string source_dir;  // the folder it was loaded from
};

// Loads `dir`: config.json, the weights and the tokenizer. Tensors in the files that the model
// lacks are an error naming them, because they mean the config describes another architecture
// (for example a Qwen3 checkpoint read without q/k norms); the exceptions are lm_head.weight
// when the embeddings are tied and rotary inv_freq buffers, which transformers also ignores.
absl::StatusOr<Policy> LoadPolicy(const std::string& dir, const LoadOptions& options = {});

// Returns the name of the first parameter of `module` that contains a NaN or an infinity.
std::optional<std::string> FirstNonFiniteParameter(const torch::nn::Module& module);

// Loads only the model (config.json and weights), for a frozen reference model.
absl::StatusOr<CausalLm> LoadModel(const std::string& dir, const LoadOptions& options = {});

// Writes config.json, the weights and the tokenizer files found in `tokenizer_dir` (vocab.json,
// or tokenizer.json with tokenizer_config.json and generation_config.json when present).
absl::Status SavePolicy(const CausalLm& model, const std::string& tokenizer_dir,
                        const std::string& dir, const SaveOptions& options = {});

// Copies the tokenizer files of `from_dir` into `to_dir`. At least one of vocab.json and
// tokenizer.json must exist.
absl::Status CopyTokenizerFiles(const std::string& from_dir, const std::string& to_dir);

}  // namespace aha

#endif  // AHA_POLICY_POLICY_IO_H_
