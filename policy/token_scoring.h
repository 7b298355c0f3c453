// Per-token log-probabilities and entropies of target tokens, computed from hidden states in
// row chunks so that no (N, T, V) logits tensor is ever materialized, in the forward or the
// backward pass.
//
// Shapes: M scored tokens, N rows, T tokens, C scored tokens per row, E hidden, V vocabulary.
#ifndef AHA_POLICY_TOKEN_SCORING_H_
#define AHA_POLICY_TOKEN_SCORING_H_

#include <optional>

#include <torch/types.h>

#include "policy/transformer.h"

namespace aha {

struct TokenScores {
  torch::Tensor logprobs;  // log softmax(logits / temperature)[target], float32
  torch::Tensor entropy;   // entropy of softmax(logits / temperature), float32
};

// ScoreHidden's default for max_saved_elements.
inline constexpr int64_t kMaxSavedLogProbElements = int64_t{1} << 25;

// Scores M tokens: logits = hidden @ weight^T / temperature. hidden (M, E), weight (V, E),
// targets (M) int64. Differentiable with respect to hidden and weight.
// - When the log-probabilities of all M tokens fit in `max_saved_elements` floats (M * V),
//   the forward pass keeps them for the backward pass, which then runs one matmul for the
//   hidden gradient and one for the weight gradient. 2^25 floats are 128 MiB, 220 tokens of
//   Qwen2.5's 151936-entry vocabulary.
// - Otherwise the backward pass recomputes the logits chunk by chunk, so that peak extra
//   memory is one chunk of `max_chunk_elements` floats (rows * V) in either pass.
// For a bfloat16 or half weight, the weight gradient is a product in that dtype of the logit
// gradient rounded to it, as LibTorch's autograd computes it, summed over chunks in float32.
TokenScores ScoreHidden(const torch::Tensor& hidden, const torch::Tensor& weight,
                        const torch::Tensor& targets, double temperature,
                        int64_t max_chunk_elements = int64_t{1} << 24,
                        int64_t max_saved_elements = kMaxSavedLogProbElements);

struct ScoreRequest {
  torch::Tensor ids;    // (N, T) int64: prompt (left-padded) then completion (right-padded)
  torch::Tensor valid;  // (N, T) bool: real tokens
  // Scores the tokens ids[:, first_target:], each given everything before it.
  int64_t first_target = 1;
  double temperature = 1.0;
  // Packed rows: explicit positions (N, T) and segment ids (N, T); attention stays inside
  // a segment. When absent, positions come from `valid` (left padding does not shift them).
  std::optional<torch::Tensor> positions;
  std::optional<torch::Tensor> segment_ids;
};

// Runs the model and returns log-probs and entropies of shape (N, T - first_target). Entries
// at padding are computed but meaningless: mask them with `valid`.
TokenScores ScoreTokens(CausalLm& model, const ScoreRequest& request);

struct CompletionScoreRequest {
  torch::Tensor prompt_ids;        // (B, P) int64, left-padded
  torch::Tensor prompt_valid;      // (B, P) bool: real prompt tokens
  torch::Tensor prompt_of_row;     // (N) int64 in [0, B): the prompt each row continues
  torch::Tensor completion_ids;    // (N, C) int64, right-padded
  torch::Tensor completion_valid;  // (N, C) bool: real completion tokens
  double temperature = 1.0;
};

// Log-probs and entropies (N, C) of every completion token given its prompt and the tokens
// before it, as ScoreTokens gives for the rows prompt + completion. Each prompt goes through
// the model once however many rows continue it, so a group of G samples costs one prompt
// and G completions instead of G prompts and G completions. Entries at padding are meaningless.
TokenScores ScoreCompletions(CausalLm& model, const CompletionScoreRequest& request);

}  // namespace aha

#endif  // AHA_POLICY_TOKEN_SCORING_H_
