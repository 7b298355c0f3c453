// Loading and saving a torch::nn::Module's parameters by their Hugging Face names
// (model.layers.0.self_attn.q_proj.weight) from and to a folder of safetensors files.
//
// Only parameters are read and written. Buffers are derived state here (RoPE tables, masks),
// and transformers does not save its non-persistent ones such as rotary_emb.inv_freq, so a
// buffer found in the files is reported as unused instead of loaded.
//
// Tied weights are one TensorImpl registered under two names, such as model.embed_tokens.weight
// and lm_head.weight. They are saved once, under the first name in module order, and loaded
// from whichever of their names the files contain, as transformers does with
// tie_word_embeddings.
//
//   ASSIGN_OR_RETURN(LoadReport report, LoadModuleTensors(*model, "/models/qwen2.5-0.5b",
//                                                         {torch::kBFloat16, torch::kCUDA}));
//   RETURN_IF_ERROR(SaveModuleTensors(*model, "/runs/step-100", torch::kBFloat16));
#ifndef AHA_POLICY_CHECKPOINT_H_
#define AHA_POLICY_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace aha {

struct LoadOptions {
  // Every parameter is converted to this dtype (from F32, BF16, F16 or F64 in the files).
  torch::Dtype dtype = torch::kFloat32;
  // Parameters are placed here; buffers are moved here too and keep their dtype.
  torch::Device device = torch::kCPU;
};

struct LoadReport {
  // Names in the files that match no parameter of the module, sorted. The caller decides
  // whether they matter: lm_head.weight with tied embeddings and rotary_emb.inv_freq do not.
  std::vector<std::string> unused_tensors;
  int64_t loaded_parameters = 0;  // count of tensors read
  int64_t loaded_bytes = 0;       // bytes read from the files, before conversion
};

// Loads every parameter of `module` from `model_dir` (model.safetensors, or shards through
// model.safetensors.index.json), replacing each parameter's data and keeping requires_grad.
// A parameter missing from the files, a shape mismatch or a non-floating-point dtype is an
// error naming the tensor and the file. After an error the module may be partly loaded.
absl::StatusOr<LoadReport> LoadModuleTensors(torch::nn::Module& module,
                                             const std::string& model_dir,
                                             const LoadOptions& options = {});

struct SaveOptions {
  // Dtype of the saved tensors: kFloat32, kBFloat16 or kFloat16.
  torch::Dtype dtype = torch::kBFloat16;
  // When the tensors hold more bytes than this, they go into shards of at most this size plus
  // model.safetensors.index.json; 0 always writes one model.safetensors.
  uint64_t max_shard_bytes = 0;
};

// Saves every parameter of `module` to `model_dir` (created if missing), each file written
// through a temporary file and a rename. Config files are the caller's: see WriteModelConfig.
absl::Status SaveModuleTensors(const torch::nn::Module& module, const std::string& model_dir,
                               const SaveOptions& options = {});

}  // namespace aha

#endif  // AHA_POLICY_CHECKPOINT_H_
