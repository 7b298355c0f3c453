// The typed configuration of a GRPO run (`aha train CONFIG`), parsed once from YAML. Every key
// is documented in docs/config.md.
#ifndef AHA_TRAINER_GRPO_CONFIG_H_
#define AHA_TRAINER_GRPO_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/status/statusor.h"
#include "data/countdown.h"
#include "data/jsonl.h"
#include "policy/sampling.h"
#include "trainer/advantages.h"
#include "trainer/optimizer.h"
#include "trainer/policy_loss.h"
#include "trainer/reflection.h"

namespace aha {

// The source of the prompts: a generated Countdown set or JSONL files.
struct DataConfig {
  std::string kind = "countdown";        // countdown | jsonl
  data::CountdownOptions countdown;
  data::JsonlOptions train_jsonl;         // kind == jsonl
  std::optional<data::JsonlOptions> test_jsonl;
  std::string prompt_template = "r1-zero";  // a built-in name or a template with {prompt}
  uint64_t shuffle_seed = 0;
};

struct GrpoOptions {
  int64_t steps = 100;
  int64_t prompts_per_step = 16;   // B
  int64_t group_size = 8;          // G
  int64_t max_new_tokens = 256;
  SamplingOptions sampling;
  std::vector<std::string> stop_strings;
  AdvantageOptions advantages;
  PolicyLossOptions loss;
  int64_t updates_per_step = 1;    // mu: passes over each rollout batch
  int64_t micro_batch_rows = 16;   // rows per forward/backward
  // Score each micro-batch's prompts once and its completions against them, instead of every
  // row's prompt again. The same math; false runs every row in full.
  bool share_prompt_prefix = true;
  // DAPO's dynamic sampling: drop the groups whose rewards are all equal (zero advantage) and
  // roll out B more prompts, up to max_sampling_rounds rollouts a step, until B groups remain.
  bool dynamic_sampling = false;
  int64_t max_sampling_rounds = 3;
};

struct LogOptions {
  int64_t samples_every = 10;      // write samples.jsonl every N steps; 0 never
  int64_t samples_per_step = 8;    // rows written each time
  int64_t eval_every = 0;          // evaluate every N steps and at the end; 0 only at the end
  int64_t eval_prompts = 200;      // test prompts per evaluation
  int64_t eval_group_size = 1;
  double eval_temperature = 0.0;   // 0 is greedy
  int64_t checkpoint_every = 0;    // save a resumable checkpoint every N steps; 0 only at end
  bool eval_before_training = true;
  // Keyword sets counted in every step's completions: built-in names from `reflection_sets`
  // (r1, oat), plus a set named "custom" when `reflection_keywords` is given.
  std::vector<KeywordSet> reflection_sets = DefaultReflectionSets();
  bool tensorboard = false;        // also write out_dir/tb/events.out.tfevents.*
};

struct GrpoRunConfig {
  std::string config_path;
  std::string out_dir;
  uint64_t seed = 0;
  int64_t threads = 0;             // 0: one per usable CPU (ConfigureCpuThreads)
  std::string device = "cpu";
  // Data-parallel runs (aha launch, torchrun, SLURM): how long a rank waits for the others at
  // the rendezvous and at each collective before it fails, and the size of the buffers that
  // gradients are summed in.
  double dist_timeout_seconds = 300;
  double dist_bucket_mb = 25;
  std::string policy_path;         // model folder to start from
  std::string dtype = "float32";
  std::optional<std::string> reference_path;  // defaults to policy_path when kl_beta > 0
  DataConfig data;
  YAML::Node rewards;              // the `rewards:` list, built by RewardSet
  GrpoOptions grpo;
  OptimizerOptions optimizer;
  LogOptions log;
};

// Parses a run config file. Unknown keys, wrong types and invalid values are errors that name
// the file, line and key; a group_size of 1 is an error, since a group of one has no baseline.
// `overrides` ("optimizer.lr=1e-6", ...) are applied before parsing; see ApplyYamlOverrides.
absl::StatusOr<GrpoRunConfig> LoadGrpoRunConfig(const std::string& path,
                                                const std::vector<std::string>& overrides = {});

}  // namespace aha

#endif  // AHA_TRAINER_GRPO_CONFIG_H_
