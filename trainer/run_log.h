// The files and console lines a training run writes: metrics.jsonl (one JSON object per
// step), samples.jsonl (example completions) and one fixed-format line per step on stdout.
#ifndef AHA_TRAINER_RUN_LOG_H_
#define AHA_TRAINER_RUN_LOG_H_

#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace aha {

// Numbers of one GRPO step, as logged.
struct StepMetrics {
  int64_t step = 0;
  double reward_mean = 0, reward_std = 0;
  double accuracy = 0, format_rate = 0;
  std::map<std::string, double> reward_components;  // mean of each reward where present
  double length_mean = 0, length_max = 0;
  double length_p50 = 0, length_p90 = 0;  // completion tokens, interpolated percentiles
  // Self-reflection keyword rates (trainer/reflection.h), logged as "reflection/KEY", for
  // example reflection/r1_fraction, reflection/oat_per_1k_tokens, reflection/any_fraction.
  std::map<std::string, double> reflection;
  // Accuracy of the completions with (without) any reflection keyword; absent from the JSON
  // when the batch has no such completion.
  std::optional<double> accuracy_with_reflection, accuracy_without_reflection;
  double truncated_fraction = 0;
  double zero_variance_groups = 0;  // fraction of the sampled groups with equal rewards
  // Groups (prompts) of the step: rolled out, dropped for equal rewards by dynamic sampling,
  // and trained on. Without dynamic sampling nothing is dropped and all B are trained on.
  int64_t groups_sampled = 0, groups_dropped = 0, groups_trained = 0;
  int64_t sampling_rounds = 1;  // rollouts of B prompts this step
  bool dynamic_sampling = false;  // adds the group counts to the console line
  double kl = 0, clip_low = 0, clip_high = 0, entropy = 0, ratio_mean = 0;
  double policy_loss = 0, grad_norm = 0, lr = 0;
  // Largest |sampler log-prob - scorer log-prob| over completion tokens: both apply the same
  // temperature, so this only shows numerical noise, unless top-k/top-p/min-p filter.
  double sampler_scorer_max_diff = 0;
  double rollout_tokens_per_second = 0;
  double seconds_generate = 0, seconds_reward = 0, seconds_train = 0;
  int64_t reward_errors = 0;

  nlohmann::json ToJson() const;
  // One line: step, reward, accuracy, format, lengths, KL, clip, entropy, grad norm, lr,
  // tokens/s and the seconds of each phase; with dynamic sampling also the groups trained on,
  // sampled and the rounds ("groups 14/32 in 2").
  std::string ConsoleLine(int64_t total_steps) const;
};

class RunLog {
 public:
  // Opens (appending when `append`) metrics.jsonl and samples.jsonl in `dir`.
  static absl::StatusOr<RunLog> Open(const std::string& dir, bool append);
  RunLog(RunLog&& other) noexcept;
  RunLog& operator=(RunLog&&) = delete;
  ~RunLog();

  void WriteMetrics(const nlohmann::json& record);
  void WriteSample(const nlohmann::json& record);

 private:
  RunLog(std::FILE* metrics, std::FILE* samples) : metrics_(metrics), samples_(samples) {}
  std::FILE* metrics_;
  std::FILE* samples_;
};

}  // namespace aha

#endif  // AHA_TRAINER_RUN_LOG_H_
