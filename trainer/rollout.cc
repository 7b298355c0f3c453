#include "trainer/rollout.h"

#include <torch/torch.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace aha {

absl::StatusOr<RolloutBatch> RolloutAndScore(Policy& policy,
                                             const data::PromptTemplate& prompt_template,
                                             absl::Span<const data::Example> examples,
                                             const GroupSamplerOptions& options,
                                             RewardSet& rewards, Progress* progress) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  RolloutBatch batch;
  batch.examples.assign(examples.begin(), examples.end());
  std::vector<std::vector<int32_t>> prompt_ids;
  for (const data::Example& example : examples) {
    ASSIGN_OR_RETURN(std::string prompt, prompt_template.Render(example));
    std::vector<int32_t> ids = policy.tokenizer->Encode(prompt);
    if (ids.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("example ", example.id, " renders to an empty prompt"));
    }
    prompt_ids.push_back(std::move(ids));
    batch.prompts.push_back(std::move(prompt));
  }

  GroupSampler sampler(policy.model, policy.tokenizer.get());
  batch.rollouts = sampler.Sample(prompt_ids, options, progress);
  const Rollouts& r = batch.rollouts;
  const int64_t g = r.group_size;
  const int64_t n = static_cast<int64_t>(examples.size()) * g;
  auto completion_ids = r.completion_ids.to(torch::kCPU);
  auto ids_a = completion_ids.accessor<int64_t, 2>();
  for (int64_t row = 0; row < n; ++row) {
    const data::Example& example = examples[row / g];
    std::vector<int32_t> tokens;
    for (int64_t j = 0; j < r.completion_lengths[row]; ++j) {
      tokens.push_back(static_cast<int32_t>(ids_a[row][j]));
    }
    RewardSample sample;
    sample.prompt = batch.prompts[row / g];
    sample.completion = policy.tokenizer->Decode(tokens, /*skip_special=*/true);
    sample.ground_truth = example.ground_truth;
    sample.fields = example.fields;
    sample.finish_reason = r.finish_reasons[row];
    sample.num_tokens = r.completion_lengths[row];
    batch.samples.push_back(std::move(sample));
  }

  const auto scoring_start = Clock::now();
  ASSIGN_OR_RETURN(batch.scores, rewards.ScoreBatch(batch.samples));
  batch.seconds_generate = std::chrono::duration<double>(scoring_start - start).count();
  batch.seconds_reward = std::chrono::duration<double>(Clock::now() - scoring_start).count();
  batch.correct.assign(n, false);
  if (auto accuracy = rewards.accuracy_index()) {
    for (int64_t row = 0; row < n; ++row) {
      const auto& score = batch.scores.components[*accuracy][row];
      batch.correct[row] = score.has_value() && *score >= 1.0 - 1e-9;
    }
  }
  return batch;
}

}  // namespace aha
