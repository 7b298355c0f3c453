// Converts a YAML node to JSON, for config sections whose typed parser takes JSON (the data
// room's option readers).
#ifndef AHA_BASE_YAML_JSON_H_
#define AHA_BASE_YAML_JSON_H_

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace aha {

// Mappings become objects and sequences arrays. A scalar becomes an integer, a real or a
// boolean when it parses as one, unless it is quoted; otherwise a string. Null becomes null.
nlohmann::json YamlToJson(const YAML::Node& node);

}  // namespace aha

#endif  // AHA_BASE_YAML_JSON_H_
