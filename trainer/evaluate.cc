#include "trainer/evaluate.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "policy/sampling.h"
#include "rewards/math/answer_extraction.h"
#include "trainer/rollout.h"

namespace aha {
namespace {

// Sums of per-sample values, turned into means at the end.
struct EvalTotals {
  int64_t correct = 0;
  int64_t prompts_with_correct = 0;
  int64_t prompts_majority_correct = 0;
  int64_t formatted = 0;
  int64_t format_scored = 0;
  int64_t truncated = 0;
  int64_t length = 0;
  double reward = 0;
  std::vector<double> component_sums;   // (R)
  std::vector<int64_t> component_counts;  // (R)
};

std::optional<size_t> FindReward(const RewardSet& rewards, const std::string& name) {
  for (size_t r = 0; r < rewards.size(); ++r) {
    if (rewards.name(r) == name) return r;
  }
  return std::nullopt;
}

void AddBatch(const RolloutBatch& batch, const RewardSet& rewards,
              std::optional<size_t> format_index, int64_t group_size, EvalTotals& totals) {
  const size_t n = batch.samples.size();
  for (size_t row = 0; row < n; ++row) {
    totals.correct += batch.correct[row];
    totals.reward += batch.scores.total[row];
    totals.length += batch.samples[row].num_tokens;
    totals.truncated += batch.samples[row].finish_reason == FinishReason::kLength;
    for (size_t r = 0; r < rewards.size(); ++r) {
      const std::optional<double>& score = batch.scores.components[r][row];
      if (!score) continue;
      totals.component_sums[r] += *score;
      ++totals.component_counts[r];
    }
    if (format_index) {
      const std::optional<double>& score = batch.scores.components[*format_index][row];
      if (score) {
        ++totals.format_scored;
        totals.formatted += *score >= 1.0 - 1e-9;
      }
    }
  }
  for (size_t first = 0; first < n; first += group_size) {
    bool any = false;
    std::vector<AnswerVote> votes;
    for (size_t row = first; row < first + group_size && row < n; ++row) {
      any |= batch.correct[row];
      votes.push_back({VotingAnswer(batch.samples[row].completion), batch.correct[row]});
    }
    totals.prompts_with_correct += any;
    totals.prompts_majority_correct += MajorityVoteCorrect(votes);
  }
}

}  // namespace

std::optional<std::string> VotingAnswer(std::string_view completion) {
  math::ExtractOptions options;
  options.from_answer_tag = true;
  options.from_boxed = true;
  options.from_gsm8k_marker = false;
  std::optional<std::string> answer = math::ExtractFinalAnswer(completion, options);
  if (!answer) return std::nullopt;
  answer->erase(std::remove_if(answer->begin(), answer->end(),
                               [](unsigned char c) { return std::isspace(c) != 0; }),
                answer->end());
  if (answer->empty()) return std::nullopt;
  return answer;
}

bool MajorityVoteCorrect(absl::Span<const AnswerVote> votes) {
  // Distinct answers in order of first appearance, so a tie goes to the earliest. G is small
  // (a few dozen at most), so the quadratic scan costs nothing next to sampling.
  std::vector<const AnswerVote*> distinct;
  std::vector<int64_t> counts;
  std::vector<bool> all_correct;
  for (const AnswerVote& vote : votes) {
    if (!vote.answer) continue;
    size_t i = 0;
    while (i < distinct.size() && *distinct[i]->answer != *vote.answer) ++i;
    if (i == distinct.size()) {
      distinct.push_back(&vote);
      counts.push_back(0);
      all_correct.push_back(true);
    }
    ++counts[i];
    all_correct[i] = all_correct[i] && vote.correct;
  }
  if (distinct.empty()) return false;
  const size_t winner = std::max_element(counts.begin(), counts.end()) - counts.begin();
  return all_correct[winner];
}

absl::Status ValidateEvalOptions(const EvalOptions& options) {
  auto invalid = [](const std::string& key, const std::string& message) {
    return absl::InvalidArgumentError(absl::StrCat(key, " ", message));
  };
  if (options.samples_per_prompt < 1) return invalid("samples_per_prompt", "must be at least 1");
  SamplingOptions sampling;
  sampling.temperature = options.temperature;
  sampling.top_p = options.top_p;
  if (auto problem = FindSamplingProblem(sampling, /*allow_greedy=*/true)) {
    return invalid(problem->field, problem->message);
  }
  if (options.max_new_tokens < 1) return invalid("max_new_tokens", "must be at least 1");
  if (options.batch_prompts < 1) return invalid("batch_prompts", "must be at least 1");
  if (options.max_examples < 0) return invalid("max_examples", "must be >= 0 (0 is all)");
  if (options.keep_samples < 0) return invalid("keep_samples", "must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<EvalMetrics> Evaluate(Policy& policy, const data::PromptTemplate& prompt_template,
                                     absl::Span<const data::Example> examples,
                                     const EvalOptions& options, RewardSet& rewards,
                                     Progress* progress) {
  RETURN_IF_ERROR(ValidateEvalOptions(options));
  if (options.max_examples > 0 && static_cast<int64_t>(examples.size()) > options.max_examples) {
    examples = examples.subspan(0, options.max_examples);
  }
  if (examples.empty()) return absl::InvalidArgumentError("no examples to evaluate");
  SilentProgress silent;
  if (progress == nullptr) progress = &silent;
  const auto start_time = std::chrono::steady_clock::now();

  GroupSamplerOptions sampler;
  sampler.group_size = options.samples_per_prompt;
  sampler.max_new_tokens = options.max_new_tokens;
  sampler.sampling.temperature = options.temperature;
  sampler.sampling.top_p = options.top_p;
  sampler.seed = options.seed;
  sampler = WithTokenizerSpecials(sampler, *policy.tokenizer);

  const std::optional<size_t> format_index = FindReward(rewards, options.format_reward);
  const bool has_accuracy = rewards.accuracy_index().has_value();
  EvalTotals totals;
  totals.component_sums.assign(rewards.size(), 0.0);
  totals.component_counts.assign(rewards.size(), 0);
  EvalMetrics metrics;

  // The model is only sampled here; restore training mode for a caller in the middle of
  // training.
  const bool was_training = policy.model->is_training();
  policy.model->eval();
  torch::NoGradGuard no_grad;
  const int64_t total = static_cast<int64_t>(examples.size());
  int64_t context_stops = 0;
  progress->Begin("eval", total);
  for (int64_t first = 0; first < total; first += options.batch_prompts) {
    const int64_t count = std::min(options.batch_prompts, total - first);
    // Sample n of the whole evaluation draws from stream n, whatever the batch size.
    sampler.stream_offset = static_cast<uint64_t>(first * options.samples_per_prompt);
    absl::StatusOr<RolloutBatch> batch = RolloutAndScore(
        policy, prompt_template, examples.subspan(first, count), sampler, rewards);
    if (!batch.ok()) {
      progress->End();
      if (was_training) policy.model->train();
      return batch.status();
    }
    AddBatch(*batch, rewards, format_index, options.samples_per_prompt, totals);
    context_stops += batch->rollouts.context_stops;
    for (int64_t count : batch->scores.error_counts) metrics.reward_errors += count;
    for (size_t row = 0; row < batch->samples.size() &&
                         static_cast<int64_t>(metrics.kept_samples.size()) < options.keep_samples;
         ++row) {
      const RewardSample& sample = batch->samples[row];
      metrics.kept_samples.push_back(
          {batch->examples[row / options.samples_per_prompt].id, sample.prompt,
           sample.completion, batch->scores.total[row], static_cast<bool>(batch->correct[row])});
    }
    progress->Update(first + count);
  }
  progress->End();
  if (was_training) policy.model->train();
  if (context_stops > 0) {
    std::printf("%s\n", ContextStopWarning(context_stops, policy.config.max_position_embeddings,
                                            options.max_new_tokens_key).c_str());
  }

  metrics.prompts = total;
  metrics.samples = total * options.samples_per_prompt;
  const double samples = static_cast<double>(metrics.samples);
  if (has_accuracy) {
    metrics.accuracy = totals.correct / samples;
    metrics.pass_at_g = totals.prompts_with_correct / static_cast<double>(total);
    if (options.samples_per_prompt > 1) {
      metrics.maj_at_g = totals.prompts_majority_correct / static_cast<double>(total);
    }
  }
  if (format_index && totals.format_scored > 0) {
    metrics.format_rate = totals.formatted / static_cast<double>(totals.format_scored);
  }
  metrics.mean_reward = totals.reward / samples;
  metrics.mean_length = totals.length / samples;
  metrics.truncated_fraction = totals.truncated / samples;
  for (size_t r = 0; r < rewards.size(); ++r) {
    metrics.reward_names.push_back(rewards.name(r));
    metrics.reward_means.push_back(
        totals.component_counts[r] > 0
            ? std::optional<double>(totals.component_sums[r] / totals.component_counts[r])
            : std::nullopt);
  }
  metrics.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return metrics;
}

nlohmann::json EvalMetricsToJson(const EvalMetrics& metrics) {
  auto optional = [](const std::optional<double>& value) -> nlohmann::json {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  nlohmann::json rewards = nlohmann::json::object();
  for (size_t r = 0; r < metrics.reward_names.size(); ++r) {
    rewards[metrics.reward_names[r]] = optional(metrics.reward_means[r]);
  }
  nlohmann::json kept = nlohmann::json::array();
  for (const EvalSample& sample : metrics.kept_samples) {
    kept.push_back({{"id", sample.example_id},
                    {"prompt", sample.prompt},
                    {"completion", sample.completion},
                    {"reward", sample.reward},
                    {"correct", sample.correct}});
  }
  return {{"prompts", metrics.prompts},
          {"samples", metrics.samples},
          {"accuracy", optional(metrics.accuracy)},
          {"pass_at_g", optional(metrics.pass_at_g)},
          {"maj_at_g", optional(metrics.maj_at_g)},
          {"format_rate", optional(metrics.format_rate)},
          {"mean_reward", metrics.mean_reward},
          {"mean_length", metrics.mean_length},
          {"truncated_fraction", metrics.truncated_fraction},
          {"rewards", rewards},
          {"reward_errors", metrics.reward_errors},
          {"seconds", metrics.seconds},
          {"samples_kept", kept}};
}

std::string FormatEvalMetrics(const EvalMetrics& metrics, int64_t samples_per_prompt) {
  auto optional = [](const std::optional<double>& value) {
    return value ? absl::StrFormat("%.3f", *value) : std::string("n/a");
  };
  const std::string majority =
      samples_per_prompt > 1
          ? absl::StrFormat(" | maj@%d %s", samples_per_prompt, optional(metrics.maj_at_g))
          : std::string();
  // Shown only when there were some, so the usual line stays short.
  const std::string errors =
      metrics.reward_errors > 0
          ? absl::StrFormat(" | reward errors %d (scored on_error)", metrics.reward_errors)
          : std::string();
  return absl::StrFormat(
      "accuracy %s | pass@%d %s%s | format %s | reward %.3f | length %.1f | truncated %.3f%s | "
      "%d prompts x %d | %.1fs",
      optional(metrics.accuracy), samples_per_prompt, optional(metrics.pass_at_g), majority,
      optional(metrics.format_rate), metrics.mean_reward, metrics.mean_length,
      metrics.truncated_fraction, errors, metrics.prompts, samples_per_prompt, metrics.seconds);
}

}  // namespace aha
