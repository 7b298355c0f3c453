#include "bench/bench_common.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "base/blas_check.h"
#include "base/large_block_cache.h"
#include "base/status_macros.h"

namespace aha::bench {

RunTimes TimeRuns(int repeats, const std::function<void()>& fn) {
  std::vector<double> seconds;
  for (int i = 0; i < std::max(repeats, 1); ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds.front(), seconds[seconds.size() / 2]};
}

std::vector<cli::FlagSpec> WithCommonFlags(std::vector<cli::FlagSpec> extra) {
  std::vector<cli::FlagSpec> specs = {
      {"quick", "smaller sizes and 1 repeat, for a smoke run", true},
      {"threads", "torch and OpenMP threads (default 2)"},
      {"dtype", "fp32 or bf16 weights and activations (default fp32)"},
      {"repeats", "timed runs per measurement; min and median are reported (default 3, "
                  "1 with --quick)"},
  };
  specs.insert(specs.end(), extra.begin(), extra.end());
  return specs;
}

absl::StatusOr<cli::ParsedFlags> ParseBenchFlags(int argc, char** argv, const std::string& name,
                                                 const std::string& usage,
                                                 const std::vector<cli::FlagSpec>& specs) {
  std::vector<std::string> args(argv + 1, argv + argc);
  ASSIGN_OR_RETURN(cli::ParsedFlags flags, cli::ParseFlags(args, specs));
  if (flags.Has("help")) {
    std::printf("%s\n", usage.c_str());
    for (const cli::FlagSpec& spec : specs) {
      std::printf("  --%-20s %s\n", spec.name.c_str(), spec.help.c_str());
    }
    std::exit(0);
  }
  if (!flags.positional().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": unexpected argument '", flags.positional().front(), "'; see --help"));
  }
  return flags;
}

absl::StatusOr<int64_t> GetPositive(const cli::ParsedFlags& flags, const std::string& name,
                                    int64_t fallback) {
  ASSIGN_OR_RETURN(int64_t value, flags.GetInt(name, fallback));
  if (value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a positive integer, got ", value));
  }
  return value;
}

absl::StatusOr<CommonFlags> ReadCommonFlags(const cli::ParsedFlags& flags) {
  CommonFlags common;
  common.quick = flags.Has("quick");
  ASSIGN_OR_RETURN(int64_t threads, GetPositive(flags, "threads", 2));
  ASSIGN_OR_RETURN(int64_t repeats, GetPositive(flags, "repeats", common.quick ? 1 : 3));
  common.threads = static_cast<int>(threads);
  common.repeats = static_cast<int>(repeats);
  const std::string dtype = flags.GetOr("dtype", "fp32");
  if (dtype == "fp32") {
    common.dtype = torch::kFloat32;
  } else if (dtype == "bf16") {
    common.dtype = torch::kBFloat16;
  } else {
    return absl::InvalidArgumentError("--dtype must be fp32 or bf16, got '" + dtype + "'");
  }
  torch::set_num_threads(common.threads);
  return common;
}

int ExitCode(const char* name, const absl::Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "%s: %s\n", name, std::string(status.message()).c_str());
  return 1;
}

const char* DtypeName(torch::ScalarType dtype) {
  return dtype == torch::kBFloat16 ? "bf16" : "fp32";
}

void PrintSetup(const CommonFlags& common) {
  // As `aha` does at start-up; AHA_LARGE_BLOCK_CACHE_MB=0 measures without it.
  InstallLargeBlockCache();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const MathLibraryFacts facts = ReadMathLibraryFacts();
  std::printf("threads %d (OMP_NUM_THREADS=%s), dtype %s, OPENBLAS_CORETYPE=%s, "
              "OpenBLAS core %s, repeats %d%s\n",
              torch::get_num_threads(), std::getenv("OMP_NUM_THREADS") != nullptr
                                            ? std::getenv("OMP_NUM_THREADS")
                                            : "unset",
              DtypeName(common.dtype), coretype != nullptr ? coretype : "unset",
              facts.openblas_core.empty() ? "none" : facts.openblas_core.c_str(),
              common.repeats, common.quick ? ", quick" : "");
  const char* cache_mb = std::getenv("AHA_LARGE_BLOCK_CACHE_MB");
  std::printf("large block cache: %s\n",
              cache_mb != nullptr && std::string(cache_mb) == "0" ? "off" : "on");
  for (const std::string& warning : MathLibraryWarnings(facts)) {
    std::printf("warning: %s\n", warning.c_str());
  }
}

std::string Percent(double achieved, double bound) {
  if (bound <= 0) return "n/a";
  return Fixed(100.0 * achieved / bound, 1) + "%";
}

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

void MarkdownTable::Print() const {
  auto print_row = [](const std::vector<std::string>& cells) {
    std::printf("|");
    for (const std::string& cell : cells) std::printf(" %s |", cell.c_str());
    std::printf("\n");
  };
  print_row(header_);
  std::printf("|");
  for (size_t i = 0; i < header_.size(); ++i) std::printf(" --- |");
  std::printf("\n");
  for (const auto& row : rows_) print_row(row);
  std::fflush(stdout);
}

}  // namespace aha::bench
