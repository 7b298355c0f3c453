// Built-in prompt templates and the placeholder parser and renderer.
#include "data/prompt_template.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace aha::data {

const char kR1ZeroTemplate[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>. User: {prompt}. Assistant:";

const char kTinyZeroCountdownTemplate[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer.\n"
    "User: Using the numbers {nums}, create an equation that equals {target}. You can use "
    "basic arithmetic operations (+, -, *, /) and each number can only be used once. Show your "
    "work in <think> </think> tags. And return the final answer in <answer> </answer> tags, "
    "for example <answer> (1 + 2) / 3 </answer>.\n"
    "Assistant: Let me solve this step by step.\n"
    "<think>";

const char kCountdownShortTemplate[] =
    "User: Using the numbers {nums}, make {target} with + - * /, each number once.\n"
    "Assistant: <think>";

namespace {

struct NamedTemplate {
  const char* name;
  const char* text;
};

constexpr NamedTemplate kNamedTemplates[] = {
    {"r1-zero", kR1ZeroTemplate},
    {"tinyzero-countdown", kTinyZeroCountdownTemplate},
    {"countdown-short", kCountdownShortTemplate},
    {"plain", "{prompt}"},
};

}  // namespace

absl::StatusOr<PromptTemplate> PromptTemplate::Parse(std::string_view text) {
  PromptTemplate result;
  result.text_ = std::string(text);
  std::string literal;
  auto flush_literal = [&] {
    if (!literal.empty()) result.pieces_.push_back({false, literal});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      literal += '}';
      ++i;
    } else if (c == '{') {
      const size_t close = text.find('}', i + 1);
      const size_t nested = text.find('{', i + 1);
      if (close == std::string_view::npos || (nested != std::string_view::npos && nested < close)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt template: '{' at offset ", i, " has no matching '}'; write '{{' for a "
            "literal brace"));
      }
      std::string name(text.substr(i + 1, close - i - 1));
      if (name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt template: empty placeholder '{}' at offset ", i,
            "; name a field, for example {prompt}"));
      }
      flush_literal();
      result.pieces_.push_back({true, std::move(name)});
      i = close;
    } else if (c == '}') {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt template: '}' at offset ", i, " has no matching '{'; write '}}' for a "
          "literal brace"));
    } else {
      literal += c;
    }
  }
  flush_literal();
  return result;
}

absl::StatusOr<PromptTemplate> PromptTemplate::Named(std::string_view name) {
  for (const NamedTemplate& t : kNamedTemplates) {
    if (name == t.name) return Parse(t.text);
  }
  return absl::NotFoundError(absl::StrCat("unknown prompt template '", std::string(name), "'; known names: ",
                                          absl::StrJoin(TemplateNames(), ", "),
                                          ", or give the template text with {prompt}"));
}

absl::StatusOr<PromptTemplate> PromptTemplate::Resolve(std::string_view name_or_text) {
  if (name_or_text.find('{') != std::string_view::npos) return Parse(name_or_text);
  return Named(name_or_text);
}

absl::StatusOr<std::string> PromptTemplate::Render(std::string_view prompt,
                                                   const nlohmann::json& fields) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    if (!piece.is_placeholder) {
      out += piece.text;
    } else if (piece.text == "prompt") {
      out += prompt;
    } else if (fields.is_object() && fields.contains(piece.text)) {
      out += FormatFieldValue(fields[piece.text]);
    } else {
      std::vector<std::string> keys = {"prompt"};
      if (fields.is_object()) {
        for (const auto& item : fields.items()) keys.push_back(item.key());
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt template: unknown placeholder {", piece.text, "}; this row provides ",
          absl::StrJoin(keys, ", ")));
    }
  }
  return out;
}

std::vector<std::string> PromptTemplate::Placeholders() const {
  std::vector<std::string> names;
  for (const Piece& piece : pieces_) {
    if (piece.is_placeholder) names.push_back(piece.text);
  }
  return names;
}

std::vector<std::string> TemplateNames() {
  std::vector<std::string> names;
  for (const NamedTemplate& t : kNamedTemplates) names.push_back(t.name);
  return names;
}

std::string FormatFieldValue(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::vector<std::string> parts;
    for (const nlohmann::json& item : value) parts.push_back(item.dump());
    return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
  }
  return value.dump();
}

}  // namespace aha::data
