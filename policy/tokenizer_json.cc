// JSON file reading for the tokenizer loaders.
#include "policy/tokenizer_json.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace aha::tokenizer_json {

absl::StatusOr<nlohmann::json> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": invalid JSON at byte ", e.byte, " (", e.what(), ")"));
  }
}

absl::Status WriteFile(const std::string& path, const nlohmann::json& value) {
  std::error_code error;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(parent.string(), ": cannot create the folder: ", error.message()));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << value.dump(1) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write the file"));
  return absl::OkStatus();
}

absl::Status KeyError(const std::string& path, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": key \"", key, "\" ", what));
}

std::string TypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    default:
      return "a number";
  }
}

absl::StatusOr<const nlohmann::json*> Require(const nlohmann::json& parent, const char* key,
                                              nlohmann::json::value_t type,
                                              absl::string_view type_name,
                                              const std::string& path,
                                              absl::string_view key_path) {
  const auto it = parent.find(key);
  if (it == parent.end()) return KeyError(path, key_path, "is missing");
  const bool integer_ok = type == nlohmann::json::value_t::number_integer &&
                          it->type() == nlohmann::json::value_t::number_unsigned;
  if (it->type() != type && !integer_ok) {
    return KeyError(path, key_path,
                    absl::StrCat("must be ", type_name, ", got ", TypeName(*it)));
  }
  return &*it;
}

}  // namespace aha::tokenizer_json
