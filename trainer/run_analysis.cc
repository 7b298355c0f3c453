// Reads a run folder's JSONL logs into curves, reflection rates and aha examples, and formats
// the report that `aha analyze` writes.
#include "trainer/run_analysis.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace aha {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One parsed line of a JSONL file, with its "FILE:LINE" location.
struct JsonLine {
  std::string location;
  json value;
};

// Parses every non-blank line of `path`; lines that are not JSON objects with an integer
// "step" go to `problems`. Returns nullopt when the file does not exist.
std::optional<std::vector<JsonLine>> ReadJsonl(const fs::path& path,
                                               std::vector<std::string>& problems) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<JsonLine> lines;
  std::string text;
  int64_t number = 0;
  const std::string name = path.filename().string();
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string location = absl::StrCat(name, ":", number);
    json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      problems.push_back(absl::StrCat(location, ": invalid JSON; the line is skipped"));
    } else if (!value.is_object()) {
      problems.push_back(absl::StrCat(location, ": not a JSON object; the line is skipped"));
    } else if (!value.contains("step") || !value["step"].is_number_integer()) {
      problems.push_back(absl::StrCat(location, ": missing integer \"step\"; the line is skipped"));
    } else {
      lines.push_back({location, std::move(value)});
    }
  }
  return lines;
}

std::optional<double> NumberAt(const json& record, const std::string& key) {
  auto it = record.find(key);
  if (it == record.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// A sample row that the reflection counts can use.
struct SampleRow {
  int64_t step = 0;
  std::string location, prompt, completion;
  int64_t num_tokens = 0;
  std::optional<bool> correct;
  std::optional<double> reward;
};

std::vector<SampleRow> ParseSamples(const std::vector<JsonLine>& lines,
                                    std::vector<std::string>& problems) {
  std::vector<SampleRow> rows;
  for (const JsonLine& line : lines) {
    const json& v = line.value;
    auto completion = v.find("completion");
    if (completion == v.end() || !completion->is_string()) {
      problems.push_back(absl::StrCat(line.location,
                                      ": missing string \"completion\"; the line is skipped"));
      continue;
    }
    SampleRow row;
    row.step = v["step"].get<int64_t>();
    row.location = line.location;
    row.completion = completion->get<std::string>();
    if (auto prompt = v.find("prompt"); prompt != v.end() && prompt->is_string()) {
      row.prompt = prompt->get<std::string>();
    }
    if (auto tokens = v.find("num_tokens"); tokens != v.end() && tokens->is_number_integer()) {
      row.num_tokens = tokens->get<int64_t>();
    }
    if (auto correct = v.find("correct"); correct != v.end()) {
      if (correct->is_boolean()) {
        row.correct = correct->get<bool>();
      } else if (!correct->is_null()) {
        problems.push_back(absl::StrCat(line.location, ": \"correct\" is not true or false; "
                                        "the sample counts as not known to be correct"));
      }
    }
    row.reward = NumberAt(v, "reward");
    rows.push_back(std::move(row));
  }
  return rows;
}

// The kept samples of an `aha eval --out` file as step-0 rows. Returns nullopt when the file
// does not exist; a file that cannot be used goes to `problems`.
std::optional<std::vector<SampleRow>> ReadEvalSamples(const fs::path& path,
                                                      std::vector<std::string>& problems) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  const std::string name = path.filename().string();
  std::stringstream buffer;
  buffer << in.rdbuf();
  json value = json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  auto kept = value.is_object() ? value.find("samples_kept") : value.end();
  if (value.is_discarded() || !value.is_object() || kept == value.end() || !kept->is_array()) {
    problems.push_back(absl::StrCat(name, ": not an `aha eval --out` report with a "
                                    "\"samples_kept\" list; the file is skipped"));
    return std::vector<SampleRow>{};
  }
  std::vector<SampleRow> rows;
  for (size_t i = 0; i < kept->size(); ++i) {
    const json& sample = (*kept)[i];
    const std::string location = absl::StrCat(name, ":samples_kept[", i, "]");
    if (!sample.is_object() || !sample.contains("completion") ||
        !sample["completion"].is_string()) {
      problems.push_back(absl::StrCat(location, ": missing string \"completion\"; skipped"));
      continue;
    }
    SampleRow row;
    row.location = location;
    row.completion = sample["completion"].get<std::string>();
    if (sample.contains("prompt") && sample["prompt"].is_string()) {
      row.prompt = sample["prompt"].get<std::string>();
    }
    if (sample.contains("correct") && sample["correct"].is_boolean()) {
      row.correct = sample["correct"].get<bool>();
    }
    row.reward = NumberAt(sample, "reward");
    rows.push_back(std::move(row));
  }
  return rows;
}

// The reflection keywords of all sets that occur in `text`, each once, in set order.
std::vector<std::string> KeywordsFound(const ReflectionCounter& counter, const std::string& text) {
  std::vector<std::string> found;
  for (size_t s = 0; s < counter.sets().size(); ++s) {
    std::vector<int64_t> counts = counter.CountKeywords(text, s);
    for (size_t k = 0; k < counts.size(); ++k) {
      const std::string& keyword = counter.sets()[s].keywords[k];
      if (counts[k] > 0 && std::find(found.begin(), found.end(), keyword) == found.end()) {
        found.push_back(keyword);
      }
    }
  }
  return found;
}

EdgeReflection MeanOverSteps(const std::vector<const StepCurve*>& steps) {
  EdgeReflection edge;
  edge.first_step = steps.front()->step;
  edge.last_step = steps.back()->step;
  edge.num_steps = static_cast<int64_t>(steps.size());
  std::map<std::string, int64_t> counts;
  for (const StepCurve* step : steps) {
    for (const auto& [name, value] : step->reflection) {
      edge.mean[name] += value;
      ++counts[name];
    }
  }
  for (auto& [name, sum] : edge.mean) sum /= static_cast<double>(counts[name]);
  return edge;
}

// Fills the first and last `fraction` of the steps that have reflection rates.
void ComputeEdges(RunAnalysis& analysis, double fraction) {
  std::vector<const StepCurve*> with_reflection;
  for (const StepCurve& step : analysis.steps) {
    if (!step.reflection.empty()) with_reflection.push_back(&step);
  }
  if (with_reflection.empty()) return;
  const size_t count = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(fraction * static_cast<double>(with_reflection.size()))));
  analysis.early = MeanOverSteps({with_reflection.begin(), with_reflection.begin() + count});
  analysis.late = MeanOverSteps({with_reflection.end() - count, with_reflection.end()});
}

std::string FormatOptional(const std::optional<double>& value, const char* format) {
  return value ? absl::StrFormat(format, *value) : "-";
}

// The reflection metric names that any step has, sorted by name.
std::vector<std::string> ReflectionColumns(const RunAnalysis& analysis) {
  std::set<std::string> names;
  for (const StepCurve& step : analysis.steps) {
    for (const auto& [name, value] : step.reflection) names.insert(name);
  }
  return {names.begin(), names.end()};
}

}  // namespace

absl::StatusOr<RunAnalysis> AnalyzeRun(const std::string& run_dir,
                                       const AnalysisOptions& options) {
  ASSIGN_OR_RETURN(ReflectionCounter counter, ReflectionCounter::Create(options.reflection_sets));
  RunAnalysis analysis;
  analysis.run_dir = run_dir;
  auto metrics = ReadJsonl(fs::path(run_dir) / "metrics.jsonl", analysis.problems);
  auto samples = ReadJsonl(fs::path(run_dir) / "samples.jsonl", analysis.problems);
  auto eval_rows = ReadEvalSamples(fs::path(run_dir) / "eval.json", analysis.problems);
  if (!metrics && !samples && !eval_rows) {
    return absl::NotFoundError(absl::StrCat(
        run_dir, " has no metrics.jsonl, samples.jsonl or eval.json; pass the out_dir of a run"));
  }

  // Curves from metrics.jsonl; a later record of the same step (a resumed run) replaces it.
  std::map<int64_t, StepCurve> steps;
  for (const JsonLine& line : metrics.value_or(std::vector<JsonLine>{})) {
    const json& v = line.value;
    const int64_t step = v["step"].get<int64_t>();
    if (v.contains("eval")) {
      analysis.evals.emplace_back(step, v["eval"].dump());
      continue;
    }
    StepCurve curve;
    curve.step = step;
    curve.accuracy = NumberAt(v, "accuracy");
    curve.reward_mean = NumberAt(v, "reward_mean");
    curve.length_mean = NumberAt(v, "length_mean");
    curve.length_p90 = NumberAt(v, "length_p90");
    for (const auto& [key, value] : v.items()) {
      if (key.rfind("reflection/", 0) == 0 && value.is_number()) {
        curve.reflection[key.substr(11)] = value.get<double>();
      }
    }
    steps[step] = std::move(curve);
  }

  // Samples: reflection per step where metrics lack it, and the aha examples.
  std::vector<SampleRow> rows = ParseSamples(samples.value_or(std::vector<JsonLine>{}),
                                             analysis.problems);
  if (eval_rows) rows.insert(rows.begin(), eval_rows->begin(), eval_rows->end());
  std::map<int64_t, std::vector<ResponseInput>> responses_by_step;
  for (const SampleRow& row : rows) {
    responses_by_step[row.step].push_back({row.completion, row.num_tokens,
                                           row.correct.value_or(false)});
    const std::vector<std::string> keywords = KeywordsFound(counter, row.completion);
    ++analysis.num_samples;
    if (keywords.empty()) continue;
    ++analysis.num_samples_with_reflection;
    if (row.correct.value_or(false)) {
      analysis.aha_examples.push_back(
          {row.step, row.location, row.prompt, row.completion, keywords, row.reward});
    }
  }
  for (const auto& [step, responses] : responses_by_step) {
    StepCurve& curve = steps[step];
    curve.step = step;
    if (curve.reflection.empty()) {
      curve.reflection = ReflectionMetricValues(counter.Summarize(responses));
      curve.reflection_from_samples = true;
    }
  }
  for (auto& [step, curve] : steps) analysis.steps.push_back(std::move(curve));

  std::stable_sort(analysis.aha_examples.begin(), analysis.aha_examples.end(),
                   [](const AhaExample& a, const AhaExample& b) { return a.step < b.step; });
  if (static_cast<int64_t>(analysis.aha_examples.size()) > options.max_examples) {
    analysis.aha_examples.resize(std::max<int64_t>(options.max_examples, 0));
  }
  ComputeEdges(analysis, options.edge_fraction);
  return analysis;
}

std::string FormatAnalysisReport(const RunAnalysis& analysis, const AnalysisOptions& options) {
  std::ostringstream out;
  out << "# Run analysis: " << analysis.run_dir << "\n\n";
  out << "Reflection keyword sets: ";
  std::vector<std::string> set_names;
  for (const KeywordSet& set : options.reflection_sets) {
    set_names.push_back(absl::StrCat(set.name, " (", absl::StrJoin(set.keywords, ", "), ")"));
  }
  out << absl::StrJoin(set_names, "; ") << ".\n\n";

  out << "## Reflection, first vs last " << absl::StrFormat("%.0f", 100 * options.edge_fraction)
      << "% of steps\n\n";
  if (analysis.early && analysis.late) {
    out << "| metric | steps " << analysis.early->first_step << "-" << analysis.early->last_step
        << " | steps " << analysis.late->first_step << "-" << analysis.late->last_step << " |\n";
    out << "|---|---|---|\n";
    for (const auto& [name, early] : analysis.early->mean) {
      auto late = analysis.late->mean.find(name);
      out << "| " << name << " | " << absl::StrFormat("%.4f", early) << " | "
          << (late == analysis.late->mean.end() ? "-" : absl::StrFormat("%.4f", late->second))
          << " |\n";
    }
  } else {
    out << "No step has reflection rates (metrics.jsonl has no reflection/ keys and "
           "samples.jsonl has no rows).\n";
  }

  out << "\n## Aha examples\n\n";
  out << absl::StrFormat("%d of %d samples use a reflection keyword. ",
                         analysis.num_samples_with_reflection, analysis.num_samples);
  if (analysis.aha_examples.empty()) {
    out << "None of them ends correct.\n";
  } else {
    out << "The earliest that end correct:\n";
  }
  for (const AhaExample& example : analysis.aha_examples) {
    out << "\n### Step " << example.step << " (" << example.location << ")\n\n";
    out << "Keywords: " << absl::StrJoin(example.keywords, ", ");
    if (example.reward) out << absl::StrFormat("; reward %.3f", *example.reward);
    out << "\n\nPrompt:\n\n```\n" << example.prompt << "\n```\n\nCompletion:\n\n```\n";
    if (static_cast<int64_t>(example.completion.size()) > options.max_example_chars) {
      out << example.completion.substr(0, options.max_example_chars) << "\n[... cut at "
          << options.max_example_chars << " characters]";
    } else {
      out << example.completion;
    }
    out << "\n```\n";
  }

  const std::vector<std::string> columns = ReflectionColumns(analysis);
  out << "\n## Curves\n\n| step | accuracy | reward | length mean | length p90 |";
  for (const std::string& column : columns) out << " " << column << " |";
  out << "\n|---|---|---|---|---|";
  for (size_t i = 0; i < columns.size(); ++i) out << "---|";
  out << "\n";
  for (const StepCurve& step : analysis.steps) {
    out << "| " << step.step << " | " << FormatOptional(step.accuracy, "%.3f") << " | "
        << FormatOptional(step.reward_mean, "%.3f") << " | "
        << FormatOptional(step.length_mean, "%.1f") << " | "
        << FormatOptional(step.length_p90, "%.1f") << " |";
    for (const std::string& column : columns) {
      auto it = step.reflection.find(column);
      out << " " << (it == step.reflection.end() ? "-" : absl::StrFormat("%.3f", it->second))
          << (step.reflection_from_samples ? "*" : "") << " |";
    }
    out << "\n";
  }
  out << "\nValues marked * are computed from the step's rows in samples.jsonl (a subset of "
         "the batch), because metrics.jsonl has no reflection/ keys for that step.\n";

  if (!analysis.evals.empty()) {
    out << "\n## Evaluations\n\n";
    for (const auto& [step, eval] : analysis.evals) out << "- step " << step << ": `" << eval
                                                        << "`\n";
  }
  if (!analysis.problems.empty()) {
    out << "\n## Skipped lines\n\n";
    for (const std::string& problem : analysis.problems) out << "- " << problem << "\n";
  }
  return out.str();
}

std::string FormatCurvesCsv(const RunAnalysis& analysis) {
  const std::vector<std::string> columns = ReflectionColumns(analysis);
  std::ostringstream out;
  out << "step,accuracy,reward_mean,length_mean,length_p90";
  for (const std::string& column : columns) out << ",reflection/" << column;
  out << "\n";
  auto cell = [](const std::optional<double>& value) {
    return value ? absl::StrFormat("%.6g", *value) : std::string();
  };
  for (const StepCurve& step : analysis.steps) {
    out << step.step << "," << cell(step.accuracy) << "," << cell(step.reward_mean) << ","
        << cell(step.length_mean) << "," << cell(step.length_p90);
    for (const std::string& column : columns) {
      auto it = step.reflection.find(column);
      out << "," << (it == step.reflection.end() ? "" : absl::StrFormat("%.6g", it->second));
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace aha
