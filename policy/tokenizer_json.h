// JSON file reading for the tokenizer loaders, with errors that name the file and the key.
#ifndef AHA_POLICY_TOKENIZER_JSON_H_
#define AHA_POLICY_TOKENIZER_JSON_H_

#include <string>


#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace aha::tokenizer_json {

// Parses the JSON file at `path`. A missing or unreadable file is NotFound; invalid JSON is
// InvalidArgument with the parser's byte position.
absl::StatusOr<nlohmann::json> ReadFile(const std::string& path);

// Writes `value` to `path` (indented), creating the parent folder if needed.
absl::Status WriteFile(const std::string& path, const nlohmann::json& value);

// An InvalidArgument error "PATH: key "KEY" WHAT".
absl::Status KeyError(const std::string& path, absl::string_view key, absl::string_view what);

// Returns `parent[key]`, or an error naming `path` and `key_path` when the key is missing or
// the value is not of `type`. `type_name` is the type as the message says it ("a string").
absl::StatusOr<const nlohmann::json*> Require(const nlohmann::json& parent, const char* key,
                                              nlohmann::json::value_t type,
                                              absl::string_view type_name,
                                              const std::string& path,
                                              absl::string_view key_path);

// Name of the JSON type of `value` for error messages ("a number", "null").
std::string TypeName(const nlohmann::json& value);

}  // namespace aha::tokenizer_json

#endif  // AHA_POLICY_TOKENIZER_JSON_H_
