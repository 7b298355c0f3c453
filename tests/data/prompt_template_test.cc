// Tests the built-in templates' exact text, placeholders and errors.
#include "data/prompt_template.h"

#include <gtest/gtest.h>

#include "data/countdown.h"

namespace aha::data {
namespace {

TEST(PromptTemplateTest, R1ZeroExactText) {
  absl::StatusOr<PromptTemplate> t = PromptTemplate::Named("r1-zero");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<std::string> text = t->Render("What is 2 + 3", nlohmann::json::object());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text,
            "A conversation between User and Assistant. The user asks a question, and the "
            "Assistant solves it. The assistant first thinks about the reasoning process in the "
            "mind and then provides the user with the answer. The reasoning process and answer "
            "are enclosed within <think> </think> and <answer> </answer> tags, respectively, "
            "i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
            "User: What is 2 + 3. Assistant:");
}

TEST(PromptTemplateTest, TinyZeroCountdownExactText) {
  absl::StatusOr<PromptTemplate> t = PromptTemplate::Named("tinyzero-countdown");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<std::string> text = t->Render(MakeCountdownExample(0, {{44, 19, 35}, 98}));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "A conversation between User and Assistant. The user asks a question, and the "
            "Assistant solves it. The assistant first thinks about the reasoning process in the "
            "mind and then provides the user with the answer.\nUser: Using the numbers "
            "[44, 19, 35], create an equation that equals 98. You can use basic arithmetic "
            "operations (+, -, *, /) and each number can only be used once. Show your work in "
            "<think> </think> tags. And return the final answer in <answer> </answer> tags, for "
            "example <answer> (1 + 2) / 3 </answer>.\nAssistant: Let me solve this step by "
            "step.\n<think>");
}

TEST(PromptTemplateTest, CountdownShortFitsTinyContext) {
  absl::StatusOr<PromptTemplate> t = PromptTemplate::Named("countdown-short");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<std::string> text = t->Render(MakeCountdownExample(0, {{100, 99, 98, 97}, 100}));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text,
            "User: Using the numbers [100, 99, 98, 97], make 100 with + - * /, each number "
            "once.\nAssistant: <think>");
  EXPECT_EQ(text->size(), 102u);  // four 3-digit numbers, the maximum for default ranges
}

TEST(PromptTemplateTest, InlineFieldsAndEscapes) {
  absl::StatusOr<PromptTemplate> t =
      PromptTemplate::Resolve("Q{{{level}}}: {prompt} ({subject}) {tags} {score}");
  ASSERT_TRUE(t.ok()) << t.status();
  nlohmann::json fields = {{"level", 2}, {"subject", "Algebra"}, {"tags", {"a", "b"}},
                           {"score", 0.5}};
  absl::StatusOr<std::string> text = t->Render("Solve x", fields);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "Q{2}: Solve x (Algebra) [\"a\", \"b\"] 0.5");
  EXPECT_EQ(t->Placeholders(),
            (std::vector<std::string>{"level", "prompt", "subject", "tags", "score"}));
}

TEST(PromptTemplateTest, UnknownPlaceholderNamed) {
  absl::StatusOr<PromptTemplate> t = PromptTemplate::Parse("{prompt} {difficulty}");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<std::string> text = t->Render("x", {{"level", 1}});
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("{difficulty}"), std::string::npos);
  EXPECT_NE(text.status().message().find("level"), std::string::npos);
}

TEST(PromptTemplateTest, MalformedTemplatesRejected) {
  for (const char* bad : {"{prompt", "prompt}", "{}", "{a{b}}"}) {
    EXPECT_FALSE(PromptTemplate::Parse(bad).ok()) << bad;
  }
}

TEST(PromptTemplateTest, UnknownNameListsKnownNames) {
  absl::StatusOr<PromptTemplate> t = PromptTemplate::Resolve("r1zero");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("r1-zero"), std::string::npos);
  EXPECT_EQ(TemplateNames().size(), 4u);
}

TEST(PromptTemplateTest, PlainIsPrompt) {
  absl::StatusOr<PromptTemplate> t = PromptTemplate::Named("plain");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t->Render("hello", nlohmann::json::object()), "hello");
}

}  // namespace
}  // namespace aha::data
