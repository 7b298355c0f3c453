// Token sampling filters (temperature, top-k, top-p, min-p) and a counter-based random
// stream that makes each sample's draws independent of how rows are batched.
//
// Shapes: N rows, V vocabulary.
#ifndef AHA_POLICY_SAMPLING_H_
#define AHA_POLICY_SAMPLING_H_

#include <cstdint>
#include <string>
#include <optional>
#include <vector>

#include <torch/types.h>

namespace aha {

struct SamplingOptions {
  // Logits are divided by the temperature, exactly as the trainer's scorer does. 0 selects
  // greedy decoding.
  double temperature = 1.0;
  int64_t top_k = 0;     // keep the k most likely tokens; 0 keeps all
  double top_p = 1.0;    // keep the smallest set whose probability reaches top_p
  double min_p = 0.0;    // drop tokens below min_p times the most likely token's probability
};

// A field of SamplingOptions that is out of range, named as in the configs (top_k), and what
// is wrong with it.
struct SamplingProblem {
  std::string field;
  std::string message;
};

// The first out-of-range field of `options`, or nullopt. A temperature of 0 (greedy) is valid
// only with `allow_greedy`.
std::optional<SamplingProblem> FindSamplingProblem(const SamplingOptions& options,
                                                   bool allow_greedy);

// Log-probabilities (N, V) of the distribution sampled from: softmax(logits / temperature)
// restricted by top-k, then top-p, then min-p (the order transformers applies them) and
// renormalized. Removed tokens get -inf. logits: (N, V) float32. Not for temperature 0.
torch::Tensor FilteredLogProbs(const torch::Tensor& logits, const SamplingOptions& options);

// A uniform number in [0, 1) that depends only on (seed, stream, counter): the same sample
// (stream) draws the same numbers at the same step whatever else is in the batch.
double CounterUniform(uint64_t seed, uint64_t stream, uint64_t counter);

// Draws one token per row from log_probs (N, V) by inverse CDF with uniforms (N) float64.
// Returns (N) int64. A token with zero probability is never drawn.
// A float32 CPU log_probs takes a loop over each row that sums in float64 in the same order as
// the op-by-op version (SampleFromLogProbsByOps), so both draw the same tokens.
torch::Tensor SampleFromLogProbs(const torch::Tensor& log_probs, const torch::Tensor& uniforms);

// The op-by-op version: exp, a float64 cumsum and searchsorted. For other devices and dtypes,
// and for tests.
torch::Tensor SampleFromLogProbsByOps(const torch::Tensor& log_probs,
                                      const torch::Tensor& uniforms);

}  // namespace aha

#endif  // AHA_POLICY_SAMPLING_H_
