// Typed access to one reward's YAML entry, with errors that name the key and the config file.
#ifndef AHA_REWARDS_REWARD_OPTIONS_H_
#define AHA_REWARDS_REWARD_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace aha {

// One entry of the `rewards:` list. Each Get* call marks its key as read, so that after the
// factory ran, UnreadKeys() lists the keys that no one understood.
class RewardOptions {
 public:
  RewardOptions(YAML::Node entry, std::string source_file, std::string reward_name);

  bool Has(const std::string& key) const;

  // Each returns `fallback` when the key is absent, and an error naming the key when its
  // value has the wrong type.
  absl::StatusOr<double> GetDouble(const std::string& key, double fallback);
  absl::StatusOr<int64_t> GetInt(const std::string& key, int64_t fallback);
  absl::StatusOr<bool> GetBool(const std::string& key, bool fallback);
  absl::StatusOr<std::string> GetString(const std::string& key, const std::string& fallback);
  // A number, or `null` for "abstain".
  absl::StatusOr<std::optional<double>> GetScoreOrNull(const std::string& key,
                                                       std::optional<double> fallback);
  // A required non-empty list of strings.
  absl::StatusOr<std::vector<std::string>> GetStringList(const std::string& key);
  // The raw node, marked as read; an undefined node when absent.
  YAML::Node GetNode(const std::string& key);

  // Returns an InvalidArgument error "FILE: rewards entry 'NAME': key 'KEY': MESSAGE".
  absl::Status KeyError(const std::string& key, const std::string& message) const;
  // Returns the same error without a key.
  absl::Status EntryError(const std::string& message) const;

  // Returns an error naming the first key that no Get* call read.
  absl::Status CheckNoUnreadKeys() const;

  const std::string& source_file() const { return source_file_; }
  const std::string& reward_name() const { return reward_name_; }

 private:
  YAML::Node entry_;
  std::string source_file_;
  std::string reward_name_;
  std::set<std::string> read_keys_;
};

}  // namespace aha

#endif  // AHA_REWARDS_REWARD_OPTIONS_H_
