// Helpers shared by the rewards tests: batches from completions, and error-message checks.
#ifndef AHA_TESTS_REWARDS_REWARD_TEST_UTIL_H_
#define AHA_TESTS_REWARDS_REWARD_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rewards/reward.h"

namespace aha {

// Returns one sample per completion, with every other field left at its default.
inline std::vector<RewardSample> Samples(const std::vector<std::string>& completions) {
  std::vector<RewardSample> samples;
  for (const std::string& completion : completions) {
    samples.emplace_back();
    samples.back().completion = completion;
  }
  return samples;
}

// Expects `status` to be an error whose message contains each of `words`.
inline void ExpectErrorMentions(const absl::Status& status, const std::vector<std::string>& words) {
  ASSERT_FALSE(status.ok());
  for (const std::string& word : words) {
    EXPECT_NE(status.message().find(word), std::string::npos)
        << "'" << word << "' not in: " << status.message();
  }
}

}  // namespace aha

#endif  // AHA_TESTS_REWARDS_REWARD_TEST_UTIL_H_
