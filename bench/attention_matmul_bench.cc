// Attention's batched matmuls through BatchedMatmul (policy/batched_matmul.h) against
// torch::matmul, forward alone and forward + backward, on the shapes the policy benches use.
//
//   build/bench/attention_matmul_bench [--threads 2] [--repeats 20]

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bench/bench_common.h"
#include "policy/batched_matmul.h"

namespace aha::bench {
namespace {

struct Case {
  std::string name;
  // a (..., M, K) and b (..., K, N), laid out as the attention code makes them.
  std::function<std::pair<torch::Tensor, torch::Tensor>()> make;
};

// q (N, K, R*T, D) against keys (N, K, T, D) that are a transposed (N, T, K, D) projection.
Case Scores(const std::string& name, int64_t n, int64_t kv_heads, int64_t r, int64_t t,
            int64_t d) {
  return {name, [=] {
            auto q = torch::randn({n, kv_heads, r * t, d});
            auto k = torch::randn({n, t, kv_heads, d}).transpose(1, 2);
            return std::make_pair(q, k.transpose(-1, -2));
          }};
}

// probs (N, K, R*T, T) against values laid out like the keys above.
Case Values(const std::string& name, int64_t n, int64_t kv_heads, int64_t r, int64_t t,
            int64_t d) {
  return {name, [=] {
            auto probs = torch::softmax(torch::randn({n, kv_heads, r * t, t}), -1);
            auto v = torch::randn({n, t, kv_heads, d}).transpose(1, 2);
            return std::make_pair(probs, v);
          }};
}

// One decode step's completion scores: q (N, K, R, D) against the first s of S cached keys.
Case DecodeScores(const std::string& name, int64_t n, int64_t kv_heads, int64_t r, int64_t s,
                  int64_t capacity, int64_t d) {
  return {name, [=] {
            auto q = torch::randn({n, kv_heads, r, d});
            auto cache = torch::randn({n, kv_heads, capacity, d});
            return std::make_pair(q, cache.narrow(2, 0, s).transpose(-1, -2));
          }};
}

double Flops(const torch::Tensor& a, const torch::Tensor& b) {
  return 2.0 * static_cast<double>(a.numel()) * static_cast<double>(b.size(-1));
}

absl::Status Run(int argc, char** argv) {
  auto flags = ParseBenchFlags(argc, argv, "attention_matmul_bench",
                               "[--threads N] [--repeats N]", WithCommonFlags({}));
  if (!flags.ok()) return flags.status();
  auto common = ReadCommonFlags(*flags);
  if (!common.ok()) return common.status();
  // Each call takes microseconds to milliseconds, so every measurement takes at least 20 runs.
  const int repeats = std::max(common->repeats, 20);
  PrintSetup(*common);
  std::printf("timed runs per measurement: %d\n", repeats);
  std::printf("BatchedMatmul calls sgemm_ directly: %s\n",
              BatchedMatmulUsesBlas() ? "yes" : "no (AHA_BATCHED_MATMUL=torch or no BLAS)");

  // The tiny model has 4 heads on 2 KV heads of D 32, with a train pass of 16 rows of 128
  // tokens. The 0.5B shape has 14 heads on 2 KV heads of D 64, with 2 rows of 128 tokens.
  const std::vector<Case> cases = {
      Scores("tiny train scores (16, 2, 256, 32) x (32, 128)", 16, 2, 2, 128, 32),
      Values("tiny train values (16, 2, 256, 128) x (128, 32)", 16, 2, 2, 128, 32),
      DecodeScores("tiny decode scores (16, 2, 2, 32) x (32, 64 of 192)", 16, 2, 2, 64, 192, 32),
      Scores("0.5B train scores (2, 2, 896, 64) x (64, 128)", 2, 2, 7, 128, 64),
      Values("0.5B train values (2, 2, 896, 128) x (128, 64)", 2, 2, 7, 128, 64),
  };
  using Matmul = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;
  const std::vector<std::pair<std::string, Matmul>> ways = {
      {"BatchedMatmul", [](const auto& a, const auto& b) { return BatchedMatmul(a, b); }},
      {"torch::matmul", [](const auto& a, const auto& b) { return torch::matmul(a, b); }},
  };

  MarkdownTable table({"shape", "path", "forward us (min / med)", "forward GFLOP/s",
                       "forward + backward us (min / med)", "forward + backward GFLOP/s"});
  torch::manual_seed(0);
  for (const Case& c : cases) {
    auto [a, b] = c.make();
    const double flops = Flops(a, b);
    for (const auto& [way_name, matmul] : ways) {
      RunTimes forward;
      {
        torch::NoGradGuard no_grad;
        forward = TimeRuns(repeats, [&, &matmul = matmul] { matmul(a, b); });
      }
      auto a_grad = a.detach().requires_grad_(true);
      auto b_grad = b.detach().requires_grad_(true);
      auto grad_out = torch::ones_like(torch::matmul(a, b));
      const RunTimes both = TimeRuns(repeats, [&, &matmul = matmul] {
        matmul(a_grad, b_grad).backward(grad_out);
      });
      table.AddRow({c.name, way_name,
                    Fixed(forward.min_s * 1e6, 0) + " / " + Fixed(forward.median_s * 1e6, 0),
                    Fixed(flops / forward.min_s / 1e9, 1),
                    Fixed(both.min_s * 1e6, 0) + " / " + Fixed(both.median_s * 1e6, 0),
                    Fixed(3 * flops / both.min_s / 1e9, 1)});
    }
  }
  table.Print();
  return absl::OkStatus();
}

}  // namespace
}  // namespace aha::bench

int main(int argc, char** argv) {
  return aha::bench::ExitCode("attention_matmul_bench", aha::bench::Run(argc, argv));
}
