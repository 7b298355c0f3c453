// The Reward interface, the sample it scores and the registry that finds rewards by name.
//
// A reward scores a batch of N samples and returns, per sample, a value or "abstain". C++
// rewards register themselves with AHA_REGISTER_REWARD; RewardSet (reward_set.h) builds
// them from the YAML `rewards:` list. See docs/rewards.md.
#ifndef AHA_REWARDS_REWARD_H_
#define AHA_REWARDS_REWARD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/finish_reason.h"
#include "base/finish_reason.h"
#include "nlohmann/json.hpp"
#include "rewards/reward_options.h"

namespace aha {


// One completion to score, with the data row it answers.
struct RewardSample {
  std::string prompt;
  std::string completion;
  std::string ground_truth;
  // The data row's other fields, for example Countdown's `nums` and `target`. A JSON object.
  nlohmann::json fields = nlohmann::json::object();
  FinishReason finish_reason = FinishReason::kStop;
  int64_t num_tokens = 0;  // tokens in the completion
};

// A reward's answer for a batch of N samples.
struct RewardResult {
  std::vector<std::optional<double>> scores;  // (N); std::nullopt means the reward abstains
  std::vector<std::string> info;              // lines for the training log
  int64_t num_errors = 0;  // failures that were replaced by a fallback score
};

class Reward {
 public:
  virtual ~Reward() = default;

  // Scores `samples` and returns exactly one entry per sample. An error status stops
  // training, so return one only for mistakes the user must fix (a missing data field, or
  // an external reward configured with `fail_on_error: true`).
  virtual absl::StatusOr<RewardResult> Score(absl::Span<const RewardSample> samples) = 0;
};

// Scores one sample; a reward that keeps no state across a batch can be written as one.
using SampleScorer =
    std::function<absl::StatusOr<std::optional<double>>(const RewardSample& sample)>;

// Wraps `scorer` as a Reward that calls it on each sample in order. An error is returned
// with the sample's index in the batch.
std::unique_ptr<Reward> MakePerSampleReward(SampleScorer scorer);

// Builds a reward from its YAML entry. Read every option through `options`: keys that no
// factory reads are reported as unknown.
using RewardFactory =
    std::function<absl::StatusOr<std::unique_ptr<Reward>>(RewardOptions& options)>;

// Adds `factory` under `name`. Returns false, and keeps the first, when the name is taken.
bool RegisterReward(const std::string& name, RewardFactory factory);

// Returns the factory registered as `name`, or nullptr. The built-in rewards are always
// registered.
const RewardFactory* FindReward(const std::string& name);

// Returns the registered names, sorted.
std::vector<std::string> RegisteredRewardNames();

}  // namespace aha

#define AHA_REWARD_CONCAT_INNER_(a, b) a##b
#define AHA_REWARD_CONCAT_(a, b) AHA_REWARD_CONCAT_INNER_(a, b)

// Registers `factory` (callable as RewardFactory) as the reward `name`, at namespace scope in
// a .cc file. The linker keeps this registrar only if the object file is linked: build the
// file into an OBJECT library, or link a static library with
// $<LINK_LIBRARY:WHOLE_ARCHIVE,lib> (docs/rewards.md shows both).
#define AHA_REGISTER_REWARD(name, factory)                                       \
  static const bool AHA_REWARD_CONCAT_(aha_reward_registered_, __LINE__) = \
      ::aha::RegisterReward(name, factory)

#endif  // AHA_REWARDS_REWARD_H_
