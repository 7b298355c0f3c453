// The character-level tokenizer of the tiny built-in models.
#include "policy/char_tokenizer.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "policy/tokenizer_json.h"
#include "base/utf8.h"

namespace aha {
namespace {

using nlohmann::json;

bool IsSingleCodePoint(std::string_view token) {
  char32_t code_point;
  return !token.empty() && utf8::DecodeAt(token, 0, &code_point) == token.size();
}

// Reads an optional "bos"/"pad" entry: absent or null is nullopt.
absl::StatusOr<std::optional<std::string>> OptionalString(const json& root, const char* key,
                                                          const std::string& path) {
  const auto it = root.find(key);
  if (it == root.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return tokenizer_json::KeyError(
        path, key, absl::StrCat("must be a string or null, got ", tokenizer_json::TypeName(*it)));
  }
  return std::optional<std::string>(it->get<std::string>());
}

absl::StatusOr<std::vector<std::string>> StringList(const json& value, const std::string& path,
                                                    const char* key) {
  if (!value.is_array()) {
    return tokenizer_json::KeyError(
        path, key,
        absl::StrCat("must be an array of strings, got ", tokenizer_json::TypeName(value)));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string()) {
      return tokenizer_json::KeyError(
          path, absl::StrCat(key, "[", i, "]"),
          absl::StrCat("must be a string, got ", tokenizer_json::TypeName(value[i])));
    }
    out.push_back(value[i].get<std::string>());
  }
  return out;
}

}  // namespace

absl::StatusOr<CharTokenizer> CharTokenizer::Create(CharVocabSpec spec) {
  CharTokenizer tokenizer;
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    const std::string& token = spec.tokens[i];
    if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("token ", i, " is empty"));
    if (!utf8::IsValid(token)) {
      return absl::InvalidArgumentError(absl::StrCat("token ", i, " is not valid UTF-8"));
    }
    if (!tokenizer.ids_.emplace(token, static_cast<int32_t>(i)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("token \"", token, "\" appears twice (ids ", tokenizer.ids_[token],
                       " and ", i, ")"));
    }
  }
  tokenizer.is_special_.assign(spec.tokens.size(), false);

  // Resolves a named token to its id and marks it special.
  auto resolve = [&tokenizer](const std::string& role,
                              const std::string& token) -> absl::StatusOr<int32_t> {
    const auto it = tokenizer.ids_.find(token);
    if (it == tokenizer.ids_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(role, " token \"", token, "\" is not in the vocabulary"));
    }
    tokenizer.is_special_[it->second] = true;
    return it->second;
  };
  ASSIGN_OR_RETURN(tokenizer.unk_id_, resolve("unk", spec.unk));
  tokenizer.special_tokens_.unk_id = tokenizer.unk_id_;
  if (spec.bos) {
    ASSIGN_OR_RETURN(int32_t id, resolve("bos", *spec.bos));
    tokenizer.special_tokens_.bos_id = id;
  }
  if (spec.pad) {
    ASSIGN_OR_RETURN(int32_t id, resolve("pad", *spec.pad));
    tokenizer.special_tokens_.pad_id = id;
  }
  for (const std::string& token : spec.eos) {
    ASSIGN_OR_RETURN(int32_t id, resolve("eos", token));
    tokenizer.special_tokens_.eos_ids.push_back(id);
  }
  for (const std::string& token : spec.special) {
    RETURN_IF_ERROR(resolve("special", token).status());
  }

  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    const std::string& token = spec.tokens[i];
    if (IsSingleCodePoint(token)) continue;
    tokenizer.multi_by_first_byte_[static_cast<unsigned char>(token[0])].push_back(
        static_cast<int32_t>(i));
  }
  for (auto& candidates : tokenizer.multi_by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [&spec](int32_t a, int32_t b) {
      return spec.tokens[a].size() > spec.tokens[b].size();
    });
  }
  tokenizer.spec_ = std::move(spec);
  return tokenizer;
}

absl::StatusOr<CharTokenizer> CharTokenizer::FromAlphabet(
    const std::vector<std::string>& added_tokens, std::string_view alphabet,
    const std::vector<std::string>& non_special) {
  if (added_tokens.empty()) {
    return absl::InvalidArgumentError("a character vocabulary needs at least one added token "
                                      "(the first is the end-of-text token)");
  }
  CharVocabSpec spec;
  spec.tokens = added_tokens;
  if (std::find(added_tokens.begin(), added_tokens.end(), spec.unk) == added_tokens.end()) {
    spec.tokens.push_back(spec.unk);
  }
  std::set<std::string> seen(spec.tokens.begin(), spec.tokens.end());
  char32_t code_point;
  for (size_t pos = 0; pos < alphabet.size();) {
    size_t length = utf8::DecodeAt(alphabet, pos, &code_point);
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the alphabet has an invalid UTF-8 byte at offset ", pos));
    }
    std::string character(alphabet.substr(pos, length));
    if (seen.insert(character).second) spec.tokens.push_back(character);
    pos += length;
  }
  for (const std::string& token : added_tokens) {
    if (std::find(non_special.begin(), non_special.end(), token) == non_special.end()) {
      spec.special.push_back(token);
    }
  }
  spec.eos = {added_tokens[0]};
  spec.pad = added_tokens[0];
  return Create(std::move(spec));
}

absl::StatusOr<CharTokenizer> CharTokenizer::FromCorpus(
    const std::vector<std::string>& added_tokens, const std::vector<std::string>& corpus,
    const std::vector<std::string>& non_special) {
  std::set<char32_t> code_points;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string& text = corpus[i];
    char32_t code_point;
    for (size_t pos = 0; pos < text.size();) {
      size_t length = utf8::DecodeAt(text, pos, &code_point);
      if (length == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "corpus text ", i, " has an invalid UTF-8 byte at offset ", pos));
      }
      code_points.insert(code_point);
      pos += length;
    }
  }
  std::string alphabet;
  for (char32_t code_point : code_points) utf8::Append(code_point, &alphabet);
  return FromAlphabet(added_tokens, alphabet, non_special);
}

absl::StatusOr<CharTokenizer> CharTokenizer::Load(const std::string& path) {
  ASSIGN_OR_RETURN(json root, tokenizer_json::ReadFile(path));
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON object, got ",
                                                   tokenizer_json::TypeName(root)));
  }
  ASSIGN_OR_RETURN(const json* type, tokenizer_json::Require(root, "type", json::value_t::string,
                                                             "a string", path, "type"));
  if (*type != "char") {
    return tokenizer_json::KeyError(path, "type",
                                    absl::StrCat("must be \"char\", got ", type->dump()));
  }
  CharVocabSpec spec;
  ASSIGN_OR_RETURN(const json* tokens, tokenizer_json::Require(root, "tokens",
                                                               json::value_t::array,
                                                               "an array", path, "tokens"));
  ASSIGN_OR_RETURN(spec.tokens, StringList(*tokens, path, "tokens"));
  if (root.contains("special")) {
    ASSIGN_OR_RETURN(spec.special, StringList(root["special"], path, "special"));
  }
  ASSIGN_OR_RETURN(spec.bos, OptionalString(root, "bos", path));
  ASSIGN_OR_RETURN(spec.pad, OptionalString(root, "pad", path));
  ASSIGN_OR_RETURN(const json* unk, tokenizer_json::Require(root, "unk", json::value_t::string,
                                                            "a string", path, "unk"));
  spec.unk = unk->get<std::string>();
  if (root.contains("eos") && !root["eos"].is_null()) {
    if (root["eos"].is_string()) {
      spec.eos = {root["eos"].get<std::string>()};
    } else {
      ASSIGN_OR_RETURN(spec.eos, StringList(root["eos"], path, "eos"));
    }
  }
  absl::StatusOr<CharTokenizer> tokenizer = Create(std::move(spec));
  if (!tokenizer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

absl::Status CharTokenizer::Save(const std::string& dir) const {
  json root;
  root["type"] = "char";
  root["tokens"] = spec_.tokens;
  root["special"] = spec_.special;
  root["bos"] = spec_.bos ? json(*spec_.bos) : json(nullptr);
  root["eos"] = spec_.eos;
  root["pad"] = spec_.pad ? json(*spec_.pad) : json(nullptr);
  root["unk"] = spec_.unk;
  return tokenizer_json::WriteFile(dir + "/vocab.json", root);
}

std::vector<int32_t> CharTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  std::string character;
  for (size_t pos = 0; pos < text.size();) {
    bool matched = false;
    for (int32_t id : multi_by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const std::string& token = spec_.tokens[id];
      if (text.compare(pos, token.size(), token) == 0) {
        ids.push_back(id);
        pos += token.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;

    char32_t code_point;
    const size_t length = utf8::DecodeAt(text, pos, &code_point);
    if (length == 0) {
      ids.push_back(unk_id_);
      ++pos;
      continue;
    }
    character.assign(text.substr(pos, length));
    const auto it = ids_.find(character);
    ids.push_back(it == ids_.end() ? unk_id_ : it->second);
    pos += length;
  }
  return ids;
}

std::string CharTokenizer::DecodeBytes(absl::Span<const int32_t> ids, bool skip_special) const {
  std::string text;
  for (int32_t id : ids) {
    if (id < 0 || id >= VocabSize()) continue;
    if (skip_special && is_special_[id]) continue;
    text += spec_.tokens[id];
  }
  return text;
}

std::optional<int32_t> CharTokenizer::TokenToId(std::string_view token) const {
  const auto it = ids_.find(utf8::ToAbsl(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> CharTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= VocabSize()) return std::nullopt;
  return spec_.tokens[id];
}

bool CharTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < VocabSize() && is_special_[id];
}

}  // namespace aha
