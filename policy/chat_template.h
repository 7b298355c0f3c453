// Chat templates: named built-in renderers that turn a list of chat messages into the prompt
// text a model was trained on. Jinja templates from tokenizer_config.json are not run; the
// renderers below reproduce the families' templates for plain text messages.
//
//   chat_template:            # YAML: a name, or a name and a template string
//     name: plain
//     template: "User: {prompt}\nAssistant:"
//
//   ASSIGN_OR_RETURN(ChatTemplate chat, ChatTemplateFromYaml(config["chat_template"],
//                                                            "chat_template"));
//   ASSIGN_OR_RETURN(std::string prompt, RenderChat(chat, {{"user", "2+2?"}}, true));
#ifndef AHA_POLICY_CHAT_TEMPLATE_H_
#define AHA_POLICY_CHAT_TEMPLATE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "yaml-cpp/yaml.h"

namespace aha {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" or "tool"
  std::string content;
};

enum class ChatTemplateKind {
  // ChatML as Qwen2.5 and Qwen3 use it, without a default system message:
  //   <|im_start|>{role}\n{content}<|im_end|>\n ... then <|im_start|>assistant\n
  kChatMl,
  // Llama 3 (3.0): <|begin_of_text|> once, then per message
  //   <|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|>
  // and <|start_header_id|>assistant<|end_header_id|>\n\n as the generation prompt.
  kLlama3,
  // A single-turn text template with placeholders {prompt} (the user message) and {system}
  // (the system message, or empty); {{ and }} write literal braces.
  kPlain,
};

struct ChatTemplate {
  ChatTemplateKind kind = ChatTemplateKind::kChatMl;
  std::string name;
  std::string text;  // kPlain only
};

// Makes a template by name: "chatml", "llama3", or "plain" with `text` (which must contain
// {prompt}), such as data::kR1ZeroTemplate. `text` must be empty for the other names.
absl::StatusOr<ChatTemplate> MakeChatTemplate(std::string_view name, std::string_view text = "");

// Reads a template from YAML: a scalar name, or a map with "name" and an optional
// "template" (a map with only "template" means "plain"). Errors name `key_path`.
absl::StatusOr<ChatTemplate> ChatTemplateFromYaml(const YAML::Node& node,
                                                  std::string_view key_path);

// Renders `messages`. With `add_generation_prompt`, appends the header that starts the
// assistant's turn (plain templates already end where the model starts writing, so the flag
// changes nothing for them). Errors on an unknown role, on no messages, and, for plain
// templates, on anything but one optional system message followed by one user message.
absl::StatusOr<std::string> RenderChat(const ChatTemplate& chat_template,
                                       absl::Span<const ChatMessage> messages,
                                       bool add_generation_prompt);

}  // namespace aha

#endif  // AHA_POLICY_CHAT_TEMPLATE_H_
