// Tests of the run-folder analysis behind `aha analyze`, on a synthetic run folder: curves,
// reflection from samples, the earliest aha example, early vs late rates and bad lines.
#include "trainer/run_analysis.h"
#include "tests/unique_temp_path.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace aha {
namespace {

namespace fs = std::filesystem;

class RunAnalysisTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = aha_test::UniqueTempPath("run_analysis_test");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(fs::path(dir_) / name) << text;
  }
  std::string dir_;
};

// Ten steps; the completions reflect more often late in the run.
constexpr char kMetrics[] =
    R"({"step": 0, "eval": {"accuracy": 0.1}})" "\n"
    R"({"step": 1, "accuracy": 0.10, "reward_mean": 0.2, "length_mean": 20, "length_p90": 30})" "\n"
    R"({"step": 2, "accuracy": 0.20, "reward_mean": 0.3, "length_mean": 22, "length_p90": 31})" "\n"
    "{not json\n"
    R"({"accuracy": 0.5})" "\n"
    R"({"step": 3, "accuracy": 0.30, "reward_mean": 0.4, "length_mean": 24, "length_p90": 33})" "\n"
    R"({"step": 4, "accuracy": 0.40, "reward_mean": 0.5, "length_mean": 26, "length_p90": 35})" "\n"
    R"({"step": 5, "accuracy": 0.50, "reward_mean": 0.6, "length_mean": 28, "length_p90": 37})" "\n"
    R"({"step": 6, "accuracy": 0.60, "reward_mean": 0.7, "length_mean": 30, "length_p90": 39})" "\n"
    R"({"step": 7, "accuracy": 0.70, "reward_mean": 0.8, "length_mean": 32, "length_p90": 41})" "\n"
    R"({"step": 8, "accuracy": 0.80, "reward_mean": 0.9, "length_mean": 34, "length_p90": 43})" "\n"
    R"({"step": 9, "accuracy": 0.85, "reward_mean": 1.0, "length_mean": 36, "length_p90": 45})" "\n"
    R"({"step": 10, "accuracy": 0.90, "reward_mean": 1.1, "length_mean": 38, "length_p90": 47, "reflection/r1_fraction": 0.75, "reflection/any_fraction": 0.8})" "\n";

constexpr char kSamples[] =
    R"({"step": 1, "prompt": "p1", "completion": "3 + 4 = 7", "correct": true, "num_tokens": 5})" "\n"
    R"({"step": 1, "prompt": "p1", "completion": "Wait, 3 + 4 = 8", "correct": false, "num_tokens": 6})" "\n"
    R"({"step": 5, "prompt": "p5", "completion": "9 - 2 = 6. Wait, that is wrong. 9 - 2 = 7", "correct": true, "reward": 1.5, "num_tokens": 20})" "\n"
    "[1, 2]\n"
    R"({"step": 5, "prompt": "p5", "completion": 7})" "\n"
    R"({"step": 5, "prompt": "p5", "completion": "9 - 2 = 7", "correct": false, "num_tokens": 5})" "\n"
    R"({"step": 8, "prompt": "p8", "completion": "Let me check again: 2 * 3 = 6", "correct": true, "num_tokens": 10})" "\n"
    R"({"step": 10, "prompt": "p10", "completion": "ignored for reflection", "correct": true, "num_tokens": 3})" "\n";

TEST_F(RunAnalysisTest, FindsEarliestAhaExample) {
  Write("metrics.jsonl", kMetrics);
  Write("samples.jsonl", kSamples);
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, AnalysisOptions{});
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_EQ(analysis->aha_examples.size(), 2u);
  EXPECT_EQ(analysis->aha_examples[0].step, 5);
  EXPECT_EQ(analysis->aha_examples[0].location, "samples.jsonl:3");
  EXPECT_EQ(analysis->aha_examples[0].keywords, (std::vector<std::string>{"wait", "wrong"}));
  ASSERT_TRUE(analysis->aha_examples[0].reward.has_value());
  EXPECT_DOUBLE_EQ(*analysis->aha_examples[0].reward, 1.5);
  EXPECT_EQ(analysis->aha_examples[1].step, 8);
  EXPECT_EQ(analysis->aha_examples[1].keywords,
            (std::vector<std::string>{"check", "check again"}));
  EXPECT_EQ(analysis->num_samples, 6);
  EXPECT_EQ(analysis->num_samples_with_reflection, 3);
}

TEST_F(RunAnalysisTest, ReportsBadLines) {
  Write("metrics.jsonl", kMetrics);
  Write("samples.jsonl", kSamples);
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, AnalysisOptions{});
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_EQ(analysis->problems.size(), 4u);
  EXPECT_EQ(analysis->problems[0], "metrics.jsonl:4: invalid JSON; the line is skipped");
  EXPECT_EQ(analysis->problems[1],
            "metrics.jsonl:5: missing integer \"step\"; the line is skipped");
  EXPECT_EQ(analysis->problems[2], "samples.jsonl:4: not a JSON object; the line is skipped");
  EXPECT_EQ(analysis->problems[3],
            "samples.jsonl:5: missing string \"completion\"; the line is skipped");
  const std::string report = FormatAnalysisReport(*analysis, AnalysisOptions{});
  EXPECT_NE(report.find("- metrics.jsonl:4: invalid JSON"), std::string::npos) << report;
}

TEST_F(RunAnalysisTest, CurvesAndReflectionSources) {
  Write("metrics.jsonl", kMetrics);
  Write("samples.jsonl", kSamples);
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, AnalysisOptions{});
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_EQ(analysis->steps.size(), 10u);
  ASSERT_EQ(analysis->evals.size(), 1u);
  EXPECT_EQ(analysis->evals[0].first, 0);

  const StepCurve& first = analysis->steps[0];
  EXPECT_EQ(first.step, 1);
  ASSERT_TRUE(first.accuracy.has_value());
  EXPECT_DOUBLE_EQ(*first.accuracy, 0.1);
  // Step 1 has no reflection keys in metrics.jsonl: one of its two samples reflects.
  EXPECT_TRUE(first.reflection_from_samples);
  EXPECT_DOUBLE_EQ(first.reflection.at("r1_fraction"), 0.5);
  EXPECT_DOUBLE_EQ(first.reflection.at("any_fraction"), 0.5);
  // Step 2 has neither reflection keys nor samples.
  EXPECT_TRUE(analysis->steps[1].reflection.empty());
  // Step 10 logged its own reflection rates, which win over its samples.
  const StepCurve& last = analysis->steps[9];
  EXPECT_FALSE(last.reflection_from_samples);
  EXPECT_DOUBLE_EQ(last.reflection.at("r1_fraction"), 0.75);
}

TEST_F(RunAnalysisTest, ComparesFirstAndLastSteps) {
  Write("metrics.jsonl", kMetrics);
  Write("samples.jsonl", kSamples);
  AnalysisOptions options;
  options.edge_fraction = 0.25;  // 4 steps have reflection rates (1, 5, 8, 10): one each side
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, options);
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_TRUE(analysis->early.has_value());
  ASSERT_TRUE(analysis->late.has_value());
  EXPECT_EQ(analysis->early->first_step, 1);
  EXPECT_EQ(analysis->early->num_steps, 1);
  EXPECT_DOUBLE_EQ(analysis->early->mean.at("any_fraction"), 0.5);
  EXPECT_EQ(analysis->late->first_step, 10);
  EXPECT_DOUBLE_EQ(analysis->late->mean.at("any_fraction"), 0.8);
}

TEST_F(RunAnalysisTest, ReportAndCsvContents) {
  Write("metrics.jsonl", kMetrics);
  Write("samples.jsonl", kSamples);
  AnalysisOptions options;
  options.max_examples = 1;
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, options);
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_EQ(analysis->aha_examples.size(), 1u);
  const std::string report = FormatAnalysisReport(*analysis, options);
  EXPECT_NE(report.find("### Step 5 (samples.jsonl:3)"), std::string::npos) << report;
  EXPECT_NE(report.find("Keywords: wait, wrong; reward 1.500"), std::string::npos) << report;
  EXPECT_NE(report.find("| 1 | 0.100 | 0.200 | 20.0 | 30.0 |"), std::string::npos) << report;
  EXPECT_NE(report.find("3 of 6 samples use a reflection keyword"), std::string::npos) << report;

  const std::string csv = FormatCurvesCsv(*analysis);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "step,accuracy,reward_mean,length_mean,length_p90,reflection/any_fraction,"
            "reflection/oat_fraction,reflection/oat_mean_count,reflection/oat_per_1k_tokens,"
            "reflection/r1_fraction,reflection/r1_mean_count,reflection/r1_per_1k_tokens");
  EXPECT_NE(csv.find("\n2,0.2,0.3,22,31,,,,,,,\n"), std::string::npos) << csv;
}

TEST_F(RunAnalysisTest, LongCompletionIsCut) {
  Write("samples.jsonl", R"({"step": 1, "completion": "wait )" + std::string(100, 'x') +
                             R"(", "correct": true})" "\n");
  AnalysisOptions options;
  options.max_example_chars = 10;
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, options);
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  const std::string report = FormatAnalysisReport(*analysis, options);
  EXPECT_NE(report.find("wait xxxxx\n[... cut at 10 characters]"), std::string::npos) << report;
}

TEST_F(RunAnalysisTest, EvalSamplesAreStepZero) {
  Write("eval.json", R"({"accuracy": 0.5, "samples_kept": [)"
                     R"({"id": 1, "prompt": "p", "completion": "Wait, recheck: 7", "correct": true},)"
                     R"({"id": 2, "prompt": "p", "completion": "8", "correct": false},)"
                     R"({"id": 3}]})");
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, AnalysisOptions{});
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_EQ(analysis->steps.size(), 1u);
  EXPECT_EQ(analysis->steps[0].step, 0);
  EXPECT_DOUBLE_EQ(analysis->steps[0].reflection.at("any_fraction"), 0.5);
  EXPECT_DOUBLE_EQ(analysis->steps[0].reflection.at("oat_fraction"), 0.5);
  ASSERT_EQ(analysis->aha_examples.size(), 1u);
  EXPECT_EQ(analysis->aha_examples[0].location, "eval.json:samples_kept[0]");
  ASSERT_EQ(analysis->problems.size(), 1u);
  EXPECT_EQ(analysis->problems[0],
            "eval.json:samples_kept[2]: missing string \"completion\"; skipped");
}

TEST_F(RunAnalysisTest, InvalidEvalFileIsReported) {
  Write("eval.json", "{\"accuracy\": 0.5}");
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, AnalysisOptions{});
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  ASSERT_EQ(analysis->problems.size(), 1u);
  EXPECT_NE(analysis->problems[0].find("eval.json: not an `aha eval --out` report"),
            std::string::npos);
}

TEST_F(RunAnalysisTest, MissingFilesAreNotFound) {
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, AnalysisOptions{});
  EXPECT_EQ(analysis.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(analysis.status().message().find(dir_), std::string::npos);
}

TEST_F(RunAnalysisTest, NoReflectionAnywhere) {
  Write("metrics.jsonl", R"({"step": 1, "accuracy": 0.5})" "\n");
  absl::StatusOr<RunAnalysis> analysis = AnalyzeRun(dir_, AnalysisOptions{});
  ASSERT_TRUE(analysis.ok()) << analysis.status();
  EXPECT_FALSE(analysis->early.has_value());
  const std::string report = FormatAnalysisReport(*analysis, AnalysisOptions{});
  EXPECT_NE(report.find("No step has reflection rates"), std::string::npos) << report;
  EXPECT_NE(report.find("None of them ends correct"), std::string::npos) << report;
}

}  // namespace
}  // namespace aha
