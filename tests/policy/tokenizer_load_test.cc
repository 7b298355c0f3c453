// Tests that a corrupt or malformed tokenizer.json or config file gives an error naming the
// file and the key, and that special ids come from tokenizer_config.json and
// generation_config.json.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "policy/tokenizer.h"

namespace aha {
namespace {

using nlohmann::json;

// A valid byte-level BPE tokenizer.json with the vocabulary {a, b, ab, <eos>}.
json MinimalTokenizer() {
  return json::parse(R"({
    "added_tokens": [{"id": 3, "content": "<eos>", "special": true, "normalized": false}],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
  })");
}

class TokenizerLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("aha_tokenizer_load_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  // Loads and expects an error whose message contains the file name and `expected`.
  void ExpectError(const std::string& file, const std::string& expected) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir_);
    ASSERT_FALSE(tokenizer.ok()) << "expected an error containing: " << expected;
    const std::string message(tokenizer.status().message());
    EXPECT_NE(message.find(dir_ + "/" + file), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
  std::string dir_;
};

TEST_F(TokenizerLoadTest, MinimalTokenizerLoads) {
  Write("tokenizer.json", MinimalTokenizer().dump());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("abab<eos>a"), (std::vector<int32_t>{2, 2, 3, 0}));
  EXPECT_EQ((*tokenizer)->VocabSize(), 4);
  EXPECT_TRUE((*tokenizer)->special_tokens().eos_ids.empty());
}

TEST_F(TokenizerLoadTest, BadJson) {
  Write("tokenizer.json", "{\"model\": {\"vocab\": ");
  ExpectError("tokenizer.json", "invalid JSON");
}

TEST_F(TokenizerLoadTest, MalformedTokenizerJson) {
  struct Mutation {
    const char* pointer;  // JSON pointer to replace or remove
    json value;           // null with `remove` = true removes the key
    bool remove;
    const char* expected;
  };
  const Mutation mutations[] = {
      {"/model", nullptr, true, "key \"model\" is missing"},
      {"/model", "BPE", false, "key \"model\" must be an object, got a string"},
      {"/model/vocab", nullptr, true, "key \"model.vocab\" is missing"},
      {"/model/vocab", json::array(), false, "key \"model.vocab\" must be an object"},
      {"/model/vocab/ab", "2", false, "key \"model.vocab[\"ab\"]\" must be an integer id"},
      {"/model/vocab/ab", 2000000000, false, "(the vocabulary has 3 entries), got 2000000000"},
      {"/model/vocab/ab", 0, false, "has id 0, which"},
      {"/model/merges", nullptr, true, "key \"model.merges\" is missing"},
      {"/model/merges", json::object(), false, "key \"model.merges\" must be an array"},
      {"/model/merges/0", "ab", false, "key \"model.merges[0]\" must be two tokens"},
      {"/model/merges/0", json::array({"a"}), false, "key \"model.merges[0]\" must be"},
      {"/model/merges/0", "a c", false, "not in the vocabulary"},
      {"/model/type", "Unigram", false, "key \"model.type\" is \"Unigram\""},
      {"/model/byte_fallback", true, false, "key \"model.byte_fallback\" is true"},
      {"/model/dropout", 0.1, false, "key \"model.dropout\""},
      {"/normalizer", json{{"type", "Lowercase"}}, false, "key \"normalizer.type\" is"},
      {"/pre_tokenizer", nullptr, false, "key \"pre_tokenizer\" has no ByteLevel step"},
      {"/pre_tokenizer", json{{"type", "Whitespace"}}, false, "key \"pre_tokenizer.type\""},
      {"/pre_tokenizer",
       json::parse(R"({"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"})"),
       false, "key \"pre_tokenizer.pattern.Regex\" invalid regex"},
      {"/pre_tokenizer/use_regex", "yes", false, "key \"pre_tokenizer.use_regex\" must be a boolean"},
      {"/decoder", json{{"type", "Metaspace"}}, false, "only the ByteLevel decoder"},
      {"/added_tokens", json::object(), false, "key \"added_tokens\" must be an array"},
      {"/added_tokens/0/id", 1, false, "which the vocabulary gives to a different token"},
      {"/added_tokens/0/id", 2000000000, false, "far beyond the 3 vocabulary entries"},
      {"/added_tokens/1",
       json::parse(R"({"id": 3, "content": "<other>", "special": true})"), false,
       "both have id 3"},
      {"/added_tokens/0/id", "3", false, "key \"added_tokens[0].id\" must be an integer"},
      {"/added_tokens/0/content", nullptr, true, "key \"added_tokens[0].content\" is missing"},
  };
  for (const Mutation& mutation : mutations) {
    json tokenizer = MinimalTokenizer();
    const json::json_pointer pointer(mutation.pointer);
    if (mutation.remove) {
      tokenizer[pointer.parent_pointer()].erase(pointer.back());
    } else {
      tokenizer[pointer] = mutation.value;
    }
    Write("tokenizer.json", tokenizer.dump());
    SCOPED_TRACE(mutation.pointer);
    ExpectError("tokenizer.json", mutation.expected);
  }
}

TEST_F(TokenizerLoadTest, TopLevelNotAnObject) {
  Write("tokenizer.json", "[1, 2, 3]");
  ExpectError("tokenizer.json", "expected a JSON object, got an array");
}

TEST_F(TokenizerLoadTest, SpecialTokensFromBothConfigs) {
  json tokenizer = MinimalTokenizer();
  tokenizer["added_tokens"].push_back({{"id", 4}, {"content", "<end>"}, {"special", true}});
  Write("tokenizer.json", tokenizer.dump());
  Write("tokenizer_config.json",
        R"({"eos_token": "<eos>", "pad_token": {"content": "<end>"}, "bos_token": null,
            "added_tokens_decoder": {"5": {"content": "<extra>", "special": true}}})");
  Write("generation_config.json", R"({"eos_token_id": [4, 3], "bos_token_id": 0})");
  absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = LoadTokenizer(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const SpecialTokens& special = (*loaded)->special_tokens();
  EXPECT_EQ(special.eos_ids, (std::vector<int32_t>{3, 4}));
  EXPECT_EQ(special.pad_id, 4);
  EXPECT_EQ(special.bos_id, 0);
  // added_tokens_decoder adds the tokens that tokenizer.json lacks.
  EXPECT_EQ((*loaded)->TokenToId("<extra>"), 5);
  EXPECT_EQ((*loaded)->Encode("a<extra>"), (std::vector<int32_t>{0, 5}));
  EXPECT_EQ((*loaded)->VocabSize(), 6);
}

TEST_F(TokenizerLoadTest, SingleEosIdInGenerationConfig) {
  Write("tokenizer.json", MinimalTokenizer().dump());
  Write("generation_config.json", R"({"eos_token_id": 3})");
  absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = LoadTokenizer(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->special_tokens().eos_ids, std::vector<int32_t>{3});
}

TEST_F(TokenizerLoadTest, UnknownEosTokenName) {
  Write("tokenizer.json", MinimalTokenizer().dump());
  Write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  ExpectError("tokenizer_config.json", "key \"eos_token\" names \"</s>\"");
}

TEST_F(TokenizerLoadTest, BadTokenizerConfig) {
  Write("tokenizer.json", MinimalTokenizer().dump());
  Write("tokenizer_config.json", R"({"eos_token": 7})");
  ExpectError("tokenizer_config.json", "key \"eos_token\" must be a string");
  Write("tokenizer_config.json", R"({"added_tokens_decoder": {"x": {"content": "y"}}})");
  ExpectError("tokenizer_config.json", "must be keyed by a non-negative integer id");
  Write("tokenizer_config.json", "not json");
  ExpectError("tokenizer_config.json", "invalid JSON");
}

TEST_F(TokenizerLoadTest, BadGenerationConfig) {
  Write("tokenizer.json", MinimalTokenizer().dump());
  Write("generation_config.json", R"({"eos_token_id": [3, "4"]})");
  ExpectError("generation_config.json", "key \"eos_token_id[1]\" must be a non-negative");
  Write("generation_config.json", R"({"eos_token_id": 99})");
  ExpectError("generation_config.json", "key \"eos_token_id\" is 99");
}

}  // namespace
}  // namespace aha
