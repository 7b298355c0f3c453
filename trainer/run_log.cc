#include "trainer/run_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aha {

nlohmann::json StepMetrics::ToJson() const {
  nlohmann::json j = {
      {"step", step},
      {"reward_mean", reward_mean},
      {"reward_std", reward_std},
      {"accuracy", accuracy},
      {"format_rate", format_rate},
      {"length_mean", length_mean},
      {"length_max", length_max},
      {"length_p50", length_p50},
      {"length_p90", length_p90},
      {"truncated_fraction", truncated_fraction},
      {"zero_variance_groups", zero_variance_groups},
      {"groups_sampled", groups_sampled},
      {"groups_dropped", groups_dropped},
      {"groups_trained", groups_trained},
      {"sampling_rounds", sampling_rounds},
      {"kl", kl},
      {"clip_low", clip_low},
      {"clip_high", clip_high},
      {"entropy", entropy},
      {"ratio_mean", ratio_mean},
      {"policy_loss", policy_loss},
      {"grad_norm", grad_norm},
      {"lr", lr},
      {"sampler_scorer_max_diff", sampler_scorer_max_diff},
      {"rollout_tokens_per_second", rollout_tokens_per_second},
      {"seconds_generate", seconds_generate},
      {"seconds_reward", seconds_reward},
      {"seconds_train", seconds_train},
      {"reward_errors", reward_errors},
  };
  for (const auto& [name, value] : reward_components) j["reward/" + name] = value;
  for (const auto& [name, value] : reflection) j["reflection/" + name] = value;
  if (accuracy_with_reflection) j["accuracy_with_reflection"] = *accuracy_with_reflection;
  if (accuracy_without_reflection) {
    j["accuracy_without_reflection"] = *accuracy_without_reflection;
  }
  return j;
}

std::string StepMetrics::ConsoleLine(int64_t total_steps) const {
  std::string line = absl::StrFormat(
      "step %4d/%d | reward %6.3f acc %5.3f fmt %5.3f | len %5.1f max %4.0f | kl %.4f clip "
      "%.3f ent %.3f | gnorm %6.3f lr %.2e | %6.0f tok/s | gen %5.1fs rew %4.1fs train %5.1fs",
      step, total_steps, reward_mean, accuracy, format_rate, length_mean, length_max, kl,
      clip_low + clip_high, entropy, grad_norm, lr, rollout_tokens_per_second, seconds_generate,
      seconds_reward, seconds_train);
  if (dynamic_sampling) {
    absl::StrAppendFormat(&line, " | groups %d/%d in %d", groups_trained, groups_sampled,
                          sampling_rounds);
  }
  return line;
}

absl::StatusOr<RunLog> RunLog::Open(const std::string& dir, bool append) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create run folder ", dir, ": ",
                                            error.message()));
  }
  const char* mode = append ? "a" : "w";
  std::string metrics_path = dir + "/metrics.jsonl";
  std::string samples_path = dir + "/samples.jsonl";
  std::FILE* metrics = std::fopen(metrics_path.c_str(), mode);
  if (metrics == nullptr) {
    return absl::InternalError(absl::StrCat("cannot open ", metrics_path, ": ",
                                            std::strerror(errno)));
  }
  std::FILE* samples = std::fopen(samples_path.c_str(), mode);
  if (samples == nullptr) {
    std::fclose(metrics);
    return absl::InternalError(absl::StrCat("cannot open ", samples_path, ": ",
                                            std::strerror(errno)));
  }
  return RunLog(metrics, samples);
}

RunLog::RunLog(RunLog&& other) noexcept : metrics_(other.metrics_), samples_(other.samples_) {
  other.metrics_ = nullptr;
  other.samples_ = nullptr;
}

RunLog::~RunLog() {
  if (metrics_ != nullptr) std::fclose(metrics_);
  if (samples_ != nullptr) std::fclose(samples_);
}

void RunLog::WriteMetrics(const nlohmann::json& record) {
  std::fprintf(metrics_, "%s\n", record.dump().c_str());
  std::fflush(metrics_);
}

void RunLog::WriteSample(const nlohmann::json& record) {
  std::fprintf(samples_, "%s\n", record.dump().c_str());
  std::fflush(samples_);
}

}  // namespace aha
