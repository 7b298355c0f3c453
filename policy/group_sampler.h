// GroupSampler: draws G completions for each of B prompts. Each prompt is prefilled once and
// its keys and values are shared by its G samples; decoding is batched over all unfinished
// samples, and finished ones are compacted out of the batch.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows, P prompt length (left-padded),
// C completion length (right-padded), V vocabulary.
#ifndef AHA_POLICY_GROUP_SAMPLER_H_
#define AHA_POLICY_GROUP_SAMPLER_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "base/finish_reason.h"
#include "base/progress.h"
#include "policy/model_config.h"
#include "policy/sampling.h"
#include "policy/tokenizer.h"
#include "policy/transformer.h"

namespace aha {


struct GroupSamplerOptions {
  int64_t group_size = 1;         // G
  int64_t max_new_tokens = 256;   // C_max
  SamplingOptions sampling;
  std::vector<int32_t> eos_ids;   // stop on any of these; the EOS token is kept
  int32_t pad_id = 0;             // fills completions after they finish
  // Stop when the decoded completion contains one of these strings. Needs a tokenizer. The
  // token that completes the string is kept, so the text may run a few characters past it.
  std::vector<std::string> stop_strings;
  uint64_t seed = 0;
  // Sample n of the batch (n = b * G + g) draws from random stream stream_offset + n, so a
  // sample's draws depend on the seed and its index, never on batching.
  uint64_t stream_offset = 0;
  // Rows are compacted out of the batch once at least this fraction of them has finished.
  double compact_fraction = 0.125;
};

struct Rollouts {
  int64_t group_size = 1;
  torch::Tensor prompt_ids;         // (N, P) int64, left-padded with pad_id
  torch::Tensor prompt_mask;        // (N, P) bool
  torch::Tensor completion_ids;     // (N, C) int64, right-padded with pad_id
  torch::Tensor completion_mask;    // (N, C) bool: generated tokens, EOS included
  torch::Tensor sampled_logprobs;   // (N, C) float32: log-prob under the sampled distribution
  std::vector<FinishReason> finish_reasons;  // (N)
  std::vector<int64_t> completion_lengths;   // (N)
  int64_t generated_tokens = 0;     // sum of completion_lengths
  int64_t decode_steps = 0;
  // Rows stopped by the model's context (max_position_embeddings tokens, prompt included)
  // before max_new_tokens; their finish reason is kLength. Like decode_steps, a count of the
  // sampling work, kept whole when groups are selected.
  int64_t context_stops = 0;
};

class GroupSampler {
 public:
  // `tokenizer` may be null when there are no stop strings.
  GroupSampler(CausalLm model, const Tokenizer* tokenizer);

  // Samples G completions for each prompt (token ids, no padding). Runs without autograd.
  // A row also stops when prompt and completion fill the model's max_position_embeddings,
  // as vLLM stops at max_model_len. Every prompt must be shorter than that
  // (CheckPromptFitsContext).
  Rollouts Sample(const std::vector<std::vector<int32_t>>& prompts,
                  const GroupSamplerOptions& options, Progress* progress = nullptr);

 private:
  CausalLm model_;
  const Tokenizer* tokenizer_;
};

// Returns an error naming `what` (an example id, say) when a prompt of `prompt_tokens`
// tokens leaves no room for a completion within `config.max_position_embeddings`. A
// max_position_embeddings of 0 means no limit.
absl::Status CheckPromptFitsContext(int64_t prompt_tokens, const ModelConfig& config,
                                    const std::string& what);

// The warning for `stops` rows that Rollouts::context_stops counted; `key` names the
// max_new_tokens setting (a config key or a flag).
std::string ContextStopWarning(int64_t stops, int64_t context, const std::string& key);

// Returns `options` with the tokenizer's EOS ids (unless options already lists some) and its pad
// id filled in; without a pad token the first EOS id pads.
GroupSamplerOptions WithTokenizerSpecials(GroupSamplerOptions options, const Tokenizer& tokenizer);

// Left-pads prompts into ids (B, P) and mask (B, P) on `device`.
std::pair<torch::Tensor, torch::Tensor> LeftPad(const std::vector<std::vector<int32_t>>& prompts,
                                                int32_t pad_id, torch::Device device);

}  // namespace aha

#endif  // AHA_POLICY_GROUP_SAMPLER_H_
