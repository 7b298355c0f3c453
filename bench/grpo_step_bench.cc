// Measures whole GRPO steps (rollout, rewards, mu training passes and the optimizer step)
// through GrpoTrainer, the code `aha train` runs, on a random model with a fixed completion
// length. It also writes that model as a Hugging Face folder, so that scripts/bench_peer.py
// can time TRL and transformers on the same weights.
//
// Shapes: B prompts, G samples per prompt, N = B*G rows, P prompt length, C completion
// length, T = P + C, V vocabulary.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/large_block_cache.h"
#include "base/status_macros.h"
#include "base/yaml_map.h"
#include "bench/bench_common.h"
#include "bench/machine_limits.h"
#include "bench/policy_shapes.h"
#include "policy/char_tokenizer.h"
#include "policy/model_yaml.h"
#include "policy/policy_io.h"
#include "trainer/grpo_config.h"
#include "trainer/grpo_trainer.h"

namespace aha::bench {
namespace {

namespace fs = std::filesystem;

struct StepSizes {
  int64_t batch = 0;        // B
  int64_t group = 0;        // G
  int64_t prompt_len = 0;   // P
  int64_t new_tokens = 0;   // C
  int64_t updates = 0;      // mu
  int64_t warmup = 0;       // untimed steps before the timed ones
  bool share_prompts = true;  // grpo.share_prompt_prefix
  int64_t rows() const { return batch * group; }
};

// A random model and the vocabulary written next to it.
struct BenchModel {
  std::string name;
  ModelConfig config;
  CharVocabSpec vocab;
  double init_std = 0.02;
};

// The demo model: the `model:` and `tokenizer:` sections of `config_path`
// (configs/tiny_pretrain.yaml by default).
// ", large blocks: H hits, M misses, X MiB cached" since *before, which it then updates;
// empty when the cache is off. A step that misses allocates afresh and page-faults.
std::string CacheActivity(LargeBlockCacheStats* before) {
  const LargeBlockCache* cache = InstalledLargeBlockCache();
  if (cache == nullptr) return "";
  const LargeBlockCacheStats now = cache->stats();
  const std::string text =
      absl::StrFormat(", large blocks: %d hits, %d misses, %d MiB cached",
                      now.hits - before->hits, now.misses - before->misses,
                      static_cast<int64_t>(now.cached_bytes >> 20));
  *before = now;
  return text;
}

absl::StatusOr<BenchModel> TinyModel(const std::string& config_path) {
  ASSIGN_OR_RETURN(YAML::Node node, LoadYamlFile(config_path));
  ASSIGN_OR_RETURN(YamlMap root, YamlMap::Create(node, config_path, ""));
  ASSIGN_OR_RETURN(NewModelSpec spec, ParseNewModelSpec(root));
  return BenchModel{"tiny", spec.config, spec.tokenizer.spec(), spec.init_std};
}

// Qwen2.5-0.5B's shape with a character vocabulary of V entries: the pad and unk tokens, the
// ten digits the prompts use, then distinct code points from U+0100 upward, so that every id
// is one character and a Hugging Face tokenizer can be built from vocab.json alone.
BenchModel QwenShapedModel() {
  BenchModel model{"qwen0.5b-shaped", Qwen05bShapedConfig(), {}, 0.02};
  CharVocabSpec& vocab = model.vocab;
  vocab.tokens = {"<|endoftext|>", "<unk>"};
  for (char digit = '0'; digit <= '9'; ++digit) vocab.tokens.push_back(std::string(1, digit));
  uint32_t code_point = 0x100;
  while (static_cast<int64_t>(vocab.tokens.size()) < model.config.vocab_size) {
    const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
    const bool noncharacter = (code_point >= 0xFDD0 && code_point <= 0xFDEF) ||
                              (code_point & 0xFFFE) == 0xFFFE;
    if (!surrogate && !noncharacter) {
      std::string utf8;
      if (code_point < 0x800) {
        utf8 += static_cast<char>(0xC0 | (code_point >> 6));
      } else if (code_point < 0x10000) {
        utf8 += static_cast<char>(0xE0 | (code_point >> 12));
        utf8 += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      } else {
        utf8 += static_cast<char>(0xF0 | (code_point >> 18));
        utf8 += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
        utf8 += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      }
      utf8 += static_cast<char>(0x80 | (code_point & 0x3F));
      vocab.tokens.push_back(std::move(utf8));
    }
    ++code_point;
  }
  vocab.pad = "<|endoftext|>";
  return model;
}

// Writes the model with random weights (float32) and its vocabulary without an EOS token, so
// that every completion runs to exactly C tokens in aha and in the peer. config.json names no
// EOS either: generation would fall back to its eos_token_id.
absl::Status SaveModelFolder(BenchModel model, const std::string& dir) {
  model.vocab.eos.clear();
  model.config.eos_token_ids.clear();
  if (!model.vocab.pad) model.vocab.pad = model.vocab.tokens.front();
  ASSIGN_OR_RETURN(CharTokenizer tokenizer, CharTokenizer::Create(model.vocab));
  if (tokenizer.VocabSize() != model.config.vocab_size) {
    return absl::InternalError(absl::StrCat("the vocabulary has ", tokenizer.VocabSize(),
                                            " tokens but the model expects ",
                                            model.config.vocab_size));
  }
  CausalLm lm(model.config);
  InitializeWeights(*lm, model.init_std, /*seed=*/1);
  RETURN_IF_ERROR(tokenizer.Save(dir));
  SaveOptions save;
  save.dtype = torch::kFloat32;
  return SavePolicy(lm, dir, dir, save);
}

// Prompts of P random digits, one token each in the char vocabulary; 4 batches' worth so the
// data iterator never runs dry.
absl::Status WritePrompts(const std::string& path, const StepSizes& sizes) {
  std::ofstream out(path);
  if (!out) return absl::InternalError("cannot write " + path);
  std::mt19937_64 engine(7);
  std::uniform_int_distribution<int> digit('0', '9');
  for (int64_t i = 0; i < 4 * sizes.batch; ++i) {
    std::string prompt;
    for (int64_t j = 0; j < sizes.prompt_len; ++j) prompt += static_cast<char>(digit(engine));
    out << nlohmann::json{{"question", prompt}, {"answer", "0"}}.dump() << "\n";
  }
  return out.good() ? absl::OkStatus() : absl::InternalError("failed writing " + path);
}

// A run config for `aha train` with no KL term (no reference model), no evaluation and no
// samples file, a micro-batch of all N rows and lr 1e-6.
absl::Status WriteRunConfig(const std::string& path, const std::string& work_dir,
                            const std::string& model_dir, const StepSizes& sizes,
                            const CommonFlags& common, int64_t steps) {
  std::ofstream out(path);
  if (!out) return absl::InternalError("cannot write " + path);
  out << "run:\n  out_dir: " << work_dir << "/run\n  seed: 0\n  threads: " << common.threads
      << "\n  device: cpu\n"
      << "policy:\n  path: " << model_dir << "\n  dtype: "
      << (common.dtype == torch::kBFloat16 ? "bfloat16" : "float32") << "\n"
      << "data:\n  kind: jsonl\n  prompt_template: plain\n  train:\n    path: " << work_dir
      << "/prompts.jsonl\n"
      << "rewards:\n  - name: format\n"
      << "grpo:\n  steps: " << steps << "\n  prompts_per_step: " << sizes.batch
      << "\n  group_size: " << sizes.group << "\n  max_new_tokens: " << sizes.new_tokens
      << "\n  temperature: 1.0\n  kl_beta: 0.0\n  updates_per_step: " << sizes.updates
      << "\n  micro_batch_rows: " << sizes.rows()
      << "\n  share_prompt_prefix: " << (sizes.share_prompts ? "true" : "false") << "\n"
      << "optimizer:\n  lr: 1.0e-6\n  warmup_steps: 0\n"
      << "log:\n  samples_every: 0\n  eval_before_training: false\n";
  return out.good() ? absl::OkStatus() : absl::InternalError("failed writing " + path);
}

// Seconds of one step's phases.
struct StepTimes {
  double total = 0, generate = 0, reward = 0, train = 0;
};

StepTimes MinOf(const std::vector<StepTimes>& steps) {
  StepTimes best = steps.front();
  for (const StepTimes& s : steps) {
    best.total = std::min(best.total, s.total);
    best.generate = std::min(best.generate, s.generate);
    best.reward = std::min(best.reward, s.reward);
    best.train = std::min(best.train, s.train);
  }
  return best;
}

double MedianTotal(std::vector<StepTimes> steps) {
  std::sort(steps.begin(), steps.end(),
            [](const StepTimes& a, const StepTimes& b) { return a.total < b.total; });
  return steps[steps.size() / 2].total;
}

absl::StatusOr<StepSizes> ReadSizes(const cli::ParsedFlags& flags, bool tiny) {
  // The 0.5B shape costs about 100x more per token, so it gets a short default batch.
  const StepSizes defaults = tiny ? StepSizes{4, 8, 64, 128, 1, 1} : StepSizes{1, 4, 32, 32, 1, 1};
  StepSizes sizes;
  ASSIGN_OR_RETURN(sizes.batch, GetPositive(flags, "batch", defaults.batch));
  ASSIGN_OR_RETURN(sizes.group, GetPositive(flags, "group", defaults.group));
  ASSIGN_OR_RETURN(sizes.prompt_len, GetPositive(flags, "prompt-len", defaults.prompt_len));
  ASSIGN_OR_RETURN(sizes.new_tokens, GetPositive(flags, "new-tokens", defaults.new_tokens));
  ASSIGN_OR_RETURN(sizes.updates, GetPositive(flags, "updates", defaults.updates));
  ASSIGN_OR_RETURN(sizes.warmup, flags.GetInt("warmup", defaults.warmup));
  sizes.share_prompts = !flags.Has("full-rows");
  if (sizes.group < 2) return absl::InvalidArgumentError("--group must be at least 2");
  if (sizes.warmup < 0) return absl::InvalidArgumentError("--warmup must be 0 or more");
  return sizes;
}

absl::Status Run(int argc, char** argv) {
  const auto specs = WithCommonFlags({
      {"model", "tiny or qwen0.5b (default tiny)"},
      {"tiny-config", "YAML with the tiny model's model: and tokenizer: sections (default "
                      "configs/tiny_pretrain.yaml)"},
      {"batch", "B prompts per step (default 4 tiny, 1 qwen0.5b)"},
      {"group", "G completions per prompt (default 8 tiny, 4 qwen0.5b)"},
      {"prompt-len", "P prompt tokens (default 64 tiny, 32 qwen0.5b)"},
      {"new-tokens", "C completion tokens, always generated in full (default 128 tiny, 32 "
                     "qwen0.5b)"},
      {"updates", "mu training passes over each rollout (default 1)"},
      {"warmup", "untimed steps before the timed ones (default 1)"},
      {"full-rows", "train on every row's prompt and completion, as TRL does, instead of each "
                    "prompt once (grpo.share_prompt_prefix: false)", /*is_switch=*/true},
      {"profile", "after the timed steps, write one more step's operator profile to this JSON "
                  "file (scripts/profile_summary.py sums it)"},
      {"save-hf", "model folder to write the random model to and train from (default "
                  "WORK_DIR/model)"},
      {"work-dir", "folder for the prompts, the run config and the run (default "
                   "/tmp/grpo_step_bench)"},
      {"json-out", "also write the results as JSON to this file"},
  });
  ASSIGN_OR_RETURN(cli::ParsedFlags flags,
                   ParseBenchFlags(argc, argv, "grpo_step_bench",
                                   "usage: grpo_step_bench [--model tiny|qwen0.5b] [flags]",
                                   specs));
  ASSIGN_OR_RETURN(CommonFlags common, ReadCommonFlags(flags));
  const std::string model_name = flags.GetOr("model", "tiny");
  if (model_name != "tiny" && model_name != "qwen0.5b") {
    return absl::InvalidArgumentError("--model must be tiny or qwen0.5b, got '" + model_name +
                                      "'");
  }
  const bool tiny = model_name == "tiny";
  ASSIGN_OR_RETURN(StepSizes sizes, ReadSizes(flags, tiny));
  const std::string work_dir =
      fs::absolute(flags.GetOr("work-dir", "/tmp/grpo_step_bench")).string();
  const std::string model_dir =
      fs::absolute(flags.GetOr("save-hf", work_dir + "/model")).string();
  BenchModel model;
  if (tiny) {
    ASSIGN_OR_RETURN(model, TinyModel(flags.GetOr("tiny-config", "configs/tiny_pretrain.yaml")));
  } else {
    model = QwenShapedModel();
  }
  PrintSetup(common);

  // The run folder must start empty: the trainer appends to an existing metrics.jsonl.
  std::error_code error;
  fs::remove_all(work_dir + "/run", error);
  fs::create_directories(work_dir, error);
  if (error) return absl::InternalError("cannot create " + work_dir + ": " + error.message());
  RETURN_IF_ERROR(SaveModelFolder(model, model_dir));
  RETURN_IF_ERROR(WritePrompts(work_dir + "/prompts.jsonl", sizes));
  const std::string config_path = work_dir + "/grpo_step.yaml";
  const std::string profile_path = flags.GetOr("profile", "");
  // With --profile, one more step after the timed ones runs under the operator profiler.
  const int64_t timed_steps = sizes.warmup + common.repeats;
  const int64_t steps = timed_steps + (profile_path.empty() ? 0 : 1);
  RETURN_IF_ERROR(WriteRunConfig(config_path, work_dir, model_dir, sizes, common, steps));
  std::printf("model %s (%s), config %s\n", model.name.c_str(), model_dir.c_str(),
              config_path.c_str());

  const MachineLimits limits = MeasureAndPrintLimits(common.quick);

  ASSIGN_OR_RETURN(GrpoRunConfig config, LoadGrpoRunConfig(config_path));
  ASSIGN_OR_RETURN(std::unique_ptr<GrpoTrainer> trainer,
                   GrpoTrainer::Create(config, /*resume=*/false, /*progress=*/nullptr));
  std::vector<StepTimes> timed;
  LargeBlockCacheStats cache_before;
  if (const LargeBlockCache* cache = InstalledLargeBlockCache()) cache_before = cache->stats();
  for (int64_t step = 0; step < timed_steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(StepMetrics m, trainer->TrainStep());
    StepTimes t;
    t.total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    t.generate = m.seconds_generate;
    t.reward = m.seconds_reward;
    t.train = m.seconds_train;
    // The completion length is fixed, so a shorter mean means a stop the bench did not expect.
    if (m.length_mean != static_cast<double>(sizes.new_tokens)) {
      return absl::InternalError(absl::StrCat("step ", step + 1, ": mean completion length ",
                                              m.length_mean, ", expected ", sizes.new_tokens));
    }
    std::printf("step %lld%s: %.3f s (generate %.3f, reward %.4f, train %.3f)%s\n",
                static_cast<long long>(step + 1), step < sizes.warmup ? " (warm-up)" : "",
                t.total, t.generate, t.reward, t.train, CacheActivity(&cache_before).c_str());
    if (step >= sizes.warmup) timed.push_back(t);
  }

  if (!profile_path.empty()) {
    {
      torch::autograd::profiler::RecordProfile profile(profile_path);
      RETURN_IF_ERROR(trainer->TrainStep().status());
    }
    std::printf("wrote the operator profile of one more step to %s\n", profile_path.c_str());
  }

  // Rates from the fastest timed step of each phase.
  const StepTimes best = MinOf(timed);
  const ModelConfig& c = model.config;
  const int64_t n = sizes.rows(), p = sizes.prompt_len, cl = sizes.new_tokens, t = p + cl;
  const double generated = static_cast<double>(n * cl);
  // Prefill of B prompts (logits of the last token only), then N*C decode tokens whose keys
  // span P + C/2 on average.
  const double rollout_flops = ForwardFlops(c, sizes.batch * p, p, sizes.batch) +
                               ForwardFlops(c, generated, p + cl / 2.0, generated);
  // mu passes of forward + backward; with mu > 1 a no-grad pass scores the old log-probs.
  // With shared prompts, the FLOPs the model runs: B prompts and N completions, not N rows.
  double train_flops = 0;
  if (sizes.share_prompts) {
    train_flops = sizes.updates * SharedPromptTrainStepFlops(c, sizes.batch, n, p, cl);
    if (sizes.updates > 1) train_flops += SharedPromptForwardFlops(c, sizes.batch, n, p, cl);
  } else {
    train_flops = sizes.updates * TrainStepFlops(c, n, t, cl);
    if (sizes.updates > 1) train_flops += ForwardFlops(c, n * t, t, n * cl);
  }
  const double peak = limits.PeakGflops(common.dtype);
  const double rollout_gflops = rollout_flops / best.generate / 1e9;
  const double train_gflops = train_flops / best.train / 1e9;

  MarkdownTable table({"model", "dtype", "B x G", "P", "C", "mu", "step s (min / med)",
                       "generate s", "reward s", "train s", "step tokens/s", "rollout tok/s",
                       "train tok/s", "rollout of peak", "train of peak"});
  table.AddRow({model.name, DtypeName(common.dtype),
                absl::StrCat(sizes.batch, " x ", sizes.group), std::to_string(p),
                std::to_string(cl), std::to_string(sizes.updates),
                Fixed(best.total, 3) + " / " + Fixed(MedianTotal(timed), 3),
                Fixed(best.generate, 3), Fixed(best.reward, 4), Fixed(best.train, 3),
                Fixed(generated / best.total, 1), Fixed(generated / best.generate, 1),
                Fixed(sizes.updates * n * t / best.train, 1), Percent(rollout_gflops, peak),
                Percent(train_gflops, peak)});
  table.Print();

  const std::string json_path = flags.GetOr("json-out", "");
  if (!json_path.empty()) {
    nlohmann::json out = {
        {"model", model.name}, {"model_dir", model_dir}, {"dtype", DtypeName(common.dtype)},
        {"threads", common.threads}, {"batch", sizes.batch}, {"group", sizes.group},
        {"prompt_len", p}, {"new_tokens", cl}, {"updates", sizes.updates},
        {"step_s_min", best.total}, {"step_s_median", MedianTotal(timed)},
        {"generate_s", best.generate}, {"reward_s", best.reward}, {"train_s", best.train},
        {"peak_gflops", peak}, {"rollout_gflops", rollout_gflops},
        {"train_gflops", train_gflops}};
    std::ofstream file(json_path);
    file << out.dump(2) << "\n";
    if (!file.good()) return absl::InternalError("failed writing " + json_path);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace aha::bench

int main(int argc, char** argv) {
  return aha::bench::ExitCode("grpo_step_bench", aha::bench::Run(argc, argv));
}
