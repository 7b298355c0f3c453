// Tests the JSONL readers on small files and on the shared GSM8K and MATH-500 files.
#include "data/jsonl.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace aha::data {
namespace {

class JsonlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("aha_jsonl_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(JsonlTest, LoadsQuestionsAndAnswers) {
  JsonlOptions o;
  o.path = Write("a.jsonl",
                 "{\"question\": \"1+1?\", \"answer\": \"so 2\\n#### 2\", \"extra\": 5}\n"
                 "\n"
                 "{\"question\": \"2+2?\", \"answer\": \"#### 4 \"}\n");
  o.answer_format = AnswerFormat::kGsm8k;
  absl::StatusOr<std::vector<Example>> ex = LoadJsonlDataset(o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  ASSERT_EQ(ex->size(), 2u);
  EXPECT_EQ((*ex)[0].id, 0);
  EXPECT_EQ((*ex)[1].id, 1);
  EXPECT_EQ((*ex)[0].question, "1+1?");
  EXPECT_EQ((*ex)[0].ground_truth, "2");
  EXPECT_EQ((*ex)[1].ground_truth, "4");
  EXPECT_EQ((*ex)[0].fields["extra"], 5);
}

TEST_F(JsonlTest, BadLinesReportFileAndLine) {
  struct Case {
    std::string second_line;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"{\"question\": \"q\", \"answer\": ", "invalid JSON"},
      {"{\"answer\": \"1\"}", "missing field 'question'"},
      {"{\"question\": 3, \"answer\": \"1\"}", "field 'question' must be a string"},
      {"{\"question\": \"q\", \"answer\": [1]}", "field 'answer' must be a string"},
      {"[1, 2]", "expected a JSON object"},
      {"{\"question\": \"q\", \"answer\": \"  \"}", "the ground truth is empty"},
      {"{\"question\": \"q\", \"answer\": \"1\", \"answer\": \"2\"}",
       "the key \"answer\" appears twice in one object"},
      // Nested objects have keys of their own: the same key inside and outside is fine, twice
      // inside is not.
      {"{\"question\": \"q\", \"answer\": \"1\", \"meta\": {\"id\": 1, \"id\": 2}}",
       "the key \"id\" appears twice"},
      // A Latin-1 "é": the parser's reason is kept.
      {"{\"question\": \"caf\xE9\", \"answer\": \"1\"}", "ill-formed UTF-8 byte"},
  };
  for (const Case& c : cases) {
    JsonlOptions o;
    o.path = Write("bad.jsonl", "{\"question\": \"q\", \"answer\": \"1\"}\n" + c.second_line + "\n");
    absl::StatusOr<std::vector<Example>> ex = LoadJsonlDataset(o);
    ASSERT_FALSE(ex.ok()) << c.second_line;
    const std::string message(ex.status().message());
    EXPECT_NE(message.find(o.path + ":2: "), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
  }
}

TEST_F(JsonlTest, SameKeyInNestedObjectsIsAccepted) {
  JsonlOptions o;
  o.path = Write("nested.jsonl",
                 "{\"question\": \"q\", \"answer\": \"1\", \"meta\": {\"question\": 2},"
                 " \"more\": [{\"id\": 1}, {\"id\": 2}]}\n");
  absl::StatusOr<std::vector<Example>> ex = LoadJsonlDataset(o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ((*ex)[0].question, "q");
}

TEST_F(JsonlTest, InvalidBytesAreEscapedInMessages) {
  JsonlOptions o;
  o.path = Write("latin1.jsonl", "{\"question\": \"caf\xE9\", \"answer\": \"1\"}\n");
  const std::string message(LoadJsonlDataset(o).status().message());
  EXPECT_NE(message.find("ill-formed UTF-8 byte"), std::string::npos) << message;
  EXPECT_EQ(message.find('\xE9'), std::string::npos) << message;
}

TEST_F(JsonlTest, EmptyAndMissingFilesRejected) {
  JsonlOptions o;
  o.path = Write("empty.jsonl", "");
  EXPECT_NE(LoadJsonlDataset(o).status().message().find("no JSONL records"), std::string::npos);
  o.path = Write("blank.jsonl", "\n  \n");
  EXPECT_FALSE(LoadJsonlDataset(o).ok());
  o.path = (dir_ / "absent.jsonl").string();
  EXPECT_EQ(LoadJsonlDataset(o).status().code(), absl::StatusCode::kNotFound);
  o.path = dir_.string();
  EXPECT_NE(LoadJsonlDataset(o).status().message().find("is a folder; give the path of a JSONL"),
            std::string::npos)
      << LoadJsonlDataset(o).status();
}

TEST_F(JsonlTest, Gsm8kMarkerMissingIsError) {
  JsonlOptions o;
  o.path = Write("g.jsonl", "{\"question\": \"q\", \"answer\": \"42\"}\n");
  o.answer_format = AnswerFormat::kGsm8k;
  absl::Status s = LoadJsonlDataset(o).status();
  EXPECT_NE(s.message().find(":1: "), std::string::npos);
  EXPECT_NE(s.message().find("####"), std::string::npos);
}

TEST_F(JsonlTest, BoxedAndNumericAnswers) {
  JsonlOptions o;
  o.path = Write("m.jsonl",
                 "{\"problem\": \"p\", \"solution\": \"so \\\\boxed{1} then \\\\boxed{\\\\frac{1}{2}}.\"}\n");
  o.question_field = "problem";
  o.answer_field = "solution";
  o.answer_format = AnswerFormat::kBoxed;
  absl::StatusOr<std::vector<Example>> ex = LoadJsonlDataset(o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ((*ex)[0].ground_truth, "\\frac{1}{2}");

  JsonlOptions n;
  n.path = Write("n.jsonl", "{\"question\": \"q\", \"answer\": 27.0}\n{\"question\": \"q\", "
                            "\"answer\": 2.5}\n{\"question\": \"q\", \"answer\": 3}\n");
  ex = LoadJsonlDataset(n);
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ((*ex)[0].ground_truth, "27");
  EXPECT_EQ((*ex)[1].ground_truth, "2.5");
  EXPECT_EQ((*ex)[2].ground_truth, "3");
}

TEST_F(JsonlTest, AnswerFormatNames) {
  EXPECT_EQ(*ParseAnswerFormat("gsm8k"), AnswerFormat::kGsm8k);
  EXPECT_EQ(*ParseAnswerFormat("boxed"), AnswerFormat::kBoxed);
  EXPECT_EQ(*ParseAnswerFormat("as_is"), AnswerFormat::kAsIs);
  EXPECT_FALSE(ParseAnswerFormat("GSM8K").ok());
}

TEST_F(JsonlTest, SftFieldsConfigurable) {
  SftOptions o;
  o.path = Write("s.jsonl", "{\"input\": \"P\", \"output\": \"R\"}\n{\"input\": \"P2\"}\n");
  o.prompt_field = "input";
  o.response_field = "output";
  absl::Status s = LoadSftJsonl(o).status();
  EXPECT_NE(s.message().find(":2: missing field 'output'"), std::string::npos) << s;
  o.path = Write("s2.jsonl", "{\"input\": \"P\", \"output\": \"R\"}\n");
  absl::StatusOr<std::vector<SftExample>> ex = LoadSftJsonl(o);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ((*ex)[0].prompt, "P");
  EXPECT_EQ((*ex)[0].response, "R");
}

TEST_F(JsonlTest, WriteThenRead) {
  Example e;
  e.id = 3;
  e.question = "q\n\"quoted\"";
  e.ground_truth = "7";
  e.fields = {{"nums", {1, 2}}, {"target", 7}};
  const std::string path = (dir_ / "w.jsonl").string();
  ASSERT_TRUE(WriteJsonl(path, {ExampleToJson(e)}).ok());
  JsonlOptions o;
  o.path = path;
  o.answer_field = "ground_truth";
  absl::StatusOr<std::vector<Example>> ex = LoadJsonlDataset(o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ((*ex)[0].question, e.question);
  EXPECT_EQ((*ex)[0].ground_truth, "7");
  EXPECT_EQ((*ex)[0].fields["nums"], e.fields["nums"]);
}

TEST(JsonlSharedTest, Gsm8kTestFile) {
  const std::string path = std::string(AHA_SHARED_DIR) + "/datasets/gsm8k/test.jsonl";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  JsonlOptions o;
  o.path = path;
  o.answer_format = AnswerFormat::kGsm8k;
  absl::StatusOr<std::vector<Example>> ex = LoadJsonlDataset(o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ(ex->size(), 1319u);
  EXPECT_EQ((*ex)[0].ground_truth, "18");  // Janet's ducks
  for (const Example& e : *ex) EXPECT_FALSE(e.ground_truth.empty()) << e.id;
}

TEST(JsonlSharedTest, Math500TestFile) {
  const std::string path = std::string(AHA_SHARED_DIR) + "/datasets/math500/test.jsonl";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  JsonlOptions o;
  o.path = path;
  o.question_field = "problem";
  absl::StatusOr<std::vector<Example>> ex = LoadJsonlDataset(o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  EXPECT_EQ(ex->size(), 500u);
  EXPECT_EQ((*ex)[0].ground_truth, "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQ((*ex)[0].fields["level"], 2);
  // The boxed answer in the solution agrees with the answer field on the first row.
  JsonlOptions boxed = o;
  boxed.answer_field = "solution";
  boxed.answer_format = AnswerFormat::kBoxed;
  absl::StatusOr<std::vector<Example>> from_solution = LoadJsonlDataset(boxed);
  ASSERT_TRUE(from_solution.ok()) << from_solution.status();
  EXPECT_EQ((*from_solution)[0].ground_truth, (*ex)[0].ground_truth);
}

}  // namespace
}  // namespace aha::data
