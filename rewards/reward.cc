// MakePerSampleReward: a Reward built from a function of one sample.
#include "rewards/reward.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace aha {
namespace {

class PerSampleReward : public Reward {
 public:
  explicit PerSampleReward(SampleScorer scorer) : scorer_(std::move(scorer)) {}

  absl::StatusOr<RewardResult> Score(absl::Span<const RewardSample> samples) override {
    RewardResult result;
    result.scores.reserve(samples.size());
    for (size_t i = 0; i < samples.size(); ++i) {
      absl::StatusOr<std::optional<double>> score = scorer_(samples[i]);
      if (!score.ok()) {
        return absl::Status(score.status().code(),
                            absl::StrCat("sample ", i, " of the batch: ", score.status().message()));
      }
      result.scores.push_back(*score);
    }
    return result;
  }

 private:
  SampleScorer scorer_;
};

}  // namespace

std::unique_ptr<Reward> MakePerSampleReward(SampleScorer scorer) {
  return std::make_unique<PerSampleReward>(std::move(scorer));
}

}  // namespace aha
