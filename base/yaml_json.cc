#include "base/yaml_json.h"

#include <cstdint>
#include <string>

namespace aha {

nlohmann::json YamlToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& item : node) object[item.first.as<std::string>()] = YamlToJson(item.second);
    return object;
  }
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : node) array.push_back(YamlToJson(item));
    return array;
  }
  if (!node.IsScalar()) return nullptr;
  // yaml-cpp tags quoted scalars "!", so "3" stays a string.
  if (node.Tag() == "!") return node.Scalar();
  int64_t integer;
  double real;
  bool boolean;
  if (YAML::convert<int64_t>::decode(node, integer)) return integer;
  if (YAML::convert<double>::decode(node, real)) return real;
  if (YAML::convert<bool>::decode(node, boolean)) return boolean;
  return node.Scalar();
}

}  // namespace aha
