// Measures the machine limits the other policy benchmarks compare against: the float32 and
// bfloat16 matmul peak and the copy bandwidth. Run with OPENBLAS_CORETYPE=SkylakeX on AVX-512
// CPUs (see docs/benchmarks.md).
#include <algorithm>
#include <cstdio>

#include <torch/torch.h>

#include "base/status_macros.h"
#include "bench/bench_common.h"
#include "bench/machine_limits.h"

namespace aha::bench {
namespace {

absl::Status Run(int argc, char** argv) {
  const auto specs = WithCommonFlags({
      {"size", "n of the square n x n matmuls (default 2048, 1024 with --quick)"},
      {"copy-mib", "MiB copied per bandwidth run (default 512, 256 with --quick)"},
  });
  ASSIGN_OR_RETURN(cli::ParsedFlags flags,
                   ParseBenchFlags(argc, argv, "matmul_peak_bench",
                                   "usage: matmul_peak_bench [--quick] [flags]", specs));
  ASSIGN_OR_RETURN(CommonFlags common, ReadCommonFlags(flags));
  ASSIGN_OR_RETURN(int64_t size, GetPositive(flags, "size", common.quick ? 1024 : 2048));
  ASSIGN_OR_RETURN(int64_t copy_mib, GetPositive(flags, "copy-mib", common.quick ? 256 : 512));
  const int repeats = std::max(common.repeats, 3);
  PrintSetup(common);

  MarkdownTable table({"limit", "size", "best", "median", "unit"});
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    const Rate rate = MeasureMatmulGflops(dtype, size, repeats);
    table.AddRow({std::string("matmul ") + DtypeName(dtype),
                  std::to_string(size) + "^2", Fixed(rate.best, 1), Fixed(rate.median, 1),
                  "GFLOP/s"});
  }
  const Rate copy = MeasureCopyBandwidth(copy_mib << 20, repeats);
  table.AddRow({"copy (read + write)", std::to_string(copy_mib) + " MiB", Fixed(copy.best, 1),
                Fixed(copy.median, 1), "GB/s"});
  // A decode step's MLP up-projection in the 0.5B shape: 8 rows through a 896 x 4864 weight.
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    const Rate rate = MeasureSkinnyMatmulBandwidth(dtype, 8, 896, 4864, repeats);
    table.AddRow({std::string("weight read, (8 x 896) @ (896 x 4864) ") + DtypeName(dtype),
                  "", Fixed(rate.best, 1), Fixed(rate.median, 1), "GB/s"});
  }
  table.Print();
  return absl::OkStatus();
}

}  // namespace
}  // namespace aha::bench

int main(int argc, char** argv) {
  return aha::bench::ExitCode("matmul_peak_bench", aha::bench::Run(argc, argv));
}
