// The two model shapes the policy benchmarks run (the built-in demo model and a Qwen2.5-0.5B
// shape with random weights), random prompts, and the FLOP and byte counts of their passes.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows, P prompt length, C completion length,
// T = P + C, L layers, E hidden size, H query heads, K key/value heads, D head size,
// I MLP width, V vocabulary.
#ifndef AHA_BENCH_POLICY_SHAPES_H_
#define AHA_BENCH_POLICY_SHAPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "apps/flags.h"
#include "policy/model_config.h"
#include "policy/transformer.h"

namespace aha::bench {

struct NamedShape {
  std::string name;
  ModelConfig config;
};

// About the size of the built-in demo model: a 64-character vocabulary, 4 query heads on
// 2 key/value heads, MLP width 3 * hidden, tied embeddings.
ModelConfig TinyDemoConfig(int64_t hidden_size, int64_t layers);

// Qwen2.5-0.5B's shape: E 896, I 4864, L 24, H 14, K 2, D 64, V 151936, tied.
ModelConfig Qwen05bShapedConfig();

// --model (tiny, qwen0.5b or both), --tiny-hidden and --tiny-layers.
std::vector<cli::FlagSpec> ShapeFlagSpecs(const std::string& default_model);
absl::StatusOr<std::vector<NamedShape>> ReadShapes(const cli::ParsedFlags& flags,
                                                   const std::string& default_model);

// A model with torch's default random initialization, converted to `dtype`, in eval mode.
CausalLm MakeBenchModel(const ModelConfig& config, torch::ScalarType dtype, uint64_t seed);

// `count` prompts of `length` uniformly random token ids.
std::vector<std::vector<int32_t>> RandomPrompts(int64_t count, int64_t length, int64_t vocab,
                                                uint64_t seed);

// Weights each token multiplies through in the L layers (q, k, v, o and the three MLP
// matrices), without the output projection: L * (E*H*D + 2*E*K*D + H*D*E + 3*E*I).
int64_t LayerMatmulWeights(const ModelConfig& config);

// All parameters of `model`, embeddings counted once when tied.
int64_t ParameterCount(CausalLm& model);

// FLOPs of a forward pass over `tokens` tokens. Each token's attention spans `key_span`
// keys, and `logit_tokens` rows go through the output projection:
//   2 * tokens * LayerMatmulWeights + 4 * L * H * D * tokens * key_span + 2 * E * V * logit_tokens.
// The attention term counts the masked half of a causal T x T score matrix too, because the
// model computes it.
double ForwardFlops(const ModelConfig& config, double tokens, double key_span,
                    double logit_tokens);

// Returns whether ScoreHidden recomputes the logits of `scored_tokens` tokens in its backward
// pass, because their log-probabilities do not fit in kMaxSavedLogProbElements.
bool LogitsRecomputed(const ModelConfig& config, int64_t scored_tokens);

// FLOPs of ScoreTokens + backward for N rows of T tokens with C scored tokens per row: the
// layers cost 3x their forward (backward = 2x forward), and the output projection 6 * E * V
// per scored token (forward, grad hidden, grad W), 8 * E * V when the backward pass recomputes
// the logits (LogitsRecomputed for all N * C tokens).
double TrainStepFlops(const ModelConfig& config, int64_t rows, int64_t tokens,
                      int64_t scored);

// The same for ScoreCompletions. B prompts of P tokens run once, then N rows of C - 1
// completion tokens whose keys span P + C - 1, because the last token predicts nothing and is
// not run. Each row has C scored tokens.
double SharedPromptTrainStepFlops(const ModelConfig& config, int64_t prompts, int64_t rows,
                                  int64_t prompt_length, int64_t completion_length);

// The forward pass alone of SharedPromptTrainStepFlops: 2 * E * V per scored token.
double SharedPromptForwardFlops(const ModelConfig& config, int64_t prompts, int64_t rows,
                                int64_t prompt_length, int64_t completion_length);

// Bytes a whole decode of C steps must read at least. Every step reads the layer weights and
// the output projection once. It also reads each group's prompt keys and values once, because
// the group shares them, and each row's completion keys and values so far.
double DecodeBytes(const ModelConfig& config, int64_t element_bytes, int64_t prompts,
                   int64_t rows, int64_t prompt_length, int64_t steps);

}  // namespace aha::bench

#endif  // AHA_BENCH_POLICY_SHAPES_H_
