// Analysis of a finished (or running) training run folder for `aha analyze`: metric curves,
// self-reflection rates per step, and the earliest "aha" completions, the ones that use a
// reflection keyword and end correct. Reads only metrics.jsonl and samples.jsonl, so it works
// on any run folder that has them, whatever model wrote them.
#ifndef AHA_TRAINER_RUN_ANALYSIS_H_
#define AHA_TRAINER_RUN_ANALYSIS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/reflection.h"

namespace aha {

struct AnalysisOptions {
  std::vector<KeywordSet> reflection_sets = DefaultReflectionSets();
  int64_t max_examples = 5;     // aha examples in the report
  double edge_fraction = 0.1;   // share of steps compared at the start and the end
  int64_t max_example_chars = 2000;  // longer completions are cut in the report
};

// One row of the curves: a training step (step 0 holds eval.json's samples).
struct StepCurve {
  int64_t step = 0;
  std::optional<double> accuracy, reward_mean, length_mean, length_p90;
  // Reflection rates, "SET_fraction" etc. (ReflectionMetricValues), from metrics.jsonl when
  // it logged them, otherwise computed from that step's rows in samples.jsonl.
  std::map<std::string, double> reflection;
  bool reflection_from_samples = false;
};

struct AhaExample {
  int64_t step = 0;
  std::string location;  // "samples.jsonl:LINE"
  std::string prompt, completion;
  std::vector<std::string> keywords;  // the reflection keywords found, each once
  std::optional<double> reward;
};

// Mean reflection rates over a range of steps.
struct EdgeReflection {
  int64_t first_step = 0, last_step = 0, num_steps = 0;
  std::map<std::string, double> mean;  // metric name -> mean over the steps
};

struct RunAnalysis {
  std::string run_dir;
  std::vector<StepCurve> steps;                   // sorted by step
  std::vector<std::pair<int64_t, std::string>> evals;  // step, the eval object as JSON
  std::vector<AhaExample> aha_examples;           // earliest first
  int64_t num_samples = 0, num_samples_with_reflection = 0;
  std::optional<EdgeReflection> early, late;
  // Lines that could not be used, as "FILE:LINE: what is wrong".
  std::vector<std::string> problems;
};

// Reads RUN_DIR/metrics.jsonl and RUN_DIR/samples.jsonl, and RUN_DIR/eval.json when present
// (the output of `aha eval --out` with eval.keep_samples > 0), whose kept samples count as
// samples of step 0, for a model's reflection rate before RL. Bad lines are collected in
// `problems` and skipped. NotFound when the folder has none of these files.
absl::StatusOr<RunAnalysis> AnalyzeRun(const std::string& run_dir,
                                       const AnalysisOptions& options);

// The Markdown report: curves table, early vs late reflection, aha examples, problems.
std::string FormatAnalysisReport(const RunAnalysis& analysis, const AnalysisOptions& options);
// The curves as CSV (step, accuracy, reward_mean, length_mean, length_p90, then one column per
// reflection metric) for scripts/plot_run.py. Empty cells are missing values.
std::string FormatCurvesCsv(const RunAnalysis& analysis);

}  // namespace aha

#endif  // AHA_TRAINER_RUN_ANALYSIS_H_
