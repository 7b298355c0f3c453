// Runs extraction and MathEqual over the shared MATH-500 and GSM8K test sets; skips without them.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "rewards/math/answer_extraction.h"
#include "rewards/math/math_equal.h"

namespace aha::math {
namespace {

// Reads one JSON object per line; returns an empty list when the file is missing.
std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

const std::string kMath500 = std::string(AHA_SHARED_DIR) + "/datasets/math500/test.jsonl";
const std::string kGsm8k = std::string(AHA_SHARED_DIR) + "/datasets/gsm8k/test.jsonl";

TEST(MathDatasetsTest, Math500AnswersEqualThemselves) {
  if (!std::filesystem::exists(kMath500)) GTEST_SKIP() << kMath500 << " is absent";
  std::vector<nlohmann::json> rows = ReadJsonl(kMath500);
  ASSERT_EQ(rows.size(), 500u);
  for (const nlohmann::json& row : rows) {
    std::string answer = row.at("answer").get<std::string>();
    EqualResult result = CompareAnswers(answer, answer);
    EXPECT_TRUE(result.equal) << answer << ": " << result.reason;
    // Equal through parsing too, not only as identical text: spaces added around the answer.
    EXPECT_TRUE(MathEqual(answer, " " + answer + " ")) << answer;
  }
}

TEST(MathDatasetsTest, Math500AnswersParse) {
  if (!std::filesystem::exists(kMath500)) GTEST_SKIP() << kMath500 << " is absent";
  EqualOptions through_parser;
  through_parser.match_identical_text = false;
  int parsed = 0;
  for (const nlohmann::json& row : ReadJsonl(kMath500)) {
    std::string answer = row.at("answer").get<std::string>();
    EqualResult result = CompareAnswers(answer, answer, through_parser);
    if (result.equal) {
      ++parsed;
    } else {
      std::cout << "not parsed: " << answer << " | " << result.reason << "\n";
    }
  }
  std::cout << "MATH-500 answers equal to themselves through the parser: " << parsed << "/500\n";
  // Measured 500/500 when this floor was set.
  EXPECT_GE(parsed, 495);
}

TEST(MathDatasetsTest, Math500SolutionBoxesMatchAnswers) {
  if (!std::filesystem::exists(kMath500)) GTEST_SKIP() << kMath500 << " is absent";
  std::vector<nlohmann::json> rows = ReadJsonl(kMath500);
  int matched = 0;
  for (const nlohmann::json& row : rows) {
    std::string truth = row.at("answer").get<std::string>();
    std::optional<std::string> boxed =
        ExtractFinalAnswer(row.at("solution").get<std::string>());
    EqualResult result = boxed ? CompareAnswers(truth, *boxed) : EqualResult{false, "no box"};
    if (result.equal) {
      ++matched;
    } else {
      std::cout << "mismatch: truth " << truth << " | boxed " << boxed.value_or("(none)")
                << " | " << result.reason << "\n";
    }
  }
  std::cout << "MATH-500 solution boxes matching the answer: " << matched << "/" << rows.size()
            << "\n";
  // Measured 500/500 when this floor was set; a failure lists the pairs as "mismatch" lines.
  EXPECT_GE(matched, 495);
}

TEST(MathDatasetsTest, Gsm8kMarkersMatchTheirOwnAnswers) {
  if (!std::filesystem::exists(kGsm8k)) GTEST_SKIP() << kGsm8k << " is absent";
  std::vector<nlohmann::json> rows = ReadJsonl(kGsm8k);
  ASSERT_GT(rows.size(), 1000u);
  for (const nlohmann::json& row : rows) {
    std::string solution = row.at("answer").get<std::string>();
    std::optional<std::string> extracted = ExtractFinalAnswer(solution);
    ASSERT_TRUE(extracted.has_value()) << solution;
    EXPECT_TRUE(MathEqual(solution, *extracted)) << solution;
    // The ground truth keeps its reasoning; the bare number with its commas removed must match.
    std::string digits;
    for (char c : *extracted) {
      if (c != ',') digits.push_back(c);
    }
    EXPECT_TRUE(MathEqual(solution, digits)) << solution;
    EXPECT_FALSE(MathEqual(solution, digits + "1")) << solution;
  }
}

}  // namespace
}  // namespace aha::math
