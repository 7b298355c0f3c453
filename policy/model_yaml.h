// The `model:` and `tokenizer:` sections of a YAML config, for creating a new model from
// scratch (aha init, aha pretrain).
#ifndef AHA_POLICY_MODEL_YAML_H_
#define AHA_POLICY_MODEL_YAML_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/yaml_map.h"
#include "policy/char_tokenizer.h"
#include "policy/model_config.h"

namespace aha {

// A model to create: its architecture and the character vocabulary it reads.
struct NewModelSpec {
  ModelConfig config;              // vocab_size is filled from the tokenizer
  CharTokenizer tokenizer;
  double init_std = 0.02;          // normal init of matrices, as transformers' initializer_range
  uint64_t seed = 0;
};

// Parses `model:` (Hugging Face config.json keys) and `tokenizer:` (type: char, added_tokens,
// alphabet, non_special). Unknown keys are errors naming the file and line.
absl::StatusOr<NewModelSpec> ParseNewModelSpec(YamlMap& root);

}  // namespace aha

#endif  // AHA_POLICY_MODEL_YAML_H_
