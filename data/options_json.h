// Reads CountdownOptions and CorpusOptions from a JSON object, the typed form of a config
// section (YAML is converted to JSON at the edge). Keys are the option field names; an unknown
// key or a wrong type is an error that names the section and the key.
#ifndef AHA_DATA_OPTIONS_JSON_H_
#define AHA_DATA_OPTIONS_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "data/corpus.h"
#include "data/countdown.h"

namespace aha::data {

// Overwrites the fields of `options` that `section` sets. `where` names the section in
// messages, for example "data.countdown".
absl::Status ParseCountdownOptions(const nlohmann::json& section, const std::string& where,
                                   CountdownOptions* options);

// Overwrites the fields of `options` that `section` sets; the nested key "problems" contains
// CountdownOptions.
absl::Status ParseCorpusOptions(const nlohmann::json& section, const std::string& where,
                                CorpusOptions* options);

}  // namespace aha::data

#endif  // AHA_DATA_OPTIONS_JSON_H_
