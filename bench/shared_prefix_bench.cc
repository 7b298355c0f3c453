// Measures what sharing the prompt's KV prefix across a group saves: GroupSampler with B
// prompts and G samples each (one prefill per prompt, prefix read once per group) against the
// same B*G samples given as B*G copies of the prompts with G = 1 (a prefill and a prefix per
// sample).
//
// Shapes: B prompts, G samples per prompt, N = B*G rows, P prompt length, C new tokens.
#include <cstdio>

#include <torch/torch.h>

#include "base/status_macros.h"
#include "bench/bench_common.h"
#include "bench/policy_shapes.h"
#include "policy/group_sampler.h"

namespace aha::bench {
namespace {

struct PrefixSizes {
  int64_t prompts = 0;     // B
  int64_t group = 0;       // G
  int64_t prompt_len = 0;  // P
  int64_t new_tokens = 0;  // C
};

void BenchShape(const NamedShape& shape, const PrefixSizes& sizes, const CommonFlags& common,
                MarkdownTable& table) {
  torch::NoGradGuard no_grad;
  CausalLm model = MakeBenchModel(shape.config, common.dtype, /*seed=*/1);
  GroupSampler sampler(model, /*tokenizer=*/nullptr);
  const auto prompts =
      RandomPrompts(sizes.prompts, sizes.prompt_len, shape.config.vocab_size, /*seed=*/2);
  std::vector<std::vector<int32_t>> copies;  // (B*G) prompts, each repeated G times in a row
  for (const auto& prompt : prompts) copies.insert(copies.end(), sizes.group, prompt);

  GroupSamplerOptions shared;
  shared.group_size = sizes.group;
  shared.max_new_tokens = sizes.new_tokens;
  shared.seed = 3;
  GroupSamplerOptions copied = shared;
  copied.group_size = 1;

  GroupSamplerOptions warm_up = copied;
  warm_up.max_new_tokens = 2;
  sampler.Sample(copies, warm_up);
  int64_t shared_tokens = 0, copied_tokens = 0;
  const RunTimes shared_times = TimeRuns(common.repeats, [&] {
    shared_tokens = sampler.Sample(prompts, shared).generated_tokens;
  });
  const RunTimes copied_times = TimeRuns(common.repeats, [&] {
    copied_tokens = sampler.Sample(copies, copied).generated_tokens;
  });
  TORCH_CHECK(shared_tokens == copied_tokens, "both runs must generate the same token count, "
              "got ", shared_tokens, " and ", copied_tokens);

  table.AddRow({shape.name, DtypeName(common.dtype),
                std::to_string(sizes.prompts) + "x" + std::to_string(sizes.group),
                std::to_string(sizes.prompt_len), std::to_string(sizes.new_tokens),
                Fixed(shared_times.min_s, 3) + " / " + Fixed(shared_times.median_s, 3),
                Fixed(copied_times.min_s, 3) + " / " + Fixed(copied_times.median_s, 3),
                Fixed(copied_times.min_s / shared_times.min_s, 2) + "x",
                Fixed(copied_times.median_s / shared_times.median_s, 2) + "x"});
}

absl::Status Run(int argc, char** argv) {
  auto extra = ShapeFlagSpecs("tiny");
  extra.push_back({"batch", "B prompts (default 2, 1 with --quick)"});
  extra.push_back({"group", "G samples per prompt (default 8)"});
  extra.push_back({"prompt-len", "P prompt tokens (default 256)"});
  extra.push_back({"new-tokens", "C tokens generated per sample (default 64, 16 with --quick)"});
  const auto specs = WithCommonFlags(extra);
  ASSIGN_OR_RETURN(cli::ParsedFlags flags,
                   ParseBenchFlags(argc, argv, "shared_prefix_bench",
                                   "usage: shared_prefix_bench [--quick] [flags]", specs));
  ASSIGN_OR_RETURN(CommonFlags common, ReadCommonFlags(flags));
  ASSIGN_OR_RETURN(std::vector<NamedShape> shapes, ReadShapes(flags, "tiny"));
  PrefixSizes sizes;
  ASSIGN_OR_RETURN(sizes.prompts, GetPositive(flags, "batch", common.quick ? 1 : 2));
  ASSIGN_OR_RETURN(sizes.group, GetPositive(flags, "group", 8));
  ASSIGN_OR_RETURN(sizes.prompt_len, GetPositive(flags, "prompt-len", 256));
  ASSIGN_OR_RETURN(sizes.new_tokens, GetPositive(flags, "new-tokens", common.quick ? 16 : 64));
  PrintSetup(common);

  MarkdownTable table({"model", "dtype", "BxG", "P", "C", "shared prefix s (min / med)",
                       "prompt copies s (min / med)", "speed-up (min)", "speed-up (med)"});
  for (const NamedShape& shape : shapes) BenchShape(shape, sizes, common, table);
  table.Print();
  return absl::OkStatus();
}

}  // namespace
}  // namespace aha::bench

int main(int argc, char** argv) {
  return aha::bench::ExitCode("shared_prefix_bench", aha::bench::Run(argc, argv));
}
