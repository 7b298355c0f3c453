#include "policy/group_sampler.h"

#include <algorithm>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace aha {
namespace {

// The rows still in the decode batch and how they map onto the shared prompt prefixes.
struct ActiveBatch {
  std::vector<int64_t> rows;    // original row ids, in group order
  std::vector<int64_t> groups;  // original group ids of the prefixes, in cache order
  DecodeLayout layout;
};

// Rebuilds the batch around `keep_rows` (a subset of batch.rows, in order): completion caches
// and prefixes of groups with no row left are dropped.
void Compact(ActiveBatch& batch, const std::vector<int64_t>& keep_rows, int64_t group_size,
             std::vector<LayerKv>& kv, torch::Device device) {
  std::vector<int64_t> keep_positions;  // positions in the current batch
  for (size_t i = 0, j = 0; i < batch.rows.size() && j < keep_rows.size(); ++i) {
    if (batch.rows[i] == keep_rows[j]) {
      keep_positions.push_back(static_cast<int64_t>(i));
      ++j;
    }
  }
  std::vector<int64_t> new_groups, group_positions, counts;
  for (int64_t row : keep_rows) {
    int64_t group = row / group_size;
    if (new_groups.empty() || new_groups.back() != group) {
      new_groups.push_back(group);
      auto it = std::find(batch.groups.begin(), batch.groups.end(), group);
      group_positions.push_back(static_cast<int64_t>(it - batch.groups.begin()));
      counts.push_back(0);
    }
    ++counts.back();
  }
  const int64_t slots = *std::max_element(counts.begin(), counts.end());
  std::vector<int64_t> slot_index;
  for (size_t gi = 0; gi < counts.size(); ++gi) {
    for (int64_t r = 0; r < counts[gi]; ++r) slot_index.push_back(gi * slots + r);
  }

  auto long_options = torch::TensorOptions().dtype(torch::kInt64);
  auto row_index = torch::tensor(keep_positions, long_options).to(device);
  auto group_index = torch::tensor(group_positions, long_options).to(device);
  for (LayerKv& layer : kv) {
    layer.completion_k = layer.completion_k.index_select(0, row_index);
    layer.completion_v = layer.completion_v.index_select(0, row_index);
    layer.prefix_k = layer.prefix_k.index_select(0, group_index);
    layer.prefix_v = layer.prefix_v.index_select(0, group_index);
  }
  batch.layout.prefix_mask = batch.layout.prefix_mask.index_select(0, group_index);
  batch.layout.num_groups = static_cast<int64_t>(new_groups.size());
  batch.layout.group_slots = slots;
  batch.layout.identity_slots = std::all_of(counts.begin(), counts.end(),
                                            [&](int64_t c) { return c == slots; });
  batch.layout.slot_index = torch::tensor(slot_index, long_options).to(device);
  batch.rows = keep_rows;
  batch.groups = std::move(new_groups);
}

// Tracks the decoded text of one sample for stop strings; keeps only as much of the tail as
// the longest stop string could need.
bool AppendAndCheckStop(std::string& tail, const std::string& piece,
                        const std::vector<std::string>& stop_strings, size_t keep) {
  tail += piece;
  for (const std::string& s : stop_strings) {
    if (tail.find(s) != std::string::npos) return true;
  }
  if (tail.size() > keep) tail.erase(0, tail.size() - keep);
  return false;
}

}  // namespace

GroupSamplerOptions WithTokenizerSpecials(GroupSamplerOptions options,
                                          const Tokenizer& tokenizer) {
  const SpecialTokens& special = tokenizer.special_tokens();
  if (options.eos_ids.empty()) options.eos_ids = special.eos_ids;
  if (special.pad_id) {
    options.pad_id = *special.pad_id;
  } else if (!special.eos_ids.empty()) {
    options.pad_id = special.eos_ids[0];
  }
  return options;
}

std::pair<torch::Tensor, torch::Tensor> LeftPad(const std::vector<std::vector<int32_t>>& prompts,
                                                int32_t pad_id, torch::Device device) {
  const int64_t b = static_cast<int64_t>(prompts.size());
  int64_t p = 1;
  for (const auto& prompt : prompts) p = std::max<int64_t>(p, prompt.size());
  auto ids = torch::full({b, p}, pad_id, torch::kInt64);
  auto mask = torch::zeros({b, p}, torch::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<bool, 2>();
  for (int64_t i = 0; i < b; ++i) {
    const int64_t offset = p - static_cast<int64_t>(prompts[i].size());
    for (size_t j = 0; j < prompts[i].size(); ++j) {
      ids_a[i][offset + j] = prompts[i][j];
      mask_a[i][offset + j] = true;
    }
  }
  return {ids.to(device), mask.to(device)};
}

absl::Status CheckPromptFitsContext(int64_t prompt_tokens, const ModelConfig& config,
                                    const std::string& what) {
  const int64_t context = config.max_position_embeddings;
  if (context <= 0 || prompt_tokens < context) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      what, ": the prompt has ", prompt_tokens, " tokens, which leaves no room for a "
      "completion in the model's context of ", context, " tokens (max_position_embeddings in "
      "config.json). Shorten the prompt or its template"));
}

std::string ContextStopWarning(int64_t stops, int64_t context, const std::string& key) {
  return absl::StrCat("warning: ", stops, " completions stopped at the model's context of ",
                      context, " tokens (max_position_embeddings, prompt included) before ", key,
                      "; lower ", key, " or shorten the prompts to keep them within it");
}

GroupSampler::GroupSampler(CausalLm model, const Tokenizer* tokenizer)
    : model_(std::move(model)), tokenizer_(tokenizer) {}

Rollouts GroupSampler::Sample(const std::vector<std::vector<int32_t>>& prompts,
                              const GroupSamplerOptions& options, Progress* progress) {
  torch::NoGradGuard no_grad;
  SilentProgress silent;
  if (progress == nullptr) progress = &silent;
  const int64_t b = static_cast<int64_t>(prompts.size());
  const int64_t g = options.group_size;
  const int64_t n = b * g;
  const int64_t c_max = options.max_new_tokens;
  TORCH_CHECK(b > 0 && g > 0 && c_max > 0, "Sample needs prompts, group_size > 0 and "
              "max_new_tokens > 0");
  // Tokens a row may hold, prompt included; 0 means no limit.
  const int64_t context = model_->config().max_position_embeddings;
  for (const auto& prompt : prompts) {
    TORCH_CHECK(!prompt.empty(), "a prompt is empty");
    TORCH_CHECK(context <= 0 || static_cast<int64_t>(prompt.size()) < context, "a prompt of ",
                prompt.size(), " tokens fills the model's context of ", context, " tokens");
  }
  TORCH_CHECK(options.stop_strings.empty() || tokenizer_ != nullptr,
              "stop strings need a tokenizer");
  const torch::Device device = model_->LmHeadWeight().device();
  const bool greedy = options.sampling.temperature <= 0.0;

  // Prefill each prompt once.
  auto [prompt_ids, prompt_mask] = LeftPad(prompts, options.pad_id, device);  // (B, P)
  const int64_t p = prompt_ids.size(1);
  std::vector<LayerKv> kv;
  auto hidden = model_->Hidden(prompt_ids, PositionsFromMask(prompt_mask),
                               BuildAttentionMask(prompt_mask), &kv);  // (B, P, E)
  auto logits = model_->Logits(hidden.select(1, p - 1)).repeat_interleave(g, 0);  // (N, V)
  std::vector<int64_t> prompt_lengths(b);
  for (int64_t i = 0; i < b; ++i) prompt_lengths[i] = static_cast<int64_t>(prompts[i].size());
  // No row outlives the context, so a max_new_tokens far beyond it allocates no more cache.
  int64_t capacity = c_max;
  if (context > 0) {
    const int64_t shortest = *std::min_element(prompt_lengths.begin(), prompt_lengths.end());
    capacity = std::min(c_max, context - shortest);
  }
  AllocateCompletionCaches(kv, n, capacity);

  ActiveBatch batch;
  for (int64_t row = 0; row < n; ++row) batch.rows.push_back(row);
  for (int64_t group = 0; group < b; ++group) batch.groups.push_back(group);
  batch.layout.prefix_mask = prompt_mask;
  batch.layout.num_groups = b;
  batch.layout.group_slots = g;
  batch.layout.identity_slots = true;

  std::vector<std::vector<int64_t>> tokens(n);
  std::vector<std::vector<float>> logprobs(n);
  std::vector<FinishReason> finish(n, FinishReason::kLength);
  std::vector<char> done(n, 0);
  int64_t context_stops = 0;
  std::vector<std::string> tails(n);
  size_t tail_keep = 0;
  for (const auto& s : options.stop_strings) tail_keep = std::max(tail_keep, s.size() + 16);

  progress->Begin("generate", capacity);
  int64_t steps = 0;
  for (int64_t step = 0; step < c_max; ++step) {
    steps = step + 1;
    // Draw this step's token for every row in the batch.
    const int64_t active = static_cast<int64_t>(batch.rows.size());
    torch::Tensor sampled, sampled_logprob;
    if (greedy) {
      sampled = logits.argmax(-1);
      sampled_logprob = torch::zeros({active}, torch::kFloat32);
    } else {
      auto log_probs = FilteredLogProbs(logits, options.sampling);  // (N_active, V)
      std::vector<double> uniforms(active);
      for (int64_t i = 0; i < active; ++i) {
        uniforms[i] = CounterUniform(options.seed, options.stream_offset + batch.rows[i], step);
      }
      sampled = SampleFromLogProbs(log_probs, torch::tensor(uniforms, torch::kFloat64));
      sampled_logprob = log_probs.gather(1, sampled.unsqueeze(1)).squeeze(1);
    }
    auto sampled_cpu = sampled.to(torch::kCPU);
    auto logprob_cpu = sampled_logprob.to(torch::kCPU, torch::kFloat32);
    auto sampled_a = sampled_cpu.accessor<int64_t, 1>();
    auto logprob_a = logprob_cpu.accessor<float, 1>();

    // Record tokens and finish samples.
    std::vector<int64_t> alive;
    for (int64_t i = 0; i < active; ++i) {
      const int64_t row = batch.rows[i];
      if (done[row]) continue;
      const int64_t token = sampled_a[i];
      tokens[row].push_back(token);
      logprobs[row].push_back(logprob_a[i]);
      bool stop = std::find(options.eos_ids.begin(), options.eos_ids.end(), token) !=
                  options.eos_ids.end();
      if (!stop && !options.stop_strings.empty()) {
        std::string piece = tokenizer_->Decode({static_cast<int32_t>(token)});
        stop = AppendAndCheckStop(tails[row], piece, options.stop_strings, tail_keep);
      }
      const bool context_full =
          context > 0 && prompt_lengths[row / g] + static_cast<int64_t>(tokens[row].size()) >=
                             context;
      if (stop) {
        done[row] = 1;
        finish[row] = FinishReason::kStop;
      } else if (context_full) {
        done[row] = 1;  // finish stays kLength
        if (step + 1 < c_max) ++context_stops;
      } else {
        alive.push_back(row);
      }
    }
    progress->Update(step + 1);
    if (alive.empty() || step + 1 == c_max) break;

    // Finished rows stop costing compute once enough of them have accumulated.
    const int64_t finished_in_batch = active - static_cast<int64_t>(alive.size());
    if (finished_in_batch > 0 &&
        finished_in_batch >= std::max<int64_t>(1, options.compact_fraction * active)) {
      Compact(batch, alive, g, kv, device);
    }

    // Feed the sampled tokens; rows that finished but are not compacted yet get padding.
    std::vector<int64_t> next_ids, positions;
    for (int64_t row : batch.rows) {
      next_ids.push_back(done[row] ? options.pad_id : tokens[row].back());
      positions.push_back(prompt_lengths[row / g] + step);
    }
    auto ids_t = torch::tensor(next_ids, torch::kInt64).to(device);
    auto pos_t = torch::tensor(positions, torch::kInt64).to(device);
    logits = model_->Logits(model_->DecodeStep(ids_t, pos_t, kv, batch.layout, step));
  }
  progress->End();

  Rollouts out;
  out.group_size = g;
  out.decode_steps = steps;
  out.context_stops = context_stops;
  out.prompt_ids = prompt_ids.repeat_interleave(g, 0);
  out.prompt_mask = prompt_mask.repeat_interleave(g, 0);
  int64_t c = 1;
  for (const auto& t : tokens) c = std::max<int64_t>(c, t.size());
  auto ids = torch::full({n, c}, options.pad_id, torch::kInt64);
  auto mask = torch::zeros({n, c}, torch::kBool);
  auto lps = torch::zeros({n, c}, torch::kFloat32);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<bool, 2>();
  auto lps_a = lps.accessor<float, 2>();
  for (int64_t row = 0; row < n; ++row) {
    for (size_t j = 0; j < tokens[row].size(); ++j) {
      ids_a[row][j] = tokens[row][j];
      mask_a[row][j] = true;
      lps_a[row][j] = logprobs[row][j];
    }
    out.completion_lengths.push_back(static_cast<int64_t>(tokens[row].size()));
    out.generated_tokens += static_cast<int64_t>(tokens[row].size());
  }
  out.completion_ids = ids.to(device);
  out.completion_mask = mask.to(device);
  out.sampled_logprobs = lps.to(device);
  out.finish_reasons = std::move(finish);
  return out;
}

}  // namespace aha
