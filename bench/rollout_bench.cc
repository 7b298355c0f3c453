// Measures GroupSampler throughput for B prompts x G samples: prefill as a fraction of the
// matmul peak, and decode tokens/s as a fraction of the memory-bandwidth bound (each decode
// step reads all weights and the KV cache). Random weights, no EOS, so every sample runs to
// --new-tokens.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows, P prompt length, C new tokens.
#include <cstdio>

#include <torch/torch.h>

#include "base/status_macros.h"
#include "bench/bench_common.h"
#include "bench/machine_limits.h"
#include "bench/policy_shapes.h"
#include "policy/group_sampler.h"

namespace aha::bench {
namespace {

struct RolloutSizes {
  int64_t prompts = 0;      // B
  int64_t group = 0;        // G
  int64_t prompt_len = 0;   // P
  int64_t new_tokens = 0;   // C
};

// Defaults per shape: the demo model's real sizes; fewer and shorter samples for the
// 0.5B shape, whose decode steps cost about 100x more.
absl::StatusOr<RolloutSizes> ReadSizes(const cli::ParsedFlags& flags, const NamedShape& shape,
                                       bool quick) {
  const bool tiny = shape.config.vocab_size < 1000;
  RolloutSizes defaults;
  if (tiny) {
    defaults = quick ? RolloutSizes{2, 4, 150, 64} : RolloutSizes{4, 8, 150, 200};
  } else {
    defaults = quick ? RolloutSizes{1, 2, 32, 8} : RolloutSizes{2, 4, 64, 32};
  }
  RolloutSizes sizes;
  ASSIGN_OR_RETURN(sizes.prompts, GetPositive(flags, "batch", defaults.prompts));
  ASSIGN_OR_RETURN(sizes.group, GetPositive(flags, "group", defaults.group));
  ASSIGN_OR_RETURN(sizes.prompt_len, GetPositive(flags, "prompt-len", defaults.prompt_len));
  ASSIGN_OR_RETURN(sizes.new_tokens, GetPositive(flags, "new-tokens", defaults.new_tokens));
  return sizes;
}

void BenchShape(const NamedShape& shape, const RolloutSizes& sizes, const CommonFlags& common,
                const MachineLimits& limits, MarkdownTable& table) {
  torch::NoGradGuard no_grad;
  const ModelConfig& config = shape.config;
  CausalLm model = MakeBenchModel(config, common.dtype, /*seed=*/1);
  const auto prompts = RandomPrompts(sizes.prompts, sizes.prompt_len, config.vocab_size, 2);
  GroupSampler sampler(model, /*tokenizer=*/nullptr);
  GroupSamplerOptions options;
  options.group_size = sizes.group;
  options.max_new_tokens = sizes.new_tokens;
  options.seed = 3;

  // Prefill alone, as the sampler runs it: the prompts' hidden states and caches, then the
  // logits of each prompt's last token.
  auto [ids, mask] = LeftPad(prompts, /*pad_id=*/0, torch::kCPU);  // (B, P)
  auto positions = PositionsFromMask(mask);
  auto allowed = BuildAttentionMask(mask);
  auto prefill = [&] {
    std::vector<LayerKv> kv;
    auto hidden = model->Hidden(ids, positions, allowed, &kv);  // (B, P, E)
    model->Logits(hidden.select(1, sizes.prompt_len - 1));
  };
  prefill();
  const RunTimes prefill_times = TimeRuns(common.repeats, prefill);

  Rollouts last;
  GroupSamplerOptions warm_up = options;
  warm_up.max_new_tokens = 2;
  sampler.Sample(prompts, warm_up);
  const RunTimes sample_times =
      TimeRuns(common.repeats, [&] { last = sampler.Sample(prompts, options); });

  const double prefill_flops = ForwardFlops(config, sizes.prompts * sizes.prompt_len,
                                            sizes.prompt_len, sizes.prompts);
  const double prefill_gflops = prefill_flops / prefill_times.min_s / 1e9;
  // Decode time is the sampler's time without its prefill; both from their fastest runs.
  const double decode_s = sample_times.min_s - prefill_times.min_s;
  const double decode_median_s = sample_times.median_s - prefill_times.median_s;
  const int64_t element_bytes = common.dtype == torch::kBFloat16 ? 2 : 4;
  const double decode_bytes = DecodeBytes(config, element_bytes, sizes.prompts,
                                          sizes.prompts * sizes.group, sizes.prompt_len,
                                          last.decode_steps);
  const double decode_gbs = decode_bytes / decode_s / 1e9;

  table.AddRow({shape.name, DtypeName(common.dtype),
                std::to_string(sizes.prompts) + "x" + std::to_string(sizes.group),
                std::to_string(sizes.prompt_len), std::to_string(last.decode_steps),
                Fixed(prefill_times.min_s * 1e3, 1) + " / " +
                    Fixed(prefill_times.median_s * 1e3, 1),
                Fixed(prefill_gflops, 1),
                Percent(prefill_gflops, limits.PeakGflops(common.dtype)),
                Fixed(decode_s, 3) + " / " + Fixed(decode_median_s, 3),
                Fixed(last.generated_tokens / decode_s, 0),
                Fixed(decode_s / last.decode_steps * 1e3, 2), Fixed(decode_gbs, 1),
                Percent(decode_gbs, limits.bandwidth_gbs),
                Fixed(last.generated_tokens / sample_times.min_s, 0)});
}

absl::Status Run(int argc, char** argv) {
  auto extra = ShapeFlagSpecs("both");
  extra.push_back({"batch", "B prompts (default per model, see docs/benchmarks.md)"});
  extra.push_back({"group", "G samples per prompt"});
  extra.push_back({"prompt-len", "P prompt tokens"});
  extra.push_back({"new-tokens", "C tokens generated per sample (no EOS, so exactly C)"});
  const auto specs = WithCommonFlags(extra);
  ASSIGN_OR_RETURN(cli::ParsedFlags flags,
                   ParseBenchFlags(argc, argv, "rollout_bench",
                                   "usage: rollout_bench [--quick] [flags]", specs));
  ASSIGN_OR_RETURN(CommonFlags common, ReadCommonFlags(flags));
  ASSIGN_OR_RETURN(std::vector<NamedShape> shapes, ReadShapes(flags, "both"));
  std::vector<RolloutSizes> sizes;
  for (const NamedShape& shape : shapes) {
    ASSIGN_OR_RETURN(RolloutSizes s, ReadSizes(flags, shape, common.quick));
    sizes.push_back(s);
  }
  PrintSetup(common);

  const MachineLimits limits = MeasureAndPrintLimits(common.quick);

  MarkdownTable table({"model", "dtype", "BxG", "P", "C", "prefill ms (min / med)",
                       "prefill GFLOP/s", "of matmul peak", "decode s (min / med)",
                       "decode tok/s", "ms/step", "decode GB/s", "of copy GB/s",
                       "sample tok/s"});
  for (size_t i = 0; i < shapes.size(); ++i) {
    BenchShape(shapes[i], sizes[i], common, limits, table);
  }
  table.Print();
  return absl::OkStatus();
}

}  // namespace
}  // namespace aha::bench

int main(int argc, char** argv) {
  return aha::bench::ExitCode("rollout_bench", aha::bench::Run(argc, argv));
}
