// Typed reading of one YAML mapping with errors that name the file, line and key, and a check
// that rejects keys nobody read (a misspelled key must not be silently ignored).
#ifndef AHA_BASE_YAML_MAP_H_
#define AHA_BASE_YAML_MAP_H_

#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace aha {

class YamlMap {
 public:
  // `node` must be a mapping or null (an absent section reads as empty). `path` is the key
  // path used in messages ("model" or "trainer.grpo").
  static absl::StatusOr<YamlMap> Create(const YAML::Node& node, std::string file,
                                        std::string path);

  // Reads `key` into `out` when present; leaves `out` unchanged when absent. A value of the
  // wrong type is an error naming file:line and the key.
  absl::Status Read(const std::string& key, int64_t& out);
  absl::Status Read(const std::string& key, double& out);
  absl::Status Read(const std::string& key, bool& out);
  absl::Status Read(const std::string& key, std::string& out);
  absl::Status Read(const std::string& key, std::vector<std::string>& out);
  absl::Status Read(const std::string& key, std::vector<int64_t>& out);

  // Like Read, but a missing key is an error.
  template <typename T>
  absl::Status Require(const std::string& key, T& out) {
    if (!Has(key)) return Error(key, "is required but missing");
    return Read(key, out);
  }

  bool Has(const std::string& key) const { return node_[key].IsDefined(); }
  // A nested mapping (empty when absent); marks `key` as read.
  absl::StatusOr<YamlMap> Child(const std::string& key);
  // The raw node, marking `key` as read; for sections parsed by another room.
  YAML::Node Raw(const std::string& key);

  // Every key that no Read, Require, Child or Raw call asked for is an error.
  absl::Status CheckAllKeysRead() const;

  // "FILE:LINE: PATH.KEY MESSAGE".
  absl::Status Error(const std::string& key, const std::string& message) const;
  const std::string& file() const { return file_; }

 private:
  YamlMap(YAML::Node node, std::string file, std::string path)
      : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {}
  template <typename T>
  absl::Status ReadScalar(const std::string& key, T& out, const char* type_name);

  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> read_;
};

// Loads a YAML file; a missing file or a syntax error names the file and line.
absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path);

// Applies command-line overrides such as "optimizer.lr=1e-6" or "grpo.stop=[\"</answer>\"]" to
// `root`. The value is read as YAML, so numbers, booleans and lists keep their types. Missing
// mappings on the path are created, and the config parser then rejects keys it does not know.
absl::Status ApplyYamlOverrides(YAML::Node& root, const std::vector<std::string>& overrides);

}  // namespace aha

#endif  // AHA_BASE_YAML_MAP_H_
