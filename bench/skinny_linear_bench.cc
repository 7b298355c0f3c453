// The decode step's linear layers through aha::Linear (policy/skinny_linear.h) against
// torch::nn::functional::linear, in GB/s of weights read, on the Qwen2.5-0.5B shape's matrices,
// in float32 or (--dtype bf16) bfloat16.
// Each measurement cycles over 24 distinct copies of a matrix, as a decode step passes through
// 24 layers, so the weights come from memory and not from the caches.
//
//   build/bench/skinny_linear_bench [--threads 2] [--repeats 5]

#include <cstdio>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bench/bench_common.h"
#include "policy/skinny_linear.h"

namespace aha::bench {
namespace {

struct Matrix {
  std::string name;
  int64_t out, in, copies;
};

absl::Status Run(int argc, char** argv) {
  auto flags = ParseBenchFlags(argc, argv, "skinny_linear_bench", "[--threads N] [--repeats N]",
                               WithCommonFlags({}));
  if (!flags.ok()) return flags.status();
  auto common = ReadCommonFlags(*flags);
  if (!common.ok()) return common.status();
  PrintSetup(*common);
  std::printf("AVX-512 loop available: %s\n", SkinnyLinearAvailable() ? "yes" : "no");

  // The 0.5B shape: E 896, MLP 4864, 2 KV heads of 64, vocabulary 151936 (tied output).
  const std::vector<Matrix> matrices = {
      {"q_proj / o_proj (896 x 896)", 896, 896, 24},
      {"k_proj (128 x 896)", 128, 896, 24},
      {"gate_proj (4864 x 896)", 4864, 896, 24},
      {"down_proj (896 x 4864)", 896, 4864, 24},
      {"output (151936 x 896)", 151936, 896, 1},
  };
  MarkdownTable table({"matrix", "rows", "aha::Linear ms", "GB/s", "torch linear ms", "GB/s",
                       "speed-up"});
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  for (const Matrix& matrix : matrices) {
    std::vector<torch::Tensor> weights;
    for (int64_t c = 0; c < matrix.copies; ++c) {
      weights.push_back(torch::randn({matrix.out, matrix.in}).to(common->dtype));
    }
    const double bytes = static_cast<double>(torch::elementSize(common->dtype)) * matrix.out *
                         matrix.in * matrix.copies;
    for (int64_t rows : {1, 4, 8, 16, 32, 64}) {
      auto x = torch::randn({rows, matrix.in}).to(common->dtype);
      const RunTimes ours = TimeRuns(common->repeats, [&] {
        for (const auto& w : weights) Linear(x, w, torch::Tensor());
      });
      const RunTimes theirs = TimeRuns(common->repeats, [&] {
        for (const auto& w : weights) torch::nn::functional::linear(x, w);
      });
      table.AddRow({matrix.name, std::to_string(rows),
                    Fixed(ours.min_s * 1e3 / matrix.copies, 3),
                    Fixed(bytes / ours.min_s / 1e9, 1),
                    Fixed(theirs.min_s * 1e3 / matrix.copies, 3),
                    Fixed(bytes / theirs.min_s / 1e9, 1),
                    Fixed(theirs.min_s / ours.min_s, 2) + "x"});
    }
  }
  table.Print();
  return absl::OkStatus();
}

}  // namespace
}  // namespace aha::bench

int main(int argc, char** argv) {
  return aha::bench::ExitCode("skinny_linear_bench", aha::bench::Run(argc, argv));
}
