// Reads a Hugging Face tokenizer.json (plus tokenizer_config.json and generation_config.json)
// into a BpeTokenizer, checking every key that the byte-level BPE pipeline uses.
#include <algorithm>
#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "policy/bpe_tokenizer.h"
#include "policy/byte_level.h"
#include "policy/tokenizer_json.h"

namespace aha {
namespace {

using nlohmann::json;
using tokenizer_json::KeyError;
using tokenizer_json::TypeName;

constexpr json::value_t kObject = json::value_t::object;
constexpr json::value_t kArray = json::value_t::array;
constexpr json::value_t kString = json::value_t::string;
constexpr json::value_t kInteger = json::value_t::number_integer;

// Raw bytes of a vocabulary or merge string. Byte-level vocabularies write every byte as one
// symbol. A string with other code points is kept as its own UTF-8 bytes, because that is
// how the Hugging Face ByteLevel decoder outputs such a token.
std::string VocabBytes(const std::string& symbols) {
  std::optional<std::string> bytes = byte_level::SymbolsToBytes(symbols);
  return bytes ? *std::move(bytes) : symbols;
}

absl::StatusOr<bool> OptionalBool(const json& object, const char* key, bool fallback,
                                  const std::string& path, const std::string& key_path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return KeyError(path, key_path, absl::StrCat("must be a boolean, got ", TypeName(*it)));
  }
  return it->get<bool>();
}

// The largest token id accepted for a vocabulary of `entries` tokens. Ids index tables as
// long as the largest id, so an id such as 2000000000 would allocate gigabytes. Real
// tokenizers number their tokens almost without gaps.
int64_t MaxTokenId(size_t entries) { return 4 * static_cast<int64_t>(entries) + 65536; }

// Checks that added tokens do not give one id two meanings: two added tokens with the same id
// and different text, or an added token on the id of a different vocabulary entry.
absl::Status CheckAddedTokenIds(const std::vector<AddedToken>& added, const BpeModel& model,
                                const std::string& path) {
  absl::flat_hash_map<int32_t, std::string> vocab_text;
  for (const auto& [bytes, id] : model.vocab()) vocab_text.emplace(id, bytes);
  absl::flat_hash_map<int32_t, const AddedToken*> added_of_id;
  const int64_t max_id = MaxTokenId(model.vocab().size() + added.size());
  for (const AddedToken& token : added) {
    if (token.id > max_id) {
      return KeyError(path, "added_tokens",
                      absl::StrCat("\"", token.content, "\" has id ", token.id,
                                   ", far beyond the ", model.vocab().size(),
                                   " vocabulary entries; ids must be at most ", max_id));
    }
    auto [it, inserted] = added_of_id.emplace(token.id, &token);
    if (!inserted && it->second->content != token.content) {
      return KeyError(path, "added_tokens",
                      absl::StrCat("\"", it->second->content, "\" and \"", token.content,
                                   "\" both have id ", token.id,
                                   "; each id must name one token"));
    }
    auto in_vocab = vocab_text.find(token.id);
    if (in_vocab != vocab_text.end() && in_vocab->second != token.content) {
      return KeyError(path, "added_tokens",
                      absl::StrCat("\"", token.content, "\" has id ", token.id,
                                   ", which the vocabulary gives to a different token; each id "
                                   "must name one token"));
    }
  }
  return absl::OkStatus();
}

// Reads "model": a BPE vocabulary and merges.
absl::StatusOr<BpeModel> ReadModel(const json& root, const std::string& path) {
  ASSIGN_OR_RETURN(const json* model,
                   tokenizer_json::Require(root, "model", kObject, "an object", path, "model"));
  if (model->contains("type")) {
    const json& type = (*model)["type"];
    if (!type.is_string() || type != "BPE") {
      return KeyError(path, "model.type",
                      absl::StrCat("is ", type.dump(), ", but only \"BPE\" is supported"));
    }
  }
  ASSIGN_OR_RETURN(bool byte_fallback,
                   OptionalBool(*model, "byte_fallback", false, path, "model.byte_fallback"));
  if (byte_fallback) {
    return KeyError(path, "model.byte_fallback",
                    "is true (SentencePiece-style BPE), but only byte-level BPE is supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto it = model->find(key);
    if (it != model->end() && !it->is_null() &&
        !(it->is_string() && it->get<std::string>().empty())) {
      return KeyError(path, absl::StrCat("model.", key),
                      absl::StrCat("is ", it->dump(), ", but only an empty affix is supported"));
    }
  }
  if (const auto it = model->find("dropout");
      it != model->end() && !it->is_null() && !(it->is_number() && it->get<double>() == 0.0)) {
    return KeyError(path, "model.dropout",
                    absl::StrCat("is ", it->dump(), ", but BPE dropout is not supported"));
  }
  ASSIGN_OR_RETURN(bool ignore_merges,
                   OptionalBool(*model, "ignore_merges", false, path, "model.ignore_merges"));

  ASSIGN_OR_RETURN(const json* vocab_json, tokenizer_json::Require(*model, "vocab", kObject,
                                                                   "an object", path,
                                                                   "model.vocab"));
  absl::flat_hash_map<std::string, int32_t> vocab;
  vocab.reserve(vocab_json->size());
  absl::flat_hash_map<int32_t, std::string> symbols_of_id;
  for (const auto& [symbols, id] : vocab_json->items()) {
    const std::string key = absl::StrCat("model.vocab[\"", symbols, "\"]");
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > MaxTokenId(vocab_json->size())) {
      return KeyError(path, key,
                      absl::StrCat("must be an integer id from 0 to ",
                                   MaxTokenId(vocab_json->size()), " (the vocabulary has ",
                                   vocab_json->size(), " entries), got ", id.dump()));
    }
    const int32_t value = static_cast<int32_t>(id.get<int64_t>());
    auto [it, inserted] = symbols_of_id.emplace(value, symbols);
    if (!inserted) {
      return KeyError(path, key,
                      absl::StrCat("has id ", value, ", which \"", it->second,
                                   "\" has too; each id must name one token"));
    }
    vocab[VocabBytes(symbols)] = value;
  }

  ASSIGN_OR_RETURN(const json* merges_json, tokenizer_json::Require(*model, "merges", kArray,
                                                                    "an array", path,
                                                                    "model.merges"));
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(merges_json->size());
  for (size_t i = 0; i < merges_json->size(); ++i) {
    const json& merge = (*merges_json)[i];
    const std::string key = absl::StrCat("model.merges[", i, "]");
    if (merge.is_string()) {
      // The older format "left right": byte-level symbols never contain a space.
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        return KeyError(path, key,
                        absl::StrCat("must be two tokens separated by one space, got ",
                                     merge.dump()));
      }
      merges.emplace_back(VocabBytes(text.substr(0, space)), VocabBytes(text.substr(space + 1)));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      merges.emplace_back(VocabBytes(merge[0].get<std::string>()),
                          VocabBytes(merge[1].get<std::string>()));
    } else {
      return KeyError(path, key,
                      absl::StrCat("must be a string \"a b\" or a pair [\"a\", \"b\"], got ",
                                   merge.dump()));
    }
  }
  absl::StatusOr<BpeModel> built = BpeModel::Create(std::move(vocab), merges, ignore_merges);
  if (!built.ok()) return KeyError(path, "model.merges", built.status().message());
  return built;
}

// Appends the forms of normalizer `node` (at `key_path`) to `normalizer`.
absl::Status ReadNormalizer(const json& node, const std::string& path,
                            const std::string& key_path, Normalizer* normalizer) {
  if (node.is_null()) return absl::OkStatus();
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) {
    return KeyError(path, key_path, "must be null or an object with a string \"type\"");
  }
  const std::string type = node["type"].get<std::string>();
  if (type == "NFC") {
    normalizer->steps.push_back(NormalizationForm::kNfc);
  } else if (type == "NFD") {
    normalizer->steps.push_back(NormalizationForm::kNfd);
  } else if (type == "NFKC") {
    normalizer->steps.push_back(NormalizationForm::kNfkc);
  } else if (type == "NFKD") {
    normalizer->steps.push_back(NormalizationForm::kNfkd);
  } else if (type == "Sequence") {
    const std::string list_key = key_path + ".normalizers";
    ASSIGN_OR_RETURN(const json* list, tokenizer_json::Require(node, "normalizers", kArray,
                                                               "an array", path, list_key));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(ReadNormalizer((*list)[i], path, absl::StrCat(list_key, "[", i, "]"),
                                     normalizer));
    }
  } else {
    return KeyError(path, key_path + ".type",
                    absl::StrCat("is \"", type, "\", but only NFC, NFD, NFKC, NFKD and "
                                 "Sequence normalizers are supported"));
  }
  return absl::OkStatus();
}

absl::Status ReadPreTokenizer(const json& node, const std::string& path,
                              const std::string& key_path, std::vector<PreTokenizerStep>* steps) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) {
    return KeyError(path, key_path, "must be an object with a string \"type\"");
  }
  const std::string type = node["type"].get<std::string>();
  if (type == "Sequence") {
    const std::string list_key = key_path + ".pretokenizers";
    ASSIGN_OR_RETURN(const json* list, tokenizer_json::Require(node, "pretokenizers", kArray,
                                                               "an array", path, list_key));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(
          ReadPreTokenizer((*list)[i], path, absl::StrCat(list_key, "[", i, "]"), steps));
    }
    return absl::OkStatus();
  }
  if (type == "ByteLevel") {
    ASSIGN_OR_RETURN(bool add_prefix_space, OptionalBool(node, "add_prefix_space", false, path,
                                                         key_path + ".add_prefix_space"));
    ASSIGN_OR_RETURN(bool use_regex,
                     OptionalBool(node, "use_regex", true, path, key_path + ".use_regex"));
    ASSIGN_OR_RETURN(PreTokenizerStep step,
                     PreTokenizer::ByteLevelStep(add_prefix_space, use_regex));
    steps->push_back(std::move(step));
    return absl::OkStatus();
  }
  if (type == "Split") {
    PreTokenizerStep step;
    ASSIGN_OR_RETURN(const json* pattern, tokenizer_json::Require(node, "pattern", kObject,
                                                                  "an object", path,
                                                                  key_path + ".pattern"));
    const bool is_regex = pattern->contains("Regex");
    const char* pattern_key = is_regex ? "Regex" : "String";
    ASSIGN_OR_RETURN(const json* text,
                     tokenizer_json::Require(*pattern, pattern_key, kString, "a string", path,
                                             absl::StrCat(key_path, ".pattern.", pattern_key)));
    absl::StatusOr<std::shared_ptr<const Regex>> regex =
        Regex::Compile(text->get<std::string>(), /*literal=*/!is_regex);
    if (!regex.ok()) {
      return KeyError(path, absl::StrCat(key_path, ".pattern.", pattern_key),
                      regex.status().message());
    }
    step.regex = *std::move(regex);
    ASSIGN_OR_RETURN(step.invert, OptionalBool(node, "invert", false, path, key_path + ".invert"));
    const std::string behavior = node.value("behavior", std::string("Isolated"));
    if (behavior == "Isolated") {
      step.behavior = SplitBehavior::kIsolated;
    } else if (behavior == "Removed") {
      step.behavior = SplitBehavior::kRemoved;
    } else {
      return KeyError(path, key_path + ".behavior",
                      absl::StrCat("is \"", behavior,
                                   "\", but only \"Isolated\" and \"Removed\" are supported"));
    }
    steps->push_back(std::move(step));
    return absl::OkStatus();
  }
  return KeyError(path, key_path + ".type",
                  absl::StrCat("is \"", type, "\", but only ByteLevel, Split and Sequence "
                               "pre-tokenizers are supported"));
}

absl::StatusOr<std::vector<AddedToken>> ReadAddedTokens(const json& root,
                                                        const std::string& path) {
  std::vector<AddedToken> tokens;
  const auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return tokens;
  if (!it->is_array()) {
    return KeyError(path, "added_tokens", absl::StrCat("must be an array, got ", TypeName(*it)));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& entry = (*it)[i];
    const std::string key = absl::StrCat("added_tokens[", i, "]");
    if (!entry.is_object()) return KeyError(path, key, "must be an object");
    AddedToken token;
    ASSIGN_OR_RETURN(const json* id, tokenizer_json::Require(entry, "id", kInteger,
                                                             "an integer", path, key + ".id"));
    if (id->get<int64_t>() < 0 || id->get<int64_t>() > INT32_MAX) {
      return KeyError(path, key + ".id", "must be a non-negative id");
    }
    token.id = static_cast<int32_t>(id->get<int64_t>());
    ASSIGN_OR_RETURN(const json* content, tokenizer_json::Require(entry, "content", kString,
                                                                  "a string", path,
                                                                  key + ".content"));
    token.content = content->get<std::string>();
    if (token.content.empty()) return KeyError(path, key + ".content", "must not be empty");
    ASSIGN_OR_RETURN(token.special, OptionalBool(entry, "special", false, path, key + ".special"));
    ASSIGN_OR_RETURN(token.lstrip, OptionalBool(entry, "lstrip", false, path, key + ".lstrip"));
    ASSIGN_OR_RETURN(token.rstrip, OptionalBool(entry, "rstrip", false, path, key + ".rstrip"));
    ASSIGN_OR_RETURN(token.single_word,
                     OptionalBool(entry, "single_word", false, path, key + ".single_word"));
    ASSIGN_OR_RETURN(token.normalized, OptionalBool(entry, "normalized", !token.special, path,
                                                    key + ".normalized"));
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// A token named in tokenizer_config.json: a string, an AddedToken object with "content",
// or null.
absl::StatusOr<std::optional<std::string>> ConfigToken(const json& config, const char* key,
                                                       const std::string& path) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return std::optional<std::string>((*it)["content"].get<std::string>());
  }
  return KeyError(path, key, "must be a string, an object with a string \"content\", or null");
}

// Reads the special-token names and the added_tokens_decoder of tokenizer_config.json.
absl::Status ReadTokenizerConfig(const std::string& dir, std::vector<AddedToken>* added,
                                 std::optional<std::string>* bos, std::optional<std::string>* eos,
                                 std::optional<std::string>* pad) {
  const std::string path = dir + "/tokenizer_config.json";
  if (!std::filesystem::exists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(json config, tokenizer_json::ReadFile(path));
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON object"));
  }
  ASSIGN_OR_RETURN(*bos, ConfigToken(config, "bos_token", path));
  ASSIGN_OR_RETURN(*eos, ConfigToken(config, "eos_token", path));
  ASSIGN_OR_RETURN(*pad, ConfigToken(config, "pad_token", path));

  // transformers adds the tokens of added_tokens_decoder that tokenizer.json lacks.
  const auto decoder = config.find("added_tokens_decoder");
  if (decoder == config.end() || decoder->is_null()) return absl::OkStatus();
  if (!decoder->is_object()) return KeyError(path, "added_tokens_decoder", "must be an object");
  absl::flat_hash_set<int32_t> known;
  for (const AddedToken& token : *added) known.insert(token.id);
  for (const auto& [id_text, entry] : decoder->items()) {
    const std::string key = absl::StrCat("added_tokens_decoder[\"", id_text, "\"]");
    int32_t id = 0;
    if (id_text.empty() || id_text.size() > 9 ||
        id_text.find_first_not_of("0123456789") != std::string::npos) {
      return KeyError(path, key, "must be keyed by a non-negative integer id");
    }
    id = std::stoi(id_text);
    if (known.contains(id)) continue;
    ASSIGN_OR_RETURN(const json* content, tokenizer_json::Require(entry, "content", kString,
                                                                  "a string", path,
                                                                  key + ".content"));
    AddedToken token;
    token.id = id;
    token.content = content->get<std::string>();
    if (token.content.empty()) return KeyError(path, key + ".content", "must not be empty");
    token.special = entry.value("special", false);
    token.lstrip = entry.value("lstrip", false);
    token.rstrip = entry.value("rstrip", false);
    token.single_word = entry.value("single_word", false);
    token.normalized = entry.value("normalized", !token.special);
    added->push_back(std::move(token));
  }
  return absl::OkStatus();
}

// Reads generation_config.json's bos/eos/pad ids; "eos_token_id" may be one id or a list.
absl::Status ReadGenerationConfig(const std::string& dir, std::optional<int32_t>* bos,
                                  std::vector<int32_t>* eos, std::optional<int32_t>* pad) {
  const std::string path = dir + "/generation_config.json";
  if (!std::filesystem::exists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(json config, tokenizer_json::ReadFile(path));
  if (!config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON object"));
  }
  auto read_id = [&](const json& value, const std::string& key) -> absl::StatusOr<int32_t> {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > INT32_MAX) {
      return KeyError(path, key, absl::StrCat("must be a non-negative integer id, got ",
                                              value.dump()));
    }
    return static_cast<int32_t>(value.get<int64_t>());
  };
  if (config.contains("bos_token_id") && !config["bos_token_id"].is_null()) {
    ASSIGN_OR_RETURN(*bos, read_id(config["bos_token_id"], "bos_token_id"));
  }
  if (config.contains("pad_token_id") && !config["pad_token_id"].is_null()) {
    ASSIGN_OR_RETURN(*pad, read_id(config["pad_token_id"], "pad_token_id"));
  }
  const auto it = config.find("eos_token_id");
  if (it == config.end() || it->is_null()) return absl::OkStatus();
  if (it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      ASSIGN_OR_RETURN(int32_t id, read_id((*it)[i], absl::StrCat("eos_token_id[", i, "]")));
      eos->push_back(id);
    }
  } else {
    ASSIGN_OR_RETURN(int32_t id, read_id(*it, "eos_token_id"));
    eos->push_back(id);
  }
  return absl::OkStatus();
}

// Resolves the special tokens named in the config files to ids. The config's eos_token comes
// first in eos_ids, then generation_config's ids.
absl::StatusOr<SpecialTokens> ResolveSpecialTokens(const std::string& dir,
                                                   const BpeTokenizer& tokenizer,
                                                   std::optional<std::string> bos_name,
                                                   std::optional<std::string> eos_name,
                                                   std::optional<std::string> pad_name) {
  const std::string config_path = dir + "/tokenizer_config.json";
  auto lookup = [&](const std::string& name, const char* key) -> absl::StatusOr<int32_t> {
    std::optional<int32_t> id = tokenizer.TokenToId(name);
    if (!id) {
      return KeyError(config_path, key,
                      absl::StrCat("names \"", name, "\", which is not a token of tokenizer.json"));
    }
    return *id;
  };
  SpecialTokens special;
  if (bos_name) {
    ASSIGN_OR_RETURN(special.bos_id, lookup(*bos_name, "bos_token"));
  }
  if (eos_name) {
    ASSIGN_OR_RETURN(int32_t id, lookup(*eos_name, "eos_token"));
    special.eos_ids.push_back(id);
  }
  if (pad_name) {
    ASSIGN_OR_RETURN(special.pad_id, lookup(*pad_name, "pad_token"));
  }

  std::optional<int32_t> bos_id;
  std::optional<int32_t> pad_id;
  std::vector<int32_t> eos_ids;
  RETURN_IF_ERROR(ReadGenerationConfig(dir, &bos_id, &eos_ids, &pad_id));
  const std::string generation_path = dir + "/generation_config.json";
  auto check = [&](int32_t id, const char* key) -> absl::Status {
    if (!tokenizer.IdToToken(id)) {
      return KeyError(generation_path, key,
                      absl::StrCat("is ", id, ", which is not a token id of tokenizer.json"));
    }
    return absl::OkStatus();
  };
  if (bos_id && !special.bos_id) {
    RETURN_IF_ERROR(check(*bos_id, "bos_token_id"));
    special.bos_id = bos_id;
  }
  if (pad_id && !special.pad_id) {
    RETURN_IF_ERROR(check(*pad_id, "pad_token_id"));
    special.pad_id = pad_id;
  }
  for (int32_t id : eos_ids) {
    RETURN_IF_ERROR(check(id, "eos_token_id"));
    if (std::find(special.eos_ids.begin(), special.eos_ids.end(), id) == special.eos_ids.end()) {
      special.eos_ids.push_back(id);
    }
  }
  return special;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadBpeTokenizer(const std::string& model_dir) {
  const std::string path = model_dir + "/tokenizer.json";
  ASSIGN_OR_RETURN(json root, tokenizer_json::ReadFile(path));
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object, got ", TypeName(root)));
  }
  ASSIGN_OR_RETURN(BpeModel model, ReadModel(root, path));

  Normalizer normalizer;
  if (root.contains("normalizer")) {
    RETURN_IF_ERROR(ReadNormalizer(root["normalizer"], path, "normalizer", &normalizer));
  }
  std::vector<PreTokenizerStep> steps;
  if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null()) {
    RETURN_IF_ERROR(ReadPreTokenizer(root["pre_tokenizer"], path, "pre_tokenizer", &steps));
  }
  const bool byte_level = std::any_of(steps.begin(), steps.end(), [](const auto& step) {
    return step.kind == PreTokenizerStep::Kind::kByteLevel;
  });
  if (!byte_level) {
    return KeyError(path, "pre_tokenizer",
                    "has no ByteLevel step, but only byte-level BPE is supported");
  }
  if (const auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
    if (!it->is_object() || it->value("type", std::string()) != "ByteLevel") {
      return KeyError(path, "decoder",
                      absl::StrCat("is ", it->dump().substr(0, 80),
                                   ", but only the ByteLevel decoder is supported"));
    }
  }
  ASSIGN_OR_RETURN(std::vector<AddedToken> added, ReadAddedTokens(root, path));

  std::optional<std::string> bos_name;
  std::optional<std::string> eos_name;
  std::optional<std::string> pad_name;
  RETURN_IF_ERROR(ReadTokenizerConfig(model_dir, &added, &bos_name, &eos_name, &pad_name));
  RETURN_IF_ERROR(CheckAddedTokenIds(added, model, path));

  auto tokenizer = std::make_unique<BpeTokenizer>(BpeTokenizerParts{
      std::move(normalizer), std::move(steps), std::move(model), std::move(added), {}});
  ASSIGN_OR_RETURN(SpecialTokens special,
                   ResolveSpecialTokens(model_dir, *tokenizer, bos_name, eos_name, pad_name));
  tokenizer->special_tokens_ = std::move(special);
  return tokenizer;
}

}  // namespace aha
