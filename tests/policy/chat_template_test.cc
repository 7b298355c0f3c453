// Tests the chat template renderers on exact strings, including ChatML conversations that
// scripts/make_tokenizer_fixtures.py rendered with Qwen3's own Jinja template.
#include "policy/chat_template.h"

#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace aha {
namespace {

ChatTemplate Make(const std::string& name, const std::string& text = "") {
  absl::StatusOr<ChatTemplate> chat = MakeChatTemplate(name, text);
  EXPECT_TRUE(chat.ok()) << chat.status();
  return chat.ok() ? *chat : ChatTemplate{};
}

std::string Render(const ChatTemplate& chat, const std::vector<ChatMessage>& messages,
                   bool add_generation_prompt) {
  absl::StatusOr<std::string> text = RenderChat(chat, messages, add_generation_prompt);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

TEST(ChatTemplateTest, ChatMlExactString) {
  const std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "2+2?"}};
  EXPECT_EQ(Render(Make("chatml"), messages, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(Render(Make("chatml"), messages, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n");
}

TEST(ChatTemplateTest, ChatMlMatchesQwen3Jinja) {
  std::ifstream in(std::string(AHA_SOURCE_DIR) + "/tests/fixtures/tokenizer/chatml.jsonl");
  ASSERT_TRUE(in.good());
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    const nlohmann::json row = nlohmann::json::parse(line);
    std::vector<ChatMessage> messages;
    for (const auto& message : row["messages"]) {
      messages.push_back({message["role"], message["content"]});
    }
    EXPECT_EQ(Render(Make("chatml"), messages, row["add_generation_prompt"]),
              row["text"].get<std::string>());
    ++count;
  }
  EXPECT_EQ(count, 4);
}

TEST(ChatTemplateTest, Llama3ExactString) {
  const std::vector<ChatMessage> messages = {{"system", " Be brief.\n"},
                                             {"user", "2+2?"},
                                             {"assistant", "4"},
                                             {"user", "And 3+3?"}};
  EXPECT_EQ(Render(Make("llama3"), messages, true),
            "<|begin_of_text|>"
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, R1ZeroStylePlainTemplate) {
  const ChatTemplate chat = Make("plain", "A conversation between User and Assistant. ... "
                                          "User: {prompt}. Assistant:");
  EXPECT_EQ(Render(chat, {{"user", "What is 2+2?"}}, true),
            "A conversation between User and Assistant. ... User: What is 2+2?. Assistant:");
}

TEST(ChatTemplateTest, PlainTemplatePlaceholdersAndBraces) {
  const ChatTemplate chat = Make("plain", "[{system}] {{x}} Q: {prompt}\nA:");
  EXPECT_EQ(Render(chat, {{"system", "S"}, {"user", "P"}}, true), "[S] {x} Q: P\nA:");
  EXPECT_EQ(Render(chat, {{"user", "P"}}, false), "[] {x} Q: P\nA:");
}

TEST(ChatTemplateTest, PlainTemplateErrors) {
  EXPECT_FALSE(MakeChatTemplate("plain", "no placeholder").ok());
  EXPECT_FALSE(MakeChatTemplate("plain", "{prompt} {answer}").ok());
  EXPECT_FALSE(MakeChatTemplate("plain", "{prompt").ok());
  EXPECT_FALSE(MakeChatTemplate("plain", "{prompt} }").ok());
  EXPECT_FALSE(MakeChatTemplate("chatml", "{prompt}").ok());
  EXPECT_FALSE(MakeChatTemplate("jinja").ok());
  const ChatTemplate chat = Make("plain", "Q: {prompt}");
  EXPECT_FALSE(RenderChat(chat, {{"user", "a"}, {"assistant", "b"}}, true).ok());
  EXPECT_FALSE(RenderChat(chat, {{"system", "a"}}, true).ok());
}

TEST(ChatTemplateTest, RejectsUnknownRoleAndEmptyChat) {
  const absl::StatusOr<std::string> text = RenderChat(Make("chatml"), {{"robot", "x"}}, true);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("robot"), absl::string_view::npos);
  EXPECT_FALSE(RenderChat(Make("chatml"), {}, true).ok());
}

TEST(ChatTemplateTest, FromYamlNameOrMap) {
  absl::StatusOr<ChatTemplate> by_name = ChatTemplateFromYaml(YAML::Load("llama3"), "chat");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->kind, ChatTemplateKind::kLlama3);

  absl::StatusOr<ChatTemplate> plain =
      ChatTemplateFromYaml(YAML::Load("{name: plain, template: 'Q: {prompt} A:'}"), "chat");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->text, "Q: {prompt} A:");

  absl::StatusOr<ChatTemplate> implied =
      ChatTemplateFromYaml(YAML::Load("{template: 'Q: {prompt}'}"), "chat");
  ASSERT_TRUE(implied.ok()) << implied.status();
  EXPECT_EQ(implied->kind, ChatTemplateKind::kPlain);
}

TEST(ChatTemplateTest, FromYamlErrorsNameTheKey) {
  const absl::StatusOr<ChatTemplate> unknown =
      ChatTemplateFromYaml(YAML::Load("{name: chatml, text: x}"), "policy.chat_template");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("policy.chat_template.text"),
            absl::string_view::npos);
  const absl::StatusOr<ChatTemplate> bad_name =
      ChatTemplateFromYaml(YAML::Load("vicuna"), "policy.chat_template");
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.status().message().find("policy.chat_template: unknown chat template"),
            absl::string_view::npos);
  EXPECT_FALSE(ChatTemplateFromYaml(YAML::Load("[a, b]"), "x").ok());
}

}  // namespace
}  // namespace aha
