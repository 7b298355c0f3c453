// ModelConfig from and to Hugging Face config.json, with the defaults transformers applies for
// qwen2, qwen3 and llama when a key is absent.
#include "policy/model_config.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"
#include "policy/file_io.h"

namespace aha {
namespace {

using Json = nlohmann::json;

struct Architecture {
  const char* model_type;
  const char* class_name;
};

constexpr Architecture kArchitectures[] = {
    {"qwen2", "Qwen2ForCausalLM"},
    {"qwen3", "Qwen3ForCausalLM"},
    {"llama", "LlamaForCausalLM"},
};

const char* ClassNameFor(const std::string& model_type) {
  for (const Architecture& architecture : kArchitectures) {
    if (model_type == architecture.model_type) return architecture.class_name;
  }
  return nullptr;
}

// Typed access to the keys of one JSON object; every error names the key and the file.
class KeyReader {
 public:
  KeyReader(const Json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  // The value, or nullptr when the key is absent or null (transformers treats both alike).
  const Json* Find(const std::string& key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::Status Error(const std::string& key, const std::string& problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": key '", prefix_, key, "' ", problem));
  }

  absl::StatusOr<int64_t> RequiredInt(const std::string& key) const {
    const Json* value = Find(key);
    if (value == nullptr) return Error(key, "is missing; it is required");
    return AsInt(key, *value);
  }

  absl::StatusOr<double> RequiredDouble(const std::string& key) const {
    if (Find(key) == nullptr) return Error(key, "is missing; it is required");
    return OptionalDouble(key, 0.0);
  }

  absl::StatusOr<int64_t> OptionalInt(const std::string& key, int64_t fallback) const {
    const Json* value = Find(key);
    return value == nullptr ? fallback : AsInt(key, *value);
  }

  absl::StatusOr<double> OptionalDouble(const std::string& key, double fallback) const {
    const Json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_number()) return Error(key, absl::StrCat("must be a number, got ", value->dump()));
    return value->get<double>();
  }

  absl::StatusOr<bool> OptionalBool(const std::string& key, bool fallback) const {
    const Json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) {
      return Error(key, absl::StrCat("must be true or false, got ", value->dump()));
    }
    return value->get<bool>();
  }

  absl::StatusOr<std::string> OptionalString(const std::string& key,
                                             const std::string& fallback) const {
    const Json* value = Find(key);
    if (value == nullptr) return fallback;
    if (!value->is_string()) return Error(key, absl::StrCat("must be a string, got ", value->dump()));
    return value->get<std::string>();
  }

  // A reader for the object under `key`, whose errors name the key as "key.field".
  KeyReader Nested(const Json& object, const std::string& key) const {
    return KeyReader(object, source_, absl::StrCat(prefix_, key, "."));
  }

  absl::StatusOr<int64_t> AsInt(const std::string& key, const Json& value) const {
    if (!value.is_number_integer()) {
      return Error(key, absl::StrCat("must be an integer, got ", value.dump()));
    }
    return value.get<int64_t>();
  }

 private:
  const Json& object_;
  std::string source_;
  std::string prefix_;
};

// A token id: `fallback` when the key is absent, none when it is null.
absl::StatusOr<std::optional<int64_t>> ReadTokenId(const Json& root, const KeyReader& reader,
                                                   const std::string& key,
                                                   std::optional<int64_t> fallback) {
  if (!root.contains(key)) return fallback;
  const Json* value = reader.Find(key);
  if (value == nullptr) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t id, reader.AsInt(key, *value));
  return std::optional<int64_t>(id);
}

// eos_token_id is an integer or a list of integers.
absl::StatusOr<std::vector<int64_t>> ReadEosIds(const Json& root, const KeyReader& reader,
                                                const std::string& model_type) {
  std::vector<int64_t> ids;
  if (!root.contains("eos_token_id")) {
    if (model_type == "llama") ids.push_back(2);  // LlamaConfig's default
    return ids;
  }
  const Json* value = reader.Find("eos_token_id");
  if (value == nullptr) return ids;
  if (value->is_array()) {
    for (const Json& item : *value) {
      ASSIGN_OR_RETURN(int64_t id, reader.AsInt("eos_token_id", item));
      ids.push_back(id);
    }
    return ids;
  }
  ASSIGN_OR_RETURN(int64_t id, reader.AsInt("eos_token_id", *value));
  ids.push_back(id);
  return ids;
}

// Reads rope_theta and the frequency scaling from the legacy keys (rope_theta, rope_scaling) or
// from transformers 5's rope_parameters, which contains both. Its rope_theta wins, as in transformers.
absl::Status ReadRope(const KeyReader& reader, ModelConfig& config) {
  const std::string scaling_key =
      reader.Find("rope_parameters") != nullptr ? "rope_parameters" : "rope_scaling";
  ASSIGN_OR_RETURN(config.rope_theta, reader.OptionalDouble("rope_theta", 10000.0));
  config.rope_scaling.reset();
  const Json* scaling = reader.Find(scaling_key);
  if (scaling == nullptr) return absl::OkStatus();
  if (!scaling->is_object()) {
    return reader.Error(scaling_key,
                        absl::StrCat("must be an object or null, got ", scaling->dump()));
  }

  const KeyReader fields = reader.Nested(*scaling, scaling_key);
  ASSIGN_OR_RETURN(config.rope_theta, fields.OptionalDouble("rope_theta", config.rope_theta));
  // Configs from before transformers 4.43 spell rope_type as "type".
  ASSIGN_OR_RETURN(std::string type, fields.OptionalString("rope_type", ""));
  if (type.empty()) {
    ASSIGN_OR_RETURN(type, fields.OptionalString("type", ""));
  }
  if (type.empty()) return fields.Error("rope_type", "is missing; expected 'default' or 'llama3'");
  if (type == "default") return absl::OkStatus();
  if (type != "llama3") {
    return fields.Error("rope_type", absl::StrCat("is '", type,
                                                  "'; only 'default' and 'llama3' are supported"));
  }
  RopeScaling rope_scaling;
  rope_scaling.rope_type = type;
  ASSIGN_OR_RETURN(rope_scaling.factor, fields.RequiredDouble("factor"));
  ASSIGN_OR_RETURN(rope_scaling.low_freq_factor, fields.RequiredDouble("low_freq_factor"));
  ASSIGN_OR_RETURN(rope_scaling.high_freq_factor, fields.RequiredDouble("high_freq_factor"));
  ASSIGN_OR_RETURN(rope_scaling.original_max_position_embeddings,
                   fields.RequiredInt("original_max_position_embeddings"));
  config.rope_scaling = rope_scaling;
  return absl::OkStatus();
}

// Keys that change the model's math in ways this code does not implement: rejecting them
// beats computing something other than what the checkpoint was trained with.
absl::Status RejectUnsupportedFeatures(const KeyReader& reader, const std::string& model_type) {
  ASSIGN_OR_RETURN(std::string activation, reader.OptionalString("hidden_act", "silu"));
  if (activation != "silu") {
    return reader.Error("hidden_act", absl::StrCat("is '", activation, "'; only 'silu' is supported"));
  }
  ASSIGN_OR_RETURN(bool mlp_bias, reader.OptionalBool("mlp_bias", false));
  if (mlp_bias) return reader.Error("mlp_bias", "is true; MLP biases are not supported");
  if (model_type != "llama") {
    ASSIGN_OR_RETURN(bool sliding_window, reader.OptionalBool("use_sliding_window", false));
    if (sliding_window) {
      return reader.Error("use_sliding_window", "is true; sliding-window attention is not supported");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadSizes(const KeyReader& reader, ModelConfig& config) {
  ASSIGN_OR_RETURN(config.vocab_size, reader.RequiredInt("vocab_size"));
  ASSIGN_OR_RETURN(config.hidden_size, reader.RequiredInt("hidden_size"));
  ASSIGN_OR_RETURN(config.intermediate_size, reader.RequiredInt("intermediate_size"));
  ASSIGN_OR_RETURN(config.num_hidden_layers, reader.RequiredInt("num_hidden_layers"));
  ASSIGN_OR_RETURN(config.num_attention_heads, reader.RequiredInt("num_attention_heads"));
  ASSIGN_OR_RETURN(config.num_key_value_heads,
                   reader.OptionalInt("num_key_value_heads", config.num_attention_heads));
  if (config.num_attention_heads <= 0) {
    return reader.Error("num_attention_heads",
                        absl::StrCat("must be positive, got ", config.num_attention_heads));
  }
  // Qwen3Config's own default head_dim is 128 whatever the hidden size, which is rarely what a
  // config without the key means, so qwen3 requires the key.
  if (config.model_type == "qwen3") {
    ASSIGN_OR_RETURN(config.head_dim, reader.RequiredInt("head_dim"));
  } else if (reader.Find("head_dim") != nullptr) {
    ASSIGN_OR_RETURN(config.head_dim, reader.RequiredInt("head_dim"));
  } else if (config.hidden_size % config.num_attention_heads != 0) {
    return reader.Error("hidden_size", absl::StrCat("(", config.hidden_size,
                                                    ") is not a multiple of num_attention_heads (",
                                                    config.num_attention_heads,
                                                    ") and there is no head_dim key"));
  } else {
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  const int64_t default_positions = config.model_type == "llama" ? 2048 : 32768;
  ASSIGN_OR_RETURN(config.max_position_embeddings,
                   reader.OptionalInt("max_position_embeddings", default_positions));
  return absl::OkStatus();
}

absl::Status ReadFlagsAndTokens(const Json& root, const KeyReader& reader, ModelConfig& config) {
  ASSIGN_OR_RETURN(config.rms_norm_eps, reader.OptionalDouble("rms_norm_eps", 1e-6));
  ASSIGN_OR_RETURN(config.tie_word_embeddings, reader.OptionalBool("tie_word_embeddings", false));
  if (config.model_type == "qwen2") {
    // Qwen2Attention always has q, k and v biases and no o_proj bias; Qwen2Config has no key.
    config.attention_bias = true;
    config.attention_output_bias = false;
  } else {
    ASSIGN_OR_RETURN(config.attention_bias, reader.OptionalBool("attention_bias", false));
    config.attention_output_bias = config.attention_bias;
  }
  config.qk_norm = config.model_type == "qwen3";

  // transformers 5 writes "dtype"; earlier versions write "torch_dtype".
  const std::string dtype_key = reader.Find("dtype") != nullptr ? "dtype" : "torch_dtype";
  ASSIGN_OR_RETURN(config.torch_dtype, reader.OptionalString(dtype_key, "float32"));

  const std::optional<int64_t> default_bos =
      config.model_type == "llama" ? std::optional<int64_t>(1) : std::nullopt;
  ASSIGN_OR_RETURN(config.bos_token_id, ReadTokenId(root, reader, "bos_token_id", default_bos));
  ASSIGN_OR_RETURN(config.pad_token_id, ReadTokenId(root, reader, "pad_token_id", std::nullopt));
  ASSIGN_OR_RETURN(config.eos_token_ids, ReadEosIds(root, reader, config.model_type));
  return absl::OkStatus();
}

absl::Status Invalid(const std::string& source, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", problem));
}

absl::Status CheckPositive(const std::string& source, const char* key, double value) {
  if (value > 0) return absl::OkStatus();
  return Invalid(source, absl::StrCat(key, " must be positive, got ", value));
}

absl::Status CheckTokenId(const std::string& source, const char* key, int64_t id,
                          int64_t vocab_size) {
  if (id >= 0 && id < vocab_size) return absl::OkStatus();
  return Invalid(source, absl::StrCat(key, " ", id, " is outside the vocabulary [0, ",
                                      vocab_size, ")"));
}

absl::Status ValidateFlags(const ModelConfig& config, const std::string& source) {
  const std::string flags = absl::StrCat(
      "attention_bias=", config.attention_bias, ", attention_output_bias=",
      config.attention_output_bias, ", qk_norm=", config.qk_norm);
  bool consistent = true;
  if (config.model_type == "qwen2") {
    consistent = config.attention_bias && !config.attention_output_bias && !config.qk_norm;
  } else if (config.model_type == "qwen3") {
    consistent = config.qk_norm && config.attention_output_bias == config.attention_bias;
  } else {
    consistent = !config.qk_norm && config.attention_output_bias == config.attention_bias;
  }
  if (!consistent) {
    return Invalid(source, absl::StrCat(
                               flags, " do not match model_type ", config.model_type,
                               ": qwen2 has q/k/v biases only, qwen3 has qk_norm, and llama and "
                               "qwen3 put a bias on o_proj exactly when attention_bias is set"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRopeScaling(const RopeScaling& scaling, const std::string& source) {
  if (scaling.rope_type != "llama3") {
    return Invalid(source, absl::StrCat("rope_scaling.rope_type '", scaling.rope_type,
                                        "' is not supported; expected 'llama3'"));
  }
  RETURN_IF_ERROR(CheckPositive(source, "rope_scaling.factor", scaling.factor));
  RETURN_IF_ERROR(CheckPositive(source, "rope_scaling.low_freq_factor", scaling.low_freq_factor));
  RETURN_IF_ERROR(CheckPositive(source, "rope_scaling.original_max_position_embeddings",
                                static_cast<double>(scaling.original_max_position_embeddings)));
  // The llama3 rule interpolates by dividing by high_freq_factor - low_freq_factor.
  if (scaling.high_freq_factor <= scaling.low_freq_factor) {
    return Invalid(source, absl::StrCat("rope_scaling.high_freq_factor (", scaling.high_freq_factor,
                                        ") must exceed low_freq_factor (",
                                        scaling.low_freq_factor, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateModelConfig(const ModelConfig& config, const std::string& source) {
  const char* class_name = ClassNameFor(config.model_type);
  if (class_name == nullptr) {
    return Invalid(source, absl::StrCat("model_type '", config.model_type,
                                        "' is not supported; expected qwen2, qwen3 or llama"));
  }
  if (config.architecture != class_name) {
    return Invalid(source, absl::StrCat("architecture '", config.architecture,
                                        "' does not match model_type ", config.model_type,
                                        "; expected ", class_name));
  }

  const std::pair<const char*, int64_t> sizes[] = {
      {"vocab_size", config.vocab_size},
      {"hidden_size", config.hidden_size},
      {"intermediate_size", config.intermediate_size},
      {"num_hidden_layers", config.num_hidden_layers},
      {"num_attention_heads", config.num_attention_heads},
      {"num_key_value_heads", config.num_key_value_heads},
      {"head_dim", config.head_dim},
      {"max_position_embeddings", config.max_position_embeddings},
  };
  for (const auto& [key, value] : sizes) {
    RETURN_IF_ERROR(CheckPositive(source, key, static_cast<double>(value)));
  }
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    return Invalid(source, absl::StrCat("num_attention_heads (", config.num_attention_heads,
                                        ") is not a multiple of num_key_value_heads (",
                                        config.num_key_value_heads, ")"));
  }
  // RoPE rotates pairs of features.
  if (config.head_dim % 2 != 0) {
    return Invalid(source, absl::StrCat("head_dim (", config.head_dim, ") must be even"));
  }

  RETURN_IF_ERROR(CheckPositive(source, "rms_norm_eps", config.rms_norm_eps));
  RETURN_IF_ERROR(CheckPositive(source, "rope_theta", config.rope_theta));
  if (config.rope_scaling.has_value()) {
    RETURN_IF_ERROR(ValidateRopeScaling(*config.rope_scaling, source));
  }
  RETURN_IF_ERROR(ValidateFlags(config, source));

  if (config.torch_dtype != "float32" && config.torch_dtype != "bfloat16" &&
      config.torch_dtype != "float16") {
    return Invalid(source, absl::StrCat("torch_dtype '", config.torch_dtype,
                                        "' is not supported; expected float32, bfloat16 or float16"));
  }

  if (config.bos_token_id.has_value()) {
    RETURN_IF_ERROR(CheckTokenId(source, "bos_token_id", *config.bos_token_id, config.vocab_size));
  }
  if (config.pad_token_id.has_value()) {
    RETURN_IF_ERROR(CheckTokenId(source, "pad_token_id", *config.pad_token_id, config.vocab_size));
  }
  for (int64_t id : config.eos_token_ids) {
    RETURN_IF_ERROR(CheckTokenId(source, "eos_token_id", id, config.vocab_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& error) {
    return Invalid(source, absl::StrCat("invalid JSON (", error.what(), ")"));
  }
  if (!root.is_object()) return Invalid(source, "config.json must be a JSON object");
  const KeyReader reader(root, source);

  ModelConfig config;
  if (reader.Find("model_type") == nullptr) {
    return reader.Error("model_type", "is missing; expected qwen2, qwen3 or llama");
  }
  ASSIGN_OR_RETURN(config.model_type, reader.OptionalString("model_type", ""));
  const char* class_name = ClassNameFor(config.model_type);
  if (class_name == nullptr) {
    return reader.Error("model_type", absl::StrCat("is '", config.model_type,
                                                   "'; supported types are qwen2, qwen3 and llama"));
  }
  config.architecture = class_name;
  if (const Json* architectures = reader.Find("architectures")) {
    if (!architectures->is_array() || architectures->empty() || !(*architectures)[0].is_string()) {
      return reader.Error("architectures", absl::StrCat("must be a non-empty list of class names, got ",
                                                        architectures->dump()));
    }
    config.architecture = (*architectures)[0].get<std::string>();
  }

  RETURN_IF_ERROR(RejectUnsupportedFeatures(reader, config.model_type));
  RETURN_IF_ERROR(ReadSizes(reader, config));
  RETURN_IF_ERROR(ReadRope(reader, config));
  RETURN_IF_ERROR(ReadFlagsAndTokens(root, reader, config));
  RETURN_IF_ERROR(ValidateModelConfig(config, source));
  return config;
}

absl::StatusOr<ModelConfig> ReadModelConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseModelConfig(text, path);
}

std::string ModelConfigToJson(const ModelConfig& config) {
  nlohmann::ordered_json json;
  json["architectures"] = {config.architecture};
  json["model_type"] = config.model_type;

  json["vocab_size"] = config.vocab_size;
  json["hidden_size"] = config.hidden_size;
  json["intermediate_size"] = config.intermediate_size;
  json["num_hidden_layers"] = config.num_hidden_layers;
  json["num_attention_heads"] = config.num_attention_heads;
  json["num_key_value_heads"] = config.num_key_value_heads;
  json["head_dim"] = config.head_dim;
  json["hidden_act"] = "silu";

  json["max_position_embeddings"] = config.max_position_embeddings;
  json["rms_norm_eps"] = config.rms_norm_eps;
  json["rope_theta"] = config.rope_theta;
  json["rope_scaling"] = nullptr;
  if (config.rope_scaling.has_value()) {
    const RopeScaling& scaling = *config.rope_scaling;
    json["rope_scaling"] = {
        {"rope_type", scaling.rope_type},
        {"factor", scaling.factor},
        {"low_freq_factor", scaling.low_freq_factor},
        {"high_freq_factor", scaling.high_freq_factor},
        {"original_max_position_embeddings", scaling.original_max_position_embeddings}};
  }

  json["tie_word_embeddings"] = config.tie_word_embeddings;
  if (config.model_type != "qwen2") json["attention_bias"] = config.attention_bias;
  if (config.model_type == "llama") json["mlp_bias"] = false;
  if (config.model_type != "llama") {
    // Released Qwen configs carry these keys; writing them states full attention on every layer
    // for each transformers version instead of relying on its defaults.
    json["use_sliding_window"] = false;
    json["sliding_window"] = nullptr;
    json["max_window_layers"] = config.num_hidden_layers;
  }

  json["attention_dropout"] = 0.0;
  json["initializer_range"] = 0.02;
  json["use_cache"] = true;

  json["bos_token_id"] = nullptr;
  if (config.bos_token_id.has_value()) json["bos_token_id"] = *config.bos_token_id;
  if (config.eos_token_ids.size() == 1) {
    json["eos_token_id"] = config.eos_token_ids[0];
  } else if (config.eos_token_ids.empty()) {
    json["eos_token_id"] = nullptr;
  } else {
    json["eos_token_id"] = config.eos_token_ids;
  }
  json["pad_token_id"] = nullptr;
  if (config.pad_token_id.has_value()) json["pad_token_id"] = *config.pad_token_id;
  json["torch_dtype"] = config.torch_dtype;
  return json.dump(2) + "\n";
}

absl::Status WriteModelConfig(const ModelConfig& config, const std::string& path) {
  RETURN_IF_ERROR(ValidateModelConfig(config, path));
  return WriteFileAtomically(path, ModelConfigToJson(config));
}

}  // namespace aha
