// Command reward overhead per batch: a python3 child that parses the JSON request and replies
// with zeros, so the time is the JSON encoding, the pipe round trip and Python's parse. The
// format reward on the same batch is the in-process baseline.
//   build-rewards/bench/command_reward_bench --benchmark_min_time=2
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "rewards/reward_set.h"
#include "yaml-cpp/yaml.h"

namespace {

constexpr char kTrivialScript[] =
    "import json, sys\n"
    "for line in sys.stdin:\n"
    "    n = len(json.loads(line)['samples'])\n"
    "    sys.stdout.write(json.dumps([0.0] * n) + '\\n')\n"
    "    sys.stdout.flush()\n";

// A batch of `size` samples with 1,000-character completions, about 250 tokens each.
std::vector<aha::RewardSample> MakeBatch(int64_t size) {
  std::vector<aha::RewardSample> samples(static_cast<size_t>(size));
  for (aha::RewardSample& sample : samples) {
    sample.prompt = std::string(200, 'p');
    sample.completion = "<think>" + std::string(975, 'c') + "</think><answer>1</answer>";
    sample.ground_truth = "1";
    sample.fields = {{"nums", {1, 2, 3}}, {"target", 6}};
    sample.num_tokens = 250;
  }
  return samples;
}

void RunScoreBatch(benchmark::State& state, const YAML::Node& rewards) {
  auto set = aha::RewardSet::FromYaml(rewards, "bench");
  if (!set.ok()) {
    state.SkipWithError(std::string(set.status().message()).c_str());
    return;
  }
  std::vector<aha::RewardSample> samples = MakeBatch(state.range(0));
  for (auto _ : state) {
    auto scored = set->ScoreBatch(samples);
    if (!scored.ok() || scored->error_counts[0] != 0) {
      state.SkipWithError("the batch failed");
      return;
    }
    benchmark::DoNotOptimize(scored->total.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_PythonCommandBatch(benchmark::State& state) {
  YAML::Node rewards = YAML::Load("[{name: trivial, timeout_seconds: 60}]");
  YAML::Node command;
  command.push_back("python3");
  command.push_back("-c");
  command.push_back(kTrivialScript);
  rewards[0]["command"] = command;
  RunScoreBatch(state, rewards);
}
BENCHMARK(BM_PythonCommandBatch)
    ->Arg(1)
    ->Arg(64)
    ->Arg(256)
    ->UseRealTime()  // the child works while the parent waits in poll
    ->Unit(benchmark::kMicrosecond);

void BM_FormatRewardBatch(benchmark::State& state) {
  RunScoreBatch(state, YAML::Load("[{name: format}]"));
}
BENCHMARK(BM_FormatRewardBatch)->Arg(64)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
