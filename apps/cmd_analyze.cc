// `aha analyze RUN_DIR`: writes RUN_DIR/analysis/report.md (metric curves, reflection in the
// first vs last steps, the earliest completions that reflect and end correct) and curves.csv,
// then draws the PNG plots with scripts/plot_run.py when Python's matplotlib is installed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "policy/file_io.h"
#include "trainer/run_analysis.h"

namespace aha::cli {
namespace {

namespace fs = std::filesystem;

const std::vector<FlagSpec> kFlags = {
    {"max_examples", "aha examples in the report (default 5)"},
    {"edge_fraction", "share of steps compared at the start and the end (default 0.1)"},
    {"sets", "comma-separated built-in reflection keyword sets (default r1,oat)"},
    {"keywords", "comma-separated extra keywords or phrases, counted as the set \"custom\""},
    {"plot_script", "path of plot_run.py (default: scripts/plot_run.py next to the build "
                    "folder or in the current folder)"},
    {"no_plots", "write the report only, without running the plot script", /*is_switch=*/true},
};

absl::StatusOr<AnalysisOptions> ReadOptions(const ParsedFlags& flags) {
  AnalysisOptions options;
  ASSIGN_OR_RETURN(options.max_examples, flags.GetInt("max_examples", options.max_examples));
  ASSIGN_OR_RETURN(options.edge_fraction, flags.GetDouble("edge_fraction", options.edge_fraction));
  if (options.max_examples < 0) return absl::InvalidArgumentError("--max_examples must be >= 0");
  if (!(options.edge_fraction > 0 && options.edge_fraction <= 0.5)) {
    return absl::InvalidArgumentError("--edge_fraction must be in (0, 0.5]");
  }
  options.reflection_sets.clear();
  for (absl::string_view name : absl::StrSplit(flags.GetOr("sets", "r1,oat"), ',',
                                               absl::SkipEmpty())) {
    absl::StatusOr<KeywordSet> set = BuiltInReflectionSet(std::string(name));
    if (!set.ok()) return absl::InvalidArgumentError(absl::StrCat("--sets: ", set.status().message()));
    options.reflection_sets.push_back(*std::move(set));
  }
  if (auto keywords = flags.Get("keywords")) {
    KeywordSet custom{"custom", {}};
    for (absl::string_view keyword : absl::StrSplit(*keywords, ',', absl::SkipEmpty())) {
      custom.keywords.emplace_back(keyword);
    }
    options.reflection_sets.push_back(std::move(custom));
  }
  absl::Status valid = ReflectionCounter::Create(options.reflection_sets).status();
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat("--keywords: ", valid.message()));
  return options;
}

// The plot script: --plot_script, else scripts/plot_run.py above the binary's folder (the
// source tree of a build folder) or in the current folder.
std::optional<std::string> FindPlotScript(const ParsedFlags& flags) {
  if (auto path = flags.Get("plot_script")) return *path;
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  std::vector<fs::path> candidates;
  if (!error) {
    candidates.push_back(exe.parent_path().parent_path() / "scripts" / "plot_run.py");
    candidates.push_back(exe.parent_path() / "scripts" / "plot_run.py");
  }
  candidates.push_back(fs::path("scripts") / "plot_run.py");
  for (const fs::path& candidate : candidates) {
    if (fs::exists(candidate, error)) return candidate.string();
  }
  return std::nullopt;
}

std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// Returns the first of `python3` (from PATH) and /usr/bin/python3 that imports matplotlib.
// They differ when PATH starts with a virtual environment or pyenv, and those interpreters do
// not see Debian's python3-matplotlib.
std::optional<std::string> FindPythonWithMatplotlib() {
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    const std::string probe =
        absl::StrCat(python, " -c 'import matplotlib' > /dev/null 2>&1");
    if (std::system(probe.c_str()) == 0) return std::string(python);
  }
  return std::nullopt;
}

// Runs the plot script when matplotlib imports; otherwise prints how to install it. Plotting
// is optional, so its failures are reported but do not fail the command.
void DrawPlots(const ParsedFlags& flags, const std::string& run_dir) {
  std::optional<std::string> script = FindPlotScript(flags);
  if (!script) {
    std::printf("plots skipped: scripts/plot_run.py not found; pass --plot_script PATH\n");
    return;
  }
  std::optional<std::string> python = FindPythonWithMatplotlib();
  if (!python) {
    std::printf("plots skipped: Python's matplotlib is not installed. Install it with "
                "`scripts/install_deps.sh --with-plots` (Debian's python3-matplotlib), then "
                "run `/usr/bin/python3 %s %s`\n",
                script->c_str(), run_dir.c_str());
    return;
  }
  const std::string command = absl::StrCat(*python, " ", ShellQuote(*script), " ",
                                           ShellQuote(run_dir));
  std::fflush(stdout);
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "aha analyze: the plot script failed: %s\n", command.c_str());
  }
}

absl::Status Analyze(const ParsedFlags& flags) {
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError("expected one RUN_DIR; see aha analyze --help");
  }
  const std::string run_dir = flags.positional()[0];
  ASSIGN_OR_RETURN(AnalysisOptions options, ReadOptions(flags));
  ASSIGN_OR_RETURN(RunAnalysis analysis, AnalyzeRun(run_dir, options));
  for (const std::string& problem : analysis.problems) {
    std::fprintf(stderr, "warning: %s/%s\n", run_dir.c_str(), problem.c_str());
  }

  const fs::path out_dir = fs::path(run_dir) / "analysis";
  std::error_code error;
  fs::create_directories(out_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("failed to create ", out_dir.string(), ": ",
                                            error.message()));
  }
  const std::string report = (out_dir / "report.md").string();
  const std::string csv = (out_dir / "curves.csv").string();
  RETURN_IF_ERROR(WriteFileAtomically(report, FormatAnalysisReport(analysis, options)));
  RETURN_IF_ERROR(WriteFileAtomically(csv, FormatCurvesCsv(analysis)));
  std::printf("%zu steps, %lld samples (%lld with reflection), %zu aha examples\n",
              analysis.steps.size(), static_cast<long long>(analysis.num_samples),
              static_cast<long long>(analysis.num_samples_with_reflection),
              analysis.aha_examples.size());
  if (analysis.early && analysis.late) {
    auto any = [](const EdgeReflection& edge) {
      auto it = edge.mean.find("any_fraction");
      return it == edge.mean.end() ? 0.0 : it->second;
    };
    std::printf("reflection rate (any set): %.3f in steps %lld-%lld, %.3f in steps %lld-%lld\n",
                any(*analysis.early), static_cast<long long>(analysis.early->first_step),
                static_cast<long long>(analysis.early->last_step), any(*analysis.late),
                static_cast<long long>(analysis.late->first_step),
                static_cast<long long>(analysis.late->last_step));
  }
  std::printf("wrote %s and %s\n", report.c_str(), csv.c_str());
  if (!flags.Has("no_plots")) DrawPlots(flags, run_dir);
  return absl::OkStatus();
}

int RunAnalyze(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha analyze: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("analyze", "RUN_DIR [options]", kFlags);
    return 0;
  }
  absl::Status status = Analyze(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "aha analyze: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("analyze", "report and plot a run's curves, reflection rates and aha examples",
            RunAnalyze);

}  // namespace aha::cli
