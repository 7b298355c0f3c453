// Measured limits of the machine that the policy benchmarks compare against: the peak matmul
// rate in float32 and bfloat16, and the memory bandwidth of a large copy.
#ifndef AHA_BENCH_MACHINE_LIMITS_H_
#define AHA_BENCH_MACHINE_LIMITS_H_

#include <cstdint>

#include <torch/types.h>

namespace aha::bench {

struct MachineLimits {
  int threads = 1;
  double fp32_gflops = 0;    // best (n x n) @ (n x n) torch::matmul rate in float32
  double bf16_gflops = 0;    // the same in bfloat16 (oneDNN on CPU)
  double bandwidth_gbs = 0;  // bytes read + written per second by a large tensor copy

  // The matmul peak for `dtype`: bf16_gflops for bfloat16, fp32_gflops otherwise.
  double PeakGflops(torch::ScalarType dtype) const;
};

struct MachineLimitOptions {
  int64_t matmul_size = 2048;            // n of the square matmuls
  int64_t copy_bytes = int64_t{1} << 29;  // 512 MiB source, far larger than any CPU cache
  int repeats = 5;                       // the best of this many runs counts
};

// A rate from the fastest run and from the median run.
struct Rate {
  double best = 0;
  double median = 0;
};

// GFLOP/s of an (n x n) @ (n x n) torch::matmul in `dtype` over `repeats` runs, counting
// 2 * n^3 floating-point operations, after one untimed warm-up run.
Rate MeasureMatmulGflops(torch::ScalarType dtype, int64_t n, int repeats);

// GB/s of copying a float32 tensor of `bytes` into another one over `repeats` runs, counting
// 2 * bytes (read + written), after one untimed warm-up copy.
Rate MeasureCopyBandwidth(int64_t bytes, int repeats);

// GB/s of weight bytes read by an (rows x k) @ (k x n) torch::matmul, the shape of a decode
// step's linear layers. With few rows the weight matrix dominates the traffic, so this is the
// bandwidth a decode step can reach through the BLAS.
Rate MeasureSkinnyMatmulBandwidth(torch::ScalarType dtype, int64_t rows, int64_t k, int64_t n,
                                  int repeats);

// Measures all three limits (best runs) with torch's current thread count.
MachineLimits MeasureMachineLimits(const MachineLimitOptions& options);

// Measures the limits at the sizes a bench uses (smaller with `quick`) and prints one line.
MachineLimits MeasureAndPrintLimits(bool quick);

}  // namespace aha::bench

#endif  // AHA_BENCH_MACHINE_LIMITS_H_
