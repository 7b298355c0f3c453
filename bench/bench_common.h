// Shared pieces of the policy benchmarks: timing with min and median, the flags every bench
// takes (--quick, --threads, --dtype, --repeats), the environment header and markdown tables.
#ifndef AHA_BENCH_BENCH_COMMON_H_
#define AHA_BENCH_BENCH_COMMON_H_

#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "apps/flags.h"

namespace aha::bench {

struct RunTimes {
  double min_s = 0;
  double median_s = 0;
};

// Runs `fn` `repeats` times (at least once) and returns the fastest and the median wall time.
RunTimes TimeRuns(int repeats, const std::function<void()>& fn);

struct CommonFlags {
  bool quick = false;
  int threads = 2;
  torch::ScalarType dtype = torch::kFloat32;
  int repeats = 3;
};

// --quick, --threads, --dtype and --repeats, followed by `extra`.
std::vector<cli::FlagSpec> WithCommonFlags(std::vector<cli::FlagSpec> extra);

// Parses argv against `specs`. Prints help and exits 0 on --help; an invalid flag is an error.
absl::StatusOr<cli::ParsedFlags> ParseBenchFlags(int argc, char** argv, const std::string& name,
                                                 const std::string& usage,
                                                 const std::vector<cli::FlagSpec>& specs);

// Reads the common flags and applies --threads to torch (torch::set_num_threads).
absl::StatusOr<CommonFlags> ReadCommonFlags(const cli::ParsedFlags& flags);

// Reads a positive integer flag, or `fallback` when it is absent.
absl::StatusOr<int64_t> GetPositive(const cli::ParsedFlags& flags, const std::string& name,
                                    int64_t fallback);

// Prints a failed `status` as "NAME: message" to stderr; returns main's exit code.
int ExitCode(const char* name, const absl::Status& status);

const char* DtypeName(torch::ScalarType dtype);

// Prints the thread count, dtype, OPENBLAS_CORETYPE and OpenBLAS core, and any warning from
// CheckMathLibraryWarnings, so that every result records the setup it came from.
void PrintSetup(const CommonFlags& common);

// "12.3%" style text for achieved / bound; "n/a" when the bound is not positive.
std::string Percent(double achieved, double bound);
std::string Fixed(double value, int decimals);

// A markdown table printed to stdout, ready to paste into docs/benchmarks.md.
class MarkdownTable {
 public:
  explicit MarkdownTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace aha::bench

#endif  // AHA_BENCH_BENCH_COMMON_H_
