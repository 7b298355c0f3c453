// The YAML sections shared by `aha pretrain`, `aha sft` and `aha eval`: `train:` (the LM
// trainer), `eval:` (evaluation), `corpus:` (the synthetic corpus), `dataset:` (the prompts to
// evaluate on) and `rewards:`. Every error names the file, the line and the key.
#ifndef AHA_TRAINER_LM_CONFIG_H_
#define AHA_TRAINER_LM_CONFIG_H_

#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "base/yaml_map.h"
#include "data/corpus.h"
#include "data/example.h"
#include "data/prompt_template.h"
#include "rewards/reward_set.h"
#include "trainer/evaluate.h"
#include "trainer/lm_trainer.h"

namespace aha {

// `train:`: the LmTrainOptions keys, plus how SFT examples are built.
struct LmTrainConfig {
  LmTrainOptions options;
  bool loss_on_prompt = false;  // train on prompt tokens too (pretraining texts always are)
  bool append_eos = true;       // end each SFT response with the EOS token
};

// Parses `section` (the `train:` mapping); unknown keys and invalid values are errors.
absl::StatusOr<LmTrainConfig> ParseLmTrainConfig(YamlMap& section);

// Checks `options` once flags have overridden them (ValidateLmTrainOptions), so that --check
// reports what the run would stop on: "PATH: train.steps must be >= 0 (--steps overrides
// train.steps)".
absl::Status CheckLmTrainOptions(const LmTrainOptions& options, const std::string& path);

// Parses `section` (the `eval:` mapping) over `defaults`.
absl::StatusOr<EvalOptions> ParseEvalOptions(YamlMap& section, EvalOptions defaults = {});

// Parses `root[key]` with the data room's CorpusOptions reader; errors carry the section's
// file and line. An absent section gives the defaults.
absl::StatusOr<data::CorpusOptions> ParseCorpusSection(YamlMap& root, const std::string& key);

// The prompts to evaluate on.
struct EvalDataset {
  std::vector<data::Example> examples;
  std::string description;  // "countdown test split (500 problems)" or the JSONL path
  std::string path;         // the JSONL file; empty for a generated split
};

// Parses `dataset:`, which has exactly one of
//   countdown: {CountdownOptions keys}   -> the test split of GenerateCountdown
//   jsonl: {path, question_field, answer_field, answer_format}
// An absent section gives the Countdown test split of the demo setting.
absl::StatusOr<EvalDataset> ParseEvalDataset(YamlMap& root);

// The Countdown test split that GenerateCountdown makes from `problems`.
absl::StatusOr<EvalDataset> CountdownTestSplit(const data::CountdownOptions& problems);

// Builds `rewards:` when the config has it, else the Countdown defaults: `countdown` and
// `format`, with prefilled_think when `prompt_template` ends in "<think>".
absl::StatusOr<RewardSet> ParseRewardsOrDefault(YamlMap& root,
                                                const data::PromptTemplate& prompt_template);

// Reads `save_dtype` (float32, bfloat16 or float16; default float32): the dtype of saved
// weights.
absl::StatusOr<torch::Dtype> ReadSaveDtype(YamlMap& root);

}  // namespace aha

#endif  // AHA_TRAINER_LM_CONFIG_H_
