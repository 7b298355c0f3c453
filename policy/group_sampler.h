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

#include "base/finish_reason.h"
#include "base/progress.h"
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
};

class GroupSampler {
 public:
  // `tokenizer` may be null when there are no stop strings.
  GroupSampler(CausalLm model, const Tokenizer* tokenizer);

  // Samples G completions for each prompt (token ids, no padding). Runs without autograd.
  Rollouts Sample(const std::vector<std::vector<int32_t>>& prompts,
                  const GroupSamplerOptions& options, Progress* progress = nullptr);

 private:
  CausalLm model_;
  const Tokenizer* tokenizer_;
};

// Returns `options` with the tokenizer's EOS ids (unless options already lists some) and its pad
// id filled in; without a pad token the first EOS id pads.
GroupSamplerOptions WithTokenizerSpecials(GroupSamplerOptions options, const Tokenizer& tokenizer);

// Left-pads prompts into ids (B, P) and mask (B, P) on `device`.
std::pair<torch::Tensor, torch::Tensor> LeftPad(const std::vector<std::vector<int32_t>>& prompts,
                                                int32_t pad_id, torch::Device device);

}  // namespace aha

#endif  // AHA_POLICY_GROUP_SAMPLER_H_
