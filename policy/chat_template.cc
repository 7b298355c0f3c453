// Chat templates: ChatML, Llama 3 and plain text templates.
#include "policy/chat_template.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"

namespace aha {

namespace {

bool IsKnownRole(std::string_view role) {
  return role == "system" || role == "user" || role == "assistant" || role == "tool";
}

absl::Status CheckRoles(absl::Span<const ChatMessage> messages) {
  if (messages.empty()) return absl::InvalidArgumentError("a chat needs at least one message");
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!IsKnownRole(messages[i].role)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message ", i, " has role \"", messages[i].role,
          "\"; expected system, user, assistant or tool"));
    }
  }
  return absl::OkStatus();
}

// Expands {prompt} and {system} in `text`, and {{ / }} to literal braces. Fails on an unknown
// placeholder, an unmatched brace, or a missing {prompt}.
absl::StatusOr<std::string> ExpandPlain(std::string_view text, std::string_view prompt,
                                        std::string_view system) {
  std::string out;
  bool has_prompt = false;
  for (size_t pos = 0; pos < text.size();) {
    const char c = text[pos];
    if ((c == '{' || c == '}') && pos + 1 < text.size() && text[pos + 1] == c) {
      out.push_back(c);
      pos += 2;
      continue;
    }
    if (c == '}') {
      return absl::InvalidArgumentError(absl::StrCat(
          "the template has an unmatched '}' at offset ", pos, "; write }} for a literal brace"));
    }
    if (c != '{') {
      out.push_back(c);
      ++pos;
      continue;
    }
    const size_t close = text.find('}', pos);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the template has an unclosed '{' at offset ", pos, "; write {{ for a literal brace"));
    }
    const std::string_view name = text.substr(pos + 1, close - pos - 1);
    if (name == "prompt") {
      out.append(prompt);
      has_prompt = true;
    } else if (name == "system") {
      out.append(system);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "the template has an unknown placeholder {", std::string(name),
          "}; the placeholders are {prompt} and {system}"));
    }
    pos = close + 1;
  }
  if (!has_prompt) {
    return absl::InvalidArgumentError("the template has no {prompt} placeholder");
  }
  return out;
}

std::string RenderChatMl(absl::Span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& message : messages) {
    absl::StrAppend(&out, "<|im_start|>", message.role, "\n", message.content, "<|im_end|>\n");
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string RenderLlama3(absl::Span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out = "<|begin_of_text|>";
  for (const ChatMessage& message : messages) {
    // Meta's template trims each message's content.
    absl::StrAppend(&out, "<|start_header_id|>", message.role, "<|end_header_id|>\n\n",
                    absl::StripAsciiWhitespace(message.content), "<|eot_id|>");
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

absl::StatusOr<std::string> RenderPlain(const std::string& text,
                                        absl::Span<const ChatMessage> messages) {
  std::string_view system;
  size_t next = 0;
  if (messages[0].role == "system") {
    system = messages[0].content;
    next = 1;
  }
  if (messages.size() != next + 1 || messages[next].role != "user") {
    return absl::InvalidArgumentError(
        "a plain template renders a single turn: an optional system message, then one user "
        "message");
  }
  return ExpandPlain(text, messages[next].content, system);
}

}  // namespace

absl::StatusOr<ChatTemplate> MakeChatTemplate(std::string_view name, std::string_view text) {
  ChatTemplate result;
  result.name = std::string(name);
  if (name == "plain") {
    result.kind = ChatTemplateKind::kPlain;
    result.text = std::string(text);
    absl::StatusOr<std::string> check = ExpandPlain(text, "", "");
    if (!check.ok()) return check.status();
    return result;
  }
  if (!text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chat template \"", std::string(name), "\" is built in and takes no template string; use name "
        "\"plain\" for a custom template"));
  }
  if (name == "chatml") {
    result.kind = ChatTemplateKind::kChatMl;
  } else if (name == "llama3") {
    result.kind = ChatTemplateKind::kLlama3;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown chat template \"", std::string(name), "\"; expected chatml, llama3 or plain"));
  }
  return result;
}

absl::StatusOr<ChatTemplate> ChatTemplateFromYaml(const YAML::Node& node,
                                                  std::string_view key_path) {
  auto wrap = [&](const absl::Status& status) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(key_path), ": ", status.message()));
  };
  std::string name;
  std::string text;
  if (node.IsScalar()) {
    name = node.Scalar();
  } else if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (key != "name" && key != "template") {
        return absl::InvalidArgumentError(absl::StrCat(
            std::string(key_path), ".", key, ": unknown key; a chat template has \"name\" and \"template\""));
      }
      if (!entry.second.IsScalar()) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(key_path), ".", key, ": must be a string"));
      }
    }
    if (node["template"]) text = node["template"].Scalar();
    name = node["name"] ? node["name"].Scalar() : std::string("plain");
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(key_path), ": must be a template name or a map with \"name\" and \"template\""));
  }
  absl::StatusOr<ChatTemplate> result = MakeChatTemplate(name, text);
  if (!result.ok()) return wrap(result.status());
  return result;
}

absl::StatusOr<std::string> RenderChat(const ChatTemplate& chat_template,
                                       absl::Span<const ChatMessage> messages,
                                       bool add_generation_prompt) {
  if (absl::Status status = CheckRoles(messages); !status.ok()) return status;
  switch (chat_template.kind) {
    case ChatTemplateKind::kChatMl:
      return RenderChatMl(messages, add_generation_prompt);
    case ChatTemplateKind::kLlama3:
      return RenderLlama3(messages, add_generation_prompt);
    case ChatTemplateKind::kPlain:
      return RenderPlain(chat_template.text, messages);
  }
  return absl::InternalError("unhandled chat template kind");
}

}  // namespace aha
