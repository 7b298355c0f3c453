// Measures one training step of the policy: ScoreTokens (the chunked log-prob forward),
// backward and the optimizer step the trainers take (aha::Optimizer: gradient clipping and
// FusedAdamW), in tokens/s and GFLOP/s against the measured matmul peak. --torch-adamw times
// LibTorch's clip_grad_norm_ and torch::optim::AdamW instead, the optimizer aha used before.
//
// Shapes: N rows, P prompt tokens, C scored completion tokens, T = P + C.
#include <chrono>
#include <cstdio>

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "absl/strings/str_replace.h"
#include "base/status_macros.h"
#include "bench/bench_common.h"
#include "bench/machine_limits.h"
#include "bench/policy_shapes.h"
#include "policy/grad_in_place.h"
#include "policy/token_scoring.h"
#include "trainer/optimizer.h"

namespace aha::bench {
namespace {

struct TrainSizes {
  int64_t rows = 0;        // N
  int64_t prompt_len = 0;  // P
  int64_t scored = 0;      // C
};

// Defaults per shape. The demo model gets its GRPO batch (2 prompts x 8 samples). The 0.5B
// shape gets a short batch because its step costs about 100x more per token.
absl::StatusOr<TrainSizes> ReadSizes(const cli::ParsedFlags& flags, const NamedShape& shape,
                                     bool quick) {
  const bool tiny = shape.config.vocab_size < 1000;
  TrainSizes defaults;
  if (tiny) {
    defaults = quick ? TrainSizes{8, 150, 64} : TrainSizes{16, 150, 200};
  } else {
    defaults = quick ? TrainSizes{1, 32, 32} : TrainSizes{2, 64, 64};
  }
  TrainSizes sizes;
  ASSIGN_OR_RETURN(sizes.rows, GetPositive(flags, "rows", defaults.rows));
  ASSIGN_OR_RETURN(sizes.prompt_len, GetPositive(flags, "prompt-len", defaults.prompt_len));
  ASSIGN_OR_RETURN(sizes.scored, GetPositive(flags, "new-tokens", defaults.scored));
  return sizes;
}

void BenchShape(const NamedShape& shape, const TrainSizes& sizes, const CommonFlags& common,
                bool torch_adamw, const std::string& profile_path, const MachineLimits& limits,
                MarkdownTable& table) {
  const ModelConfig& config = shape.config;
  CausalLm model = MakeBenchModel(config, common.dtype, /*seed=*/1);
  model->train();
  const int64_t t = sizes.prompt_len + sizes.scored;
  ScoreRequest request;
  request.ids = torch::randint(config.vocab_size, {sizes.rows, t}, torch::kInt64);  // (N, T)
  request.valid = torch::ones({sizes.rows, t}, torch::kBool);
  request.first_target = sizes.prompt_len;
  OptimizerOptions options;
  options.lr = 1e-6;
  options.max_grad_norm = 1.0;
  Optimizer optimizer(model->parameters(), options, /*total_steps=*/1000);
  torch::optim::AdamW torch_optimizer(model->parameters(), torch::optim::AdamWOptions(1e-6));
  auto optimizer_step = [&] {
    if (!torch_adamw) {
      optimizer.Step();
      return;
    }
    torch::nn::utils::clip_grad_norm_(model->parameters(), options.max_grad_norm);
    torch_optimizer.step();
    torch_optimizer.zero_grad();
  };

  // Phase times of the last step: forward, backward, optimizer (with zeroing the gradients).
  double phase_s[3] = {0, 0, 0};
  auto step = [&] {
    const auto start = std::chrono::steady_clock::now();
    TokenScores scores = ScoreTokens(model, request);  // (N, C)
    auto loss = -scores.logprobs.mean();
    const auto forward_end = std::chrono::steady_clock::now();
    {
      AccumulateGradsInPlace in_place;  // as the trainers run their backward passes
      loss.backward();
    }
    const auto backward_end = std::chrono::steady_clock::now();
    optimizer_step();
    const auto end = std::chrono::steady_clock::now();
    phase_s[0] = std::chrono::duration<double>(forward_end - start).count();
    phase_s[1] = std::chrono::duration<double>(backward_end - forward_end).count();
    phase_s[2] = std::chrono::duration<double>(end - backward_end).count();
  };
  step();  // allocates gradients and AdamW state
  const RunTimes times = TimeRuns(common.repeats, step);
  if (!profile_path.empty()) {
    // One more step under LibTorch's operator profiler, after the timed ones so that it does
    // not slow them. scripts/profile_summary.py sums the trace by operator.
    // "tiny E128 L4" becomes "tiny-E128-L4": a file name without spaces.
    const std::string path =
        profile_path + "." + absl::StrReplaceAll(shape.name, {{" ", "-"}}) + ".json";
    {
      torch::autograd::profiler::RecordProfile profile(path);
      step();
    }
    std::printf("wrote the operator profile of one step to %s\n", path.c_str());
  }

  const double flops = TrainStepFlops(config, sizes.rows, t, sizes.scored);
  const double gflops = flops / times.min_s / 1e9;
  const double params = static_cast<double>(ParameterCount(model));
  const double simple_gflops = 6.0 * params * sizes.rows * t / times.min_s / 1e9;
  table.AddRow({shape.name, DtypeName(common.dtype), torch_adamw ? "torch" : "aha", Fixed(params / 1e6, 1),
                std::to_string(sizes.rows), std::to_string(t), std::to_string(sizes.scored),
                Fixed(times.min_s, 3) + " / " + Fixed(times.median_s, 3),
                Fixed(sizes.rows * t / times.min_s, 0), Fixed(gflops, 1),
                Percent(gflops, limits.PeakGflops(common.dtype)), Fixed(simple_gflops, 1),
                Fixed(phase_s[0], 3) + " / " + Fixed(phase_s[1], 3) + " / " +
                    Fixed(phase_s[2], 3)});
}

absl::Status Run(int argc, char** argv) {
  auto extra = ShapeFlagSpecs("both");
  extra.push_back({"rows", "N rows per step (default per model, see docs/benchmarks.md)"});
  extra.push_back({"prompt-len", "P prompt tokens per row (run through the model, not scored)"});
  extra.push_back({"new-tokens", "C scored completion tokens per row"});
  extra.push_back({"profile", "also write one step's operator profile to PREFIX.MODEL.json"});
  extra.push_back({"torch-adamw",
                   "time LibTorch's clip_grad_norm_ and AdamW instead of aha's Optimizer", true});
  const auto specs = WithCommonFlags(extra);
  ASSIGN_OR_RETURN(cli::ParsedFlags flags,
                   ParseBenchFlags(argc, argv, "train_step_bench",
                                   "usage: train_step_bench [--quick] [flags]", specs));
  ASSIGN_OR_RETURN(CommonFlags common, ReadCommonFlags(flags));
  ASSIGN_OR_RETURN(std::vector<NamedShape> shapes, ReadShapes(flags, "both"));
  std::vector<TrainSizes> sizes;
  for (const NamedShape& shape : shapes) {
    ASSIGN_OR_RETURN(TrainSizes s, ReadSizes(flags, shape, common.quick));
    sizes.push_back(s);
  }
  PrintSetup(common);

  const MachineLimits limits = MeasureAndPrintLimits(common.quick);

  MarkdownTable table({"model", "dtype", "optimizer", "params (M)", "N", "T", "C", "step s (min / med)",
                       "tokens/s", "GFLOP/s", "of matmul peak", "6*params*tokens GFLOP/s",
                       "last step: fwd / bwd / optimizer s"});
  for (size_t i = 0; i < shapes.size(); ++i) {
    BenchShape(shapes[i], sizes[i], common, flags.Has("torch-adamw"), flags.GetOr("profile", ""),
               limits, table);
  }
  table.Print();
  return absl::OkStatus();
}

}  // namespace
}  // namespace aha::bench

int main(int argc, char** argv) {
  return aha::bench::ExitCode("train_step_bench", aha::bench::Run(argc, argv));
}
