#include "trainer/rollout.h"

#include <torch/torch.h>

#include <algorithm>
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
    RETURN_IF_ERROR(CheckPromptFitsContext(static_cast<int64_t>(ids.size()), policy.config,
                                           absl::StrCat("example ", example.id)));
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

namespace {

// Pads `t` (N, W) along dim 1 to `width` with `value`: on the left when `left`, else on the
// right.
torch::Tensor PadColumns(const torch::Tensor& t, int64_t width, int64_t value, bool left) {
  const int64_t missing = width - t.size(1);
  if (missing == 0) return t;
  torch::Tensor padded = torch::full({t.size(0), width}, value, t.options());
  padded.narrow(1, left ? missing : 0, t.size(1)).copy_(t);
  return padded;
}

// Concatenates a (N1, W1) and b (N2, W2) into (N1 + N2, max(W1, W2)).
torch::Tensor CatPadded(const torch::Tensor& a, const torch::Tensor& b, int64_t value,
                        bool left) {
  const int64_t width = std::max(a.size(1), b.size(1));
  return torch::cat({PadColumns(a, width, value, left), PadColumns(b, width, value, left)}, 0);
}

template <typename T>
void AppendAll(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

}  // namespace

std::vector<int64_t> GroupsWithRewardVariance(const RolloutBatch& batch) {
  const int64_t g = batch.rollouts.group_size;
  std::vector<int64_t> groups;
  for (int64_t group = 0; group < static_cast<int64_t>(batch.examples.size()); ++group) {
    const double first = batch.scores.total[group * g];
    for (int64_t row = group * g + 1; row < (group + 1) * g; ++row) {
      if (batch.scores.total[row] != first) {
        groups.push_back(group);
        break;
      }
    }
  }
  return groups;
}

RolloutBatch SelectGroups(const RolloutBatch& batch, absl::Span<const int64_t> groups) {
  const int64_t g = batch.rollouts.group_size;
  const Rollouts& r = batch.rollouts;
  std::vector<int64_t> rows;
  RolloutBatch out;
  out.rollouts.group_size = g;
  out.scores.components.resize(batch.scores.components.size());
  out.scores.error_counts = batch.scores.error_counts;
  out.scores.info = batch.scores.info;
  out.seconds_generate = batch.seconds_generate;
  out.seconds_reward = batch.seconds_reward;
  out.rollouts.decode_steps = r.decode_steps;
  out.rollouts.context_stops = r.context_stops;
  for (int64_t group : groups) {
    out.examples.push_back(batch.examples[group]);
    out.prompts.push_back(batch.prompts[group]);
    for (int64_t row = group * g; row < (group + 1) * g; ++row) {
      rows.push_back(row);
      out.samples.push_back(batch.samples[row]);
      out.scores.total.push_back(batch.scores.total[row]);
      out.scores.all_abstained.push_back(batch.scores.all_abstained[row]);
      for (size_t c = 0; c < batch.scores.components.size(); ++c) {
        out.scores.components[c].push_back(batch.scores.components[c][row]);
      }
      out.correct.push_back(batch.correct[row]);
      out.rollouts.finish_reasons.push_back(r.finish_reasons[row]);
      out.rollouts.completion_lengths.push_back(r.completion_lengths[row]);
      out.rollouts.generated_tokens += r.completion_lengths[row];
    }
  }
  const torch::Tensor index =
      torch::tensor(rows, torch::kInt64).to(r.prompt_ids.device());
  out.rollouts.prompt_ids = r.prompt_ids.index_select(0, index);
  out.rollouts.prompt_mask = r.prompt_mask.index_select(0, index);
  out.rollouts.completion_ids = r.completion_ids.index_select(0, index);
  out.rollouts.completion_mask = r.completion_mask.index_select(0, index);
  out.rollouts.sampled_logprobs = r.sampled_logprobs.index_select(0, index);
  return out;
}

void AppendGroups(RolloutBatch& batch, const RolloutBatch& more, int64_t pad_id) {
  TORCH_CHECK(batch.rollouts.group_size == more.rollouts.group_size,
              "AppendGroups: group sizes differ, ", batch.rollouts.group_size, " and ",
              more.rollouts.group_size);
  TORCH_CHECK(batch.scores.components.size() == more.scores.components.size(),
              "AppendGroups: reward counts differ");
  AppendAll(batch.examples, more.examples);
  AppendAll(batch.prompts, more.prompts);
  AppendAll(batch.samples, more.samples);
  AppendAll(batch.correct, more.correct);
  AppendAll(batch.scores.total, more.scores.total);
  AppendAll(batch.scores.all_abstained, more.scores.all_abstained);
  AppendAll(batch.scores.info, more.scores.info);
  for (size_t c = 0; c < batch.scores.components.size(); ++c) {
    AppendAll(batch.scores.components[c], more.scores.components[c]);
    batch.scores.error_counts[c] += more.scores.error_counts[c];
  }
  batch.seconds_generate += more.seconds_generate;
  batch.seconds_reward += more.seconds_reward;

  Rollouts& r = batch.rollouts;
  const Rollouts& m = more.rollouts;
  r.prompt_ids = CatPadded(r.prompt_ids, m.prompt_ids, pad_id, /*left=*/true);
  r.prompt_mask = CatPadded(r.prompt_mask, m.prompt_mask, 0, /*left=*/true);
  r.completion_ids = CatPadded(r.completion_ids, m.completion_ids, pad_id, /*left=*/false);
  r.completion_mask = CatPadded(r.completion_mask, m.completion_mask, 0, /*left=*/false);
  // Log-probs of padding are never read: the completion mask excludes them.
  r.sampled_logprobs = CatPadded(r.sampled_logprobs, m.sampled_logprobs, 0, /*left=*/false);
  AppendAll(r.finish_reasons, m.finish_reasons);
  AppendAll(r.completion_lengths, m.completion_lengths);
  r.generated_tokens += m.generated_tokens;
  r.decode_steps += m.decode_steps;
  r.context_stops += m.context_stops;
}

}  // namespace aha
