// Typed reading of the data options from JSON.
#include "data/options_json.h"

#include <functional>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace aha::data {
namespace {

using Setter = std::function<absl::Status(const nlohmann::json& value, const std::string& key)>;

absl::Status WrongType(const std::string& key, const char* expected, const nlohmann::json& v) {
  return absl::InvalidArgumentError(
      absl::StrCat(key, ": expected ", expected, ", got ", v.dump()));
}

template <typename Int>
Setter IntSetter(Int* field) {
  return [field](const nlohmann::json& v, const std::string& key) -> absl::Status {
    if (!v.is_number_integer()) return WrongType(key, "an integer", v);
    const bool negative = v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0;
    if (negative ? v.get<int64_t>() < static_cast<int64_t>(std::numeric_limits<Int>::min())
                 : v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
      return WrongType(key, "an integer in range", v);
    }
    *field = v.get<Int>();
    return absl::OkStatus();
  };
}

Setter DoubleSetter(double* field) {
  return [field](const nlohmann::json& v, const std::string& key) -> absl::Status {
    if (!v.is_number()) return WrongType(key, "a number", v);
    *field = v.get<double>();
    return absl::OkStatus();
  };
}

Setter BoolSetter(bool* field) {
  return [field](const nlohmann::json& v, const std::string& key) -> absl::Status {
    if (!v.is_boolean()) return WrongType(key, "true or false", v);
    *field = v.get<bool>();
    return absl::OkStatus();
  };
}

Setter StringSetter(std::string* field) {
  return [field](const nlohmann::json& v, const std::string& key) -> absl::Status {
    if (!v.is_string()) return WrongType(key, "a string", v);
    *field = v.get<std::string>();
    return absl::OkStatus();
  };
}

absl::Status ApplySetters(const nlohmann::json& section, const std::string& where,
                          const std::map<std::string, Setter>& setters) {
  if (!section.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": expected a mapping of options"));
  }
  for (const auto& item : section.items()) {
    const std::string key = absl::StrCat(where, ".", item.key());
    auto it = setters.find(item.key());
    if (it == setters.end()) {
      std::vector<std::string> known;
      for (const auto& [name, unused] : setters) known.push_back(name);
      return absl::InvalidArgumentError(absl::StrCat("unknown key ", key, "; known keys: ",
                                                     absl::StrJoin(known, ", ")));
    }
    RETURN_IF_ERROR(it->second(item.value(), key));
  }
  return absl::OkStatus();
}

// Names `where` in a validation error, in place of the validator's own "tag: " prefix, so that
// "data.corpus: corpus: ..." reads "data.corpus: ...".
absl::Status PlaceValidationError(const absl::Status& valid, const std::string& where, const char* tag) {
  if (valid.ok()) return valid;
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", absl::StripPrefix(valid.message(), absl::StrCat(tag, ": "))));
}

}  // namespace

absl::Status ParseCountdownOptions(const nlohmann::json& section, const std::string& where,
                                   CountdownOptions* options) {
  const std::map<std::string, Setter> setters = {
      {"min_count", IntSetter(&options->min_count)},
      {"max_count", IntSetter(&options->max_count)},
      {"min_number", IntSetter(&options->min_number)},
      {"max_number", IntSetter(&options->max_number)},
      {"min_target", IntSetter(&options->min_target)},
      {"max_target", IntSetter(&options->max_target)},
      {"integer_intermediates", BoolSetter(&options->integer_intermediates)},
      {"seed", IntSetter(&options->seed)},
      {"train_size", IntSetter(&options->train_size)},
      {"test_size", IntSetter(&options->test_size)},
  };
  RETURN_IF_ERROR(ApplySetters(section, where, setters));
  return PlaceValidationError(ValidateCountdownOptions(*options), where, "countdown");
}

absl::Status ParseCorpusOptions(const nlohmann::json& section, const std::string& where,
                                CorpusOptions* options) {
  const std::map<std::string, Setter> setters = {
      {"problems",
       [options, &where](const nlohmann::json& v, const std::string&) {
         return ParseCountdownOptions(v, absl::StrCat(where, ".problems"), &options->problems);
       }},
      {"size", IntSetter(&options->size)},
      {"prompt_template", StringSetter(&options->prompt_template)},
      {"end_marker", StringSetter(&options->end_marker)},
      {"max_length", IntSetter(&options->max_length)},
      {"cold_start_max_length", IntSetter(&options->cold_start_max_length)},
      {"correct_fraction", DoubleSetter(&options->correct_fraction)},
      {"reflection_fraction", DoubleSetter(&options->reflection_fraction)},
      {"broken_format_fraction", DoubleSetter(&options->broken_format_fraction)},
      {"max_failed_attempts", IntSetter(&options->max_failed_attempts)},
      {"style", StringSetter(&options->style)},
      {"persistent_fraction", DoubleSetter(&options->persistent_fraction)},
      {"give_up_probability", DoubleSetter(&options->give_up_probability)},
      {"careful_persistence", BoolSetter(&options->careful_persistence)},
      {"careful_order", StringSetter(&options->careful_order)},
      {"seed", IntSetter(&options->seed)},
  };
  RETURN_IF_ERROR(ApplySetters(section, where, setters));
  return PlaceValidationError(ValidateCorpusOptions(*options), where, "corpus");
}

}  // namespace aha::data
