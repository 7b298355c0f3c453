// Typed access to one reward's YAML entry.
#include "rewards/reward_options.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace aha {
namespace {

// Converts a scalar node to T; returns std::nullopt when yaml-cpp cannot.
template <typename T>
std::optional<T> ConvertScalar(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

}  // namespace

RewardOptions::RewardOptions(YAML::Node entry, std::string source_file, std::string reward_name)
    : entry_(std::move(entry)),
      source_file_(std::move(source_file)),
      reward_name_(std::move(reward_name)) {}

bool RewardOptions::Has(const std::string& key) const {
  return entry_.IsMap() && entry_[key].IsDefined();
}

YAML::Node RewardOptions::GetNode(const std::string& key) {
  read_keys_.insert(key);
  if (!entry_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return entry_[key];
}

absl::StatusOr<double> RewardOptions::GetDouble(const std::string& key, double fallback) {
  YAML::Node node = GetNode(key);
  if (!node.IsDefined()) return fallback;
  std::optional<double> value = ConvertScalar<double>(node);
  if (!value || !std::isfinite(*value)) return KeyError(key, "expected a finite number");
  return *value;
}

absl::StatusOr<int64_t> RewardOptions::GetInt(const std::string& key, int64_t fallback) {
  YAML::Node node = GetNode(key);
  if (!node.IsDefined()) return fallback;
  std::optional<int64_t> value = ConvertScalar<int64_t>(node);
  if (!value) return KeyError(key, "expected an integer");
  return *value;
}

absl::StatusOr<bool> RewardOptions::GetBool(const std::string& key, bool fallback) {
  YAML::Node node = GetNode(key);
  if (!node.IsDefined()) return fallback;
  std::optional<bool> value = ConvertScalar<bool>(node);
  if (!value) return KeyError(key, "expected true or false");
  return *value;
}

absl::StatusOr<std::string> RewardOptions::GetString(const std::string& key,
                                                     const std::string& fallback) {
  YAML::Node node = GetNode(key);
  if (!node.IsDefined()) return fallback;
  std::optional<std::string> value = ConvertScalar<std::string>(node);
  if (!value) return KeyError(key, "expected a string");
  return *value;
}

absl::StatusOr<std::optional<double>> RewardOptions::GetScoreOrNull(
    const std::string& key, std::optional<double> fallback) {
  YAML::Node node = GetNode(key);
  if (!node.IsDefined()) return fallback;
  if (node.IsNull()) return std::optional<double>();
  std::optional<double> value = ConvertScalar<double>(node);
  if (!value || !std::isfinite(*value)) {
    return KeyError(key, "expected a finite number, or null to abstain");
  }
  return value;
}

absl::StatusOr<std::vector<std::string>> RewardOptions::GetStringList(const std::string& key) {
  YAML::Node node = GetNode(key);
  if (!node.IsDefined()) return KeyError(key, "missing");
  if (!node.IsSequence() || node.size() == 0) {
    return KeyError(key, "expected a non-empty list of strings, for example [python3, my.py]");
  }
  std::vector<std::string> values;
  for (const YAML::Node& item : node) {
    std::optional<std::string> value = ConvertScalar<std::string>(item);
    if (!value) return KeyError(key, "expected a non-empty list of strings");
    values.push_back(*value);
  }
  return values;
}

absl::Status RewardOptions::KeyError(const std::string& key, const std::string& message) const {
  return absl::InvalidArgumentError(absl::StrCat(source_file_, ": rewards entry '", reward_name_,
                                                 "': key '", key, "': ", message));
}

absl::Status RewardOptions::EntryError(const std::string& message) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source_file_, ": rewards entry '", reward_name_, "': ", message));
}

absl::Status RewardOptions::CheckNoUnreadKeys() const {
  if (!entry_.IsMap()) return absl::OkStatus();
  for (const auto& item : entry_) {
    std::string key = item.first.as<std::string>();
    if (read_keys_.count(key) == 0) {
      return KeyError(key, "unknown key for this reward; docs/rewards.md lists each reward's keys");
    }
  }
  return absl::OkStatus();
}

}  // namespace aha
