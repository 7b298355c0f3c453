// Tests for the character-level tokenizer: greedy multi-character matching, unknown
// characters, vocab.json round trips and load errors.
#include "policy/char_tokenizer.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace aha {
namespace {

std::string TempDir(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("aha_char_tokenizer_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

CharTokenizer MakeTokenizer() {
  absl::StatusOr<CharTokenizer> tokenizer = CharTokenizer::FromAlphabet(
      {"<|endoftext|>", "<think>", "</think>", "<th"}, "abcdehiknt <>/é中😀",
      {"<think>", "</think>", "<th"});
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

TEST(CharTokenizerTest, IdsFollowAddedTokensThenAlphabet) {
  const CharTokenizer tokenizer = MakeTokenizer();
  EXPECT_EQ(tokenizer.TokenToId("<|endoftext|>"), 0);
  EXPECT_EQ(tokenizer.TokenToId("<think>"), 1);
  EXPECT_EQ(tokenizer.TokenToId("<unk>"), 4);
  EXPECT_EQ(tokenizer.TokenToId("a"), 5);
  EXPECT_EQ(tokenizer.TokenToId("😀"), tokenizer.VocabSize() - 1);
  EXPECT_EQ(tokenizer.special_tokens().eos_ids, std::vector<int32_t>{0});
  EXPECT_EQ(tokenizer.special_tokens().pad_id, 0);
  EXPECT_FALSE(tokenizer.special_tokens().bos_id.has_value());
}

TEST(CharTokenizerTest, LongestMultiCharacterTokenWins) {
  const CharTokenizer tokenizer = MakeTokenizer();
  const int32_t think = *tokenizer.TokenToId("<think>");
  const int32_t th = *tokenizer.TokenToId("<th");
  const int32_t close = *tokenizer.TokenToId("</think>");
  const int32_t a = *tokenizer.TokenToId("a");
  const int32_t i = *tokenizer.TokenToId("i");
  EXPECT_EQ(tokenizer.Encode("<think>a</think>"), (std::vector<int32_t>{think, a, close}));
  // "<thi" has no "<think>" match, so the shorter "<th" wins, then single characters.
  EXPECT_EQ(tokenizer.Encode("<thia"), (std::vector<int32_t>{th, i, a}));
}

TEST(CharTokenizerTest, MultiByteCharactersAreOneId) {
  const CharTokenizer tokenizer = MakeTokenizer();
  const std::vector<int32_t> ids = tokenizer.Encode("é中😀");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(tokenizer.Decode(ids), "é中😀");
}

TEST(CharTokenizerTest, UnknownCharactersMapToUnk) {
  const CharTokenizer tokenizer = MakeTokenizer();
  const int32_t unk = *tokenizer.TokenToId("<unk>");
  const int32_t a = *tokenizer.TokenToId("a");
  EXPECT_EQ(tokenizer.Encode("aZ文a"), (std::vector<int32_t>{a, unk, unk, a}));
  // Each invalid UTF-8 byte is one unknown character.
  EXPECT_EQ(tokenizer.Encode("a\xff\xfe"), (std::vector<int32_t>{a, unk, unk}));
}

TEST(CharTokenizerTest, DecodeIsExactForVocabularyText) {
  const CharTokenizer tokenizer = MakeTokenizer();
  const std::string text = "<think>he<th ate</think> a cat <|endoftext|>";
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode(text)), text);
}

TEST(CharTokenizerTest, SkipSpecialDropsOnlySpecialTokens) {
  const CharTokenizer tokenizer = MakeTokenizer();
  const std::vector<int32_t> ids = tokenizer.Encode("<think>a</think>Z<|endoftext|>");
  EXPECT_EQ(tokenizer.Decode(ids, /*skip_special=*/true), "<think>a</think>");
  EXPECT_TRUE(tokenizer.IsSpecial(*tokenizer.TokenToId("<unk>")));
  EXPECT_FALSE(tokenizer.IsSpecial(*tokenizer.TokenToId("<think>")));
}

TEST(CharTokenizerTest, OutOfRangeIdsDecodeToNothing) {
  const CharTokenizer tokenizer = MakeTokenizer();
  const int32_t a = *tokenizer.TokenToId("a");
  EXPECT_EQ(tokenizer.Decode({-1, a, tokenizer.VocabSize(), a}), "aa");
  EXPECT_FALSE(tokenizer.IdToToken(tokenizer.VocabSize()).has_value());
}

TEST(CharTokenizerTest, FromCorpusSortsCodePoints) {
  absl::StatusOr<CharTokenizer> tokenizer =
      CharTokenizer::FromCorpus({"<eos>"}, {"cab", "bca", "ä"});
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->spec().tokens,
            (std::vector<std::string>{"<eos>", "<unk>", "a", "b", "c", "ä"}));
}

TEST(CharTokenizerTest, SaveThenLoadKeepsEverything) {
  const CharTokenizer tokenizer = MakeTokenizer();
  const std::string dir = TempDir("save");
  ASSERT_TRUE(tokenizer.Save(dir).ok());
  absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = LoadTokenizer(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->VocabSize(), tokenizer.VocabSize());
  const std::string text = "<think>tea</think>中 Z";
  EXPECT_EQ((*loaded)->Encode(text), tokenizer.Encode(text));
  EXPECT_EQ((*loaded)->special_tokens().eos_ids, tokenizer.special_tokens().eos_ids);
  EXPECT_EQ((*loaded)->special_tokens().pad_id, tokenizer.special_tokens().pad_id);
  EXPECT_EQ((*loaded)->IsSpecial(1), tokenizer.IsSpecial(1));
}

TEST(CharTokenizerTest, LoadReadsDocumentedFormat) {
  const std::string dir = TempDir("format");
  WriteText(dir + "/vocab.json",
            R"({"type": "char", "tokens": ["<s>", "</s>", "<unk>", "x", "y"],
                "bos": "<s>", "eos": "</s>", "pad": null, "unk": "<unk>"})");
  absl::StatusOr<CharTokenizer> tokenizer = CharTokenizer::Load(dir + "/vocab.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->special_tokens().bos_id, 0);
  EXPECT_EQ(tokenizer->special_tokens().eos_ids, std::vector<int32_t>{1});
  EXPECT_FALSE(tokenizer->special_tokens().pad_id.has_value());
  EXPECT_EQ(tokenizer->Encode("<s>xyz</s>"), (std::vector<int32_t>{0, 3, 4, 2, 1}));
}

struct BadVocabCase {
  const char* json;
  const char* expected_message;  // a substring of the error
};

TEST(CharTokenizerTest, LoadRejectsBadFiles) {
  const std::string dir = TempDir("bad");
  const std::string path = dir + "/vocab.json";
  const BadVocabCase cases[] = {
      {R"({"type": "char", "tokens": ["a")", "invalid JSON"},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"tokens": ["a"], "unk": "a"})", "key \"type\" is missing"},
      {R"({"type": "bpe", "tokens": ["a"], "unk": "a"})", "key \"type\" must be \"char\""},
      {R"({"type": "char", "unk": "a"})", "key \"tokens\" is missing"},
      {R"({"type": "char", "tokens": "ab", "unk": "a"})", "key \"tokens\" must be an array"},
      {R"({"type": "char", "tokens": ["a", 3], "unk": "a"})", "key \"tokens[1]\" must be a string"},
      {R"({"type": "char", "tokens": ["a"]})", "key \"unk\" is missing"},
      {R"({"type": "char", "tokens": ["a", "a"], "unk": "a"})", "appears twice"},
      {R"({"type": "char", "tokens": ["a", ""], "unk": "a"})", "token 1 is empty"},
      {R"({"type": "char", "tokens": ["a"], "unk": "<unk>"})", "unk token \"<unk>\" is not"},
      {R"({"type": "char", "tokens": ["a"], "unk": "a", "eos": ["b"]})", "eos token \"b\""},
      {R"({"type": "char", "tokens": ["a"], "unk": "a", "pad": 1})", "key \"pad\" must be"},
  };
  for (const BadVocabCase& c : cases) {
    WriteText(path, c.json);
    absl::StatusOr<CharTokenizer> tokenizer = CharTokenizer::Load(path);
    ASSERT_FALSE(tokenizer.ok()) << c.json;
    const std::string message(tokenizer.status().message());
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected_message), std::string::npos) << message;
  }
}

TEST(CharTokenizerTest, LoadTokenizerWithoutFilesIsNotFound) {
  const std::string dir = TempDir("empty");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(tokenizer.status().message().find("tokenizer.json"), absl::string_view::npos);
}

}  // namespace
}  // namespace aha
