#include "bench/machine_limits.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include <torch/torch.h>

#include "bench/bench_common.h"

namespace aha::bench {

double MachineLimits::PeakGflops(torch::ScalarType dtype) const {
  return dtype == torch::kBFloat16 ? bf16_gflops : fp32_gflops;
}

Rate MeasureMatmulGflops(torch::ScalarType dtype, int64_t n, int repeats) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n}).to(dtype);
  auto b = torch::randn({n, n}).to(dtype);
  auto c = torch::empty({n, n}, a.options());
  torch::matmul_out(c, a, b);
  const RunTimes times = TimeRuns(repeats, [&] { torch::matmul_out(c, a, b); });
  const double flops = 2.0 * n * n * n;
  return {flops / times.min_s / 1e9, flops / times.median_s / 1e9};
}

Rate MeasureSkinnyMatmulBandwidth(torch::ScalarType dtype, int64_t rows, int64_t k, int64_t n,
                                  int repeats) {
  torch::NoGradGuard no_grad;
  auto x = torch::randn({rows, k}).to(dtype);
  // Enough distinct weights (stored (out, in) like torch::nn::Linear) to exceed 256 MiB, so
  // they stream from memory as a model's layers do, not from the CPU caches.
  const int64_t weight_bytes = n * k * torch::elementSize(dtype);
  const int64_t count = std::max<int64_t>(2, (int64_t{256} << 20) / weight_bytes + 1);
  std::vector<torch::Tensor> weights;
  for (int64_t i = 0; i < count; ++i) weights.push_back(torch::randn({n, k}).to(dtype));
  auto run = [&] {
    for (const auto& weight : weights) torch::matmul(x, weight.t());
  };
  run();
  const RunTimes times = TimeRuns(repeats, run);
  const double bytes = static_cast<double>(count * weight_bytes);
  return {bytes / times.min_s / 1e9, bytes / times.median_s / 1e9};
}

Rate MeasureCopyBandwidth(int64_t bytes, int repeats) {
  torch::NoGradGuard no_grad;
  const int64_t elements = bytes / static_cast<int64_t>(sizeof(float));
  auto source = torch::rand({elements});
  auto target = torch::empty_like(source);
  target.copy_(source);
  const RunTimes times = TimeRuns(repeats, [&] { target.copy_(source); });
  const double bytes_moved = 2.0 * static_cast<double>(elements * sizeof(float));
  return {bytes_moved / times.min_s / 1e9, bytes_moved / times.median_s / 1e9};
}

MachineLimits MeasureMachineLimits(const MachineLimitOptions& options) {
  MachineLimits limits;
  limits.threads = torch::get_num_threads();
  limits.fp32_gflops =
      MeasureMatmulGflops(torch::kFloat32, options.matmul_size, options.repeats).best;
  limits.bf16_gflops =
      MeasureMatmulGflops(torch::kBFloat16, options.matmul_size, options.repeats).best;
  limits.bandwidth_gbs = MeasureCopyBandwidth(options.copy_bytes, options.repeats).best;
  return limits;
}

MachineLimits MeasureAndPrintLimits(bool quick) {
  MachineLimitOptions options;
  options.matmul_size = quick ? 1024 : 2048;
  options.repeats = 3;
  const MachineLimits limits = MeasureMachineLimits(options);
  std::printf("limits: matmul fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s, copy %.1f GB/s\n",
              limits.fp32_gflops, limits.bf16_gflops, limits.bandwidth_gbs);
  return limits;
}

}  // namespace aha::bench
