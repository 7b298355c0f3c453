// Evaluation of a policy on a prompt set: sample G completions per prompt (or greedy), score
// them with the rewards and report accuracy, format rate and length. The GRPO trainer calls
// Evaluate for its periodic eval; `aha eval` and `aha pretrain` call it once.
//
// Shapes: B prompts per batch, G samples per prompt.
#ifndef AHA_TRAINER_EVALUATE_H_
#define AHA_TRAINER_EVALUATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/progress.h"
#include "data/example.h"
#include "data/prompt_template.h"
#include "nlohmann/json.hpp"
#include "policy/policy_io.h"
#include "rewards/reward_set.h"

namespace aha {

struct EvalOptions {
  int64_t samples_per_prompt = 1;  // G
  double temperature = 1.0;        // 0 decodes greedily
  double top_p = 1.0;
  int64_t max_new_tokens = 256;
  // The setting that max_new_tokens came from, named in the context warning.
  std::string max_new_tokens_key = "eval.max_new_tokens";
  int64_t batch_prompts = 32;      // B prompts sampled together
  int64_t max_examples = 0;        // evaluate the first max_examples prompts; 0 for all
  uint64_t seed = 0;
  // The reward whose full marks count as well formatted; the format rate is absent when
  // the reward set has no reward of this name.
  std::string format_reward = "format";
  int64_t keep_samples = 0;        // completions kept in the result for inspection
};

// Checks sizes and ranges; the message names the option.
absl::Status ValidateEvalOptions(const EvalOptions& options);

struct EvalSample {
  int64_t example_id = 0;
  std::string prompt;
  std::string completion;
  double reward = 0;
  bool correct = false;
};

struct EvalMetrics {
  int64_t prompts = 0;
  int64_t samples = 0;
  // Fraction of samples that the accuracy reward gave full marks; absent without one.
  std::optional<double> accuracy;
  // Fraction of prompts with at least one correct sample (pass@G); absent without accuracy.
  std::optional<double> pass_at_g;
  // Fraction of prompts whose most frequent final answer (MajorityVoteCorrect) is correct
  // (maj@G); absent without accuracy or when G is 1.
  std::optional<double> maj_at_g;
  // Fraction of scored samples with full marks from the format reward.
  std::optional<double> format_rate;
  double mean_reward = 0;               // weighted total
  double mean_length = 0;               // completion tokens, EOS included
  double truncated_fraction = 0;        // stopped by max_new_tokens
  std::vector<std::string> reward_names;                  // (R)
  std::vector<std::optional<double>> reward_means;        // (R) unweighted, over present scores
  // Failed reward batches and non-finite scores, summed over the rewards; those samples took
  // their reward's on_error score.
  int64_t reward_errors = 0;
  std::vector<EvalSample> kept_samples;  // the first keep_samples samples
  double seconds = 0;
};

// Samples and scores every example (the first max_examples when set) in batches of
// batch_prompts. Sampling is seeded, so the same options give the same metrics.
absl::StatusOr<EvalMetrics> Evaluate(Policy& policy, const data::PromptTemplate& prompt_template,
                                     absl::Span<const data::Example> examples,
                                     const EvalOptions& options, RewardSet& rewards,
                                     Progress* progress = nullptr);

// {"prompts", "samples", "accuracy", "pass_at_g", "maj_at_g", "format_rate", "mean_reward",
// "mean_length", "truncated_fraction", "rewards": {NAME: mean}, "reward_errors", "seconds",
// "samples_kept":
// [...]}; absent metrics are null.
nlohmann::json EvalMetricsToJson(const EvalMetrics& metrics);

// One line: "accuracy 0.213 | pass@4 0.410 | maj@4 0.305 | format 0.870 | reward 0.35 |
// length 131.2 | truncated 0.010 | 200 prompts x 4 | 41.3s". maj@G is left out when G is 1.
std::string FormatEvalMetrics(const EvalMetrics& metrics, int64_t samples_per_prompt);

// Returns the final answer that a completion votes for in maj@G: the content of the last
// <answer>...</answer> (its last \boxed{} when it has one), else the last \boxed{...}, with all
// whitespace removed. std::nullopt when there is none or it is empty; such a sample does not
// vote. Uses aha_math's ExtractFinalAnswer, the extractor of the math_accuracy reward.
std::optional<std::string> VotingAnswer(std::string_view completion);

// One sample's vote in maj@G.
struct AnswerVote {
  std::optional<std::string> answer;  // VotingAnswer of the completion
  bool correct = false;               // the accuracy reward gave full marks
};

// Returns whether one prompt's majority answer is correct, from its samples' votes (G). The
// most frequent answer wins, a tie goes to the answer that appears first, and the prompt counts
// as correct when every sample with that answer is correct. Samples without an answer do not
// vote; false when no sample has one.
bool MajorityVoteCorrect(absl::Span<const AnswerVote> votes);

}  // namespace aha

#endif  // AHA_TRAINER_EVALUATE_H_
