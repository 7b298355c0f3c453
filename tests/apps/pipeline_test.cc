#include "apps/pipeline.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/yaml_map.h"
#include "tests/unique_temp_path.h"

namespace aha::cli {
namespace {

namespace fs = std::filesystem;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = aha_test::UniqueTempPath("pipeline_test");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* name : {"a.yaml", "b.yaml"}) std::ofstream(dir_ / name) << "{}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A two-stage pipeline: sft on a.yaml, then train on b.yaml.
  std::string WriteTwoStages() {
    return Write("pipe.yaml", "stages:\n"
                              "  - name: cold_start\n"
                              "    command: sft\n"
                              "    config: " + Path("a.yaml") + "\n"
                              "    set: {train.steps: 10, data.cold_start.size: 64}\n"
                              "    flags: {threads: 2, verbose: true, quiet: false}\n"
                              "  - name: rl\n"
                              "    command: train\n"
                              "    config: " + Path("b.yaml") + "\n"
                              "    set:\n"
                              "      grpo.stop: [\"</answer>\", \"x: y\"]\n"
                              "      run.out_dir: runs/a b\n");
  }

  fs::path dir_;
};

// Records the commands it is asked to run and returns the next exit code of `codes`.
struct FakeRunner {
  std::vector<int> codes;
  std::vector<std::string> commands;
  std::vector<std::vector<std::string>> args;
  int operator()(const std::string& command, const std::vector<std::string>& a) {
    commands.push_back(command);
    args.push_back(a);
    return codes.at(commands.size() - 1);
  }
};

TEST_F(PipelineTest, StagesBecomeCommandArguments) {
  auto stages = LoadPipeline(WriteTwoStages());
  ASSERT_TRUE(stages.ok()) << stages.status();
  ASSERT_EQ(stages->size(), 2u);
  const PipelineStage& sft = (*stages)[0];
  EXPECT_EQ(sft.name, "cold_start");
  EXPECT_EQ(sft.command, "sft");
  EXPECT_EQ(sft.args, (std::vector<std::string>{"--config", Path("a.yaml"), "--set",
                                                "train.steps=10", "--set",
                                                "data.cold_start.size=64", "--threads=2",
                                                "--verbose"}));
  const PipelineStage& train = (*stages)[1];
  ASSERT_EQ(train.args.size(), 5u);
  EXPECT_EQ(train.args[0], Path("b.yaml"));
  EXPECT_EQ(train.location, Path("pipe.yaml") + ":7");

  // The --set values read back as the YAML values the pipeline file gave.
  YAML::Node root(YAML::NodeType::Map);
  ASSERT_TRUE(ApplyYamlOverrides(root, {train.args[2], train.args[4]}).ok());
  ASSERT_TRUE(root["grpo"]["stop"].IsSequence());
  EXPECT_EQ(root["grpo"]["stop"][0].as<std::string>(), "</answer>");
  EXPECT_EQ(root["grpo"]["stop"][1].as<std::string>(), "x: y");
  EXPECT_EQ(root["run"]["out_dir"].as<std::string>(), "runs/a b");
}

TEST_F(PipelineTest, RunsStagesInOrder) {
  auto stages = LoadPipeline(WriteTwoStages());
  ASSERT_TRUE(stages.ok()) << stages.status();
  FakeRunner runner{{0, 0, 0, 0}};
  std::FILE* out = std::tmpfile();
  absl::Status status = RunPipeline(*stages, "", std::ref(runner), out);
  ASSERT_TRUE(status.ok()) << status;
  // Every stage is checked first, then run.
  EXPECT_EQ(runner.commands, (std::vector<std::string>{"sft", "train", "sft", "train"}));
  std::vector<std::string> checked = (*stages)[1].args;
  checked.push_back("--check");
  EXPECT_EQ(runner.args[1], checked);
  EXPECT_EQ(runner.args[3], (*stages)[1].args);
  std::rewind(out);
  char buffer[4096] = {};
  std::fread(buffer, 1, sizeof(buffer) - 1, out);
  std::fclose(out);
  const std::string printed = buffer;
  EXPECT_NE(printed.find("pipeline: stage 1/2 'cold_start': aha sft --config"),
            std::string::npos) << printed;
  EXPECT_NE(printed.find("pipeline: stage 2/2 'rl': aha train"), std::string::npos) << printed;
}

TEST_F(PipelineTest, StopsAtFirstFailedStage) {
  auto stages = LoadPipeline(Write("pipe.yaml", "stages:\n"
                                                "  - {command: sft, config: " + Path("a.yaml") +
                                                    "}\n"
                                                "  - {name: rl, command: train, config: " +
                                                    Path("b.yaml") + "}\n"
                                                "  - {command: eval, flags: {model: m}}\n"));
  ASSERT_TRUE(stages.ok()) << stages.status();
  FakeRunner runner{{0, 0, 0, 0, 3, 0}};
  std::FILE* out = std::tmpfile();
  absl::Status status = RunPipeline(*stages, "", std::ref(runner), out);
  std::fclose(out);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(runner.commands.size(), 5u);  // 3 checks, then 2 stages
  EXPECT_NE(status.message().find("stage 2/3 'rl' (aha train"), std::string::npos) << status;
  EXPECT_NE(status.message().find("exit code 3"), std::string::npos) << status;
  EXPECT_NE(status.message().find("--from rl"), std::string::npos) << status;
  // The failed stage trains, and a rerun of it must resume the run it left.
  EXPECT_NE(status.message().find("add flags: {resume: true}"), std::string::npos) << status;
}

TEST_F(PipelineTest, InvalidLateStageStopsBeforeFirstRuns) {
  auto stages = LoadPipeline(WriteTwoStages());
  ASSERT_TRUE(stages.ok()) << stages.status();
  FakeRunner runner{{0, 1}};
  std::FILE* out = std::tmpfile();
  absl::Status status = RunPipeline(*stages, "", std::ref(runner), out);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(runner.commands.size(), 2u);  // both checks, no stage ran
  EXPECT_EQ(runner.args[1].back(), "--check");
  EXPECT_NE(status.message().find("stage 2/2 'rl'"), std::string::npos) << status;
  EXPECT_NE(status.message().find("no stage ran"), std::string::npos) << status;

  FakeRunner checker{{0, 0}};
  ASSERT_TRUE(RunPipeline(*stages, "", std::ref(checker), out, /*check_only=*/true).ok());
  std::fclose(out);
  EXPECT_EQ(checker.commands.size(), 2u);
}

TEST_F(PipelineTest, FromSkipsEarlierStages) {
  auto stages = LoadPipeline(WriteTwoStages());
  ASSERT_TRUE(stages.ok()) << stages.status();
  FakeRunner runner{{0, 0}};
  std::FILE* out = std::tmpfile();
  ASSERT_TRUE(RunPipeline(*stages, "rl", std::ref(runner), out).ok());
  EXPECT_EQ(runner.commands, (std::vector<std::string>{"train", "train"}));
  absl::Status unknown = RunPipeline(*stages, "rll", std::ref(runner), out);
  std::fclose(out);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("the stages are cold_start, rl"), std::string::npos)
      << unknown;
}

TEST_F(PipelineTest, ErrorsNameFileLineAndKey) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::string a = Path("a.yaml");
  const std::vector<Case> cases = {
      {"stages:\n  - command: sft\n    config: " + a + "\n    confg: x\n",
       ":4: stages[0].confg is not a known key"},
      {"stages:\n  - command: sft\n    config: " + a + "\n  - command: pipeline\n    config: " +
           a + "\n",
       ":4: stages[1].command must be pretrain, sft, train or eval, got 'pipeline'"},
      {"stages:\n  - name: x\n", ":2: stages[0].command is required"},
      {"stages:\n  - command: train\n", ":2: stages[0].config is required"},
      {"stages:\n  - command: train\n    config: " + Path("missing.yaml") + "\n",
       ":3: stages[0].config names '" + Path("missing.yaml") + "', which is not a file"},
      {"stages:\n  - command: sft\n    config: " + a + "\n  - command: sft\n    config: " + a +
           "\n",
       ":4: stages[1] is named 'sft' like an earlier stage"},
      {"stages:\n  - command: sft\n    config: " + a + "\n    set: [x]\n",
       ":4: stages[0].set must be a mapping"},
      {"stages:\n  - command: sft\n    config: " + a + "\n    flags: {config: b}\n",
       ":4: stages[0].flags.config is not allowed here"},
      {"stages: []\n", ":1: stages must be a non-empty list"},
      {"stage:\n  - command: sft\n", "stages is required"},
  };
  for (const Case& c : cases) {
    const std::string path = Write("bad.yaml", c.yaml);
    auto stages = LoadPipeline(path);
    ASSERT_FALSE(stages.ok()) << c.yaml;
    EXPECT_NE(stages.status().message().find(path), std::string::npos) << stages.status();
    EXPECT_NE(stages.status().message().find(c.expected), std::string::npos)
        << "expected '" << c.expected << "' in: " << stages.status();
  }
}

// Pretraining, SFT, GRPO and evaluation of a tiny model through the aha binary, a few steps
// each.
TEST_F(PipelineTest, TinyPipelineRunsEveryStage) {
#ifndef AHA_BINARY
  GTEST_SKIP() << "the aha binary is not built in this configuration";
#else
  const std::string runs = (dir_ / "runs").string();
  const std::string problems =
      "{min_count: 3, max_count: 3, min_number: 1, max_number: 10, min_target: 1, "
      "max_target: 30, integer_intermediates: true, seed: 42, train_size: 40, test_size: 8}";
  Write("pretrain.yaml",
        "out_dir: " + runs + "/unused\nthreads: 1\n"
        "model: {architecture: Qwen2ForCausalLM, hidden_size: 32, intermediate_size: 64, "
        "num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, "
        "max_position_embeddings: 512, tie_word_embeddings: true, seed: 0}\n"
        R"(tokenizer:
  type: char
  added_tokens: ["<|endoftext|>", "<think>", "</think>", "<answer>", "</answer>"]
  non_special: ["<think>", "</think>", "<answer>", "</answer>"]
  alphabet: " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\n"
)"
        "corpus: {size: 32, seed: 7, problems: " + problems + "}\n"
        "train: {steps: 2, batch_rows: 4, micro_batch_rows: 4, pack_length: 320}\n");
  Write("sft.yaml",
        "threads: 1\n"
        "data: {cold_start: {size: 16, seed: 11, problems: " + problems + "}}\n"
        "train: {steps: 2, batch_rows: 4, micro_batch_rows: 4, pack_length: 400}\n");
  Write("train.yaml",
        "run: {out_dir: " + runs + "/rl, seed: 0, threads: 1}\n"
        "policy: {path: " + runs + "/sft}\n"
        "data: {kind: countdown, prompt_template: countdown-short, countdown: " + problems +
            "}\n"
        "rewards: [{name: countdown}, {name: format, weight: 0.5, prefilled_think: true}]\n"
        "grpo: {steps: 1, prompts_per_step: 2, group_size: 2, max_new_tokens: 8}\n"
        "optimizer: {lr: 1.0e-4}\n"
        "log: {samples_every: 0, eval_before_training: false, eval_prompts: 2}\n");
  Write("eval.yaml", "eval: {max_examples: 2, max_new_tokens: 8, samples_per_prompt: 2}\n"
                     "dataset: {countdown: " + problems + "}\n");
  const std::string pipeline = Write(
      "pipeline.yaml",
      "stages:\n"
      "  - {name: base, command: pretrain, config: " + Path("pretrain.yaml") +
          ", set: {out_dir: " + runs + "/base}, flags: {skip_eval: true}}\n"
      "  - {name: cold_start, command: sft, config: " + Path("sft.yaml") +
          ", set: {out_dir: " + runs + "/sft, train.steps: 1}, flags: {model: " + runs +
          "/base}}\n"
      "  - {name: rl, command: train, config: " + Path("train.yaml") + "}\n"
      "  - {name: final_eval, command: eval, config: " + Path("eval.yaml") +
          ", set: {eval.seed: 3}, flags: {model: " + runs + "/rl/final, out: " + runs +
          "/eval.json}}\n");
  const std::string log = Path("pipeline.log");
  const std::string command =
      std::string(AHA_BINARY) + " pipeline --config " + pipeline + " > " + log + " 2>&1";
  const int code = std::system(command.c_str());
  std::ifstream log_file(log);
  std::stringstream printed;
  printed << log_file.rdbuf();
  ASSERT_EQ(code, 0) << printed.str();
  EXPECT_NE(printed.str().find("pipeline: stage 4/4 'final_eval'"), std::string::npos)
      << printed.str();
  // The out_dir overrides of the pretrain and sft stages took effect.
  EXPECT_FALSE(fs::exists(runs + "/unused")) << printed.str();
  EXPECT_TRUE(fs::exists(runs + "/base/config.json")) << printed.str();
  EXPECT_TRUE(fs::exists(runs + "/sft/config.json")) << printed.str();
  EXPECT_TRUE(fs::exists(runs + "/rl/metrics.jsonl")) << printed.str();
  std::ifstream eval(runs + "/eval.json");
  std::stringstream eval_text;
  eval_text << eval.rdbuf();
  EXPECT_NE(eval_text.str().find("\"maj_at_g\""), std::string::npos) << eval_text.str();
#endif
}

// Runs `aha ARGS` and returns its exit code; `output` receives stdout and stderr.
int RunAha(const std::string& args, const std::string& log, std::string& output) {
#ifdef AHA_BINARY
  const int code =
      std::system((std::string(AHA_BINARY) + " " + args + " > " + log + " 2>&1").c_str());
  std::ifstream file(log);
  std::stringstream text;
  text << file.rdbuf();
  output = text.str();
  return code;
#else
  (void)args;
  (void)log;
  output = "the aha binary is not built in this configuration";
  return -1;
#endif
}

// pretrain, sft and eval apply --set before checking the config, so a misspelled key fails
// with its name, and a valid one replaces the file's value.
TEST_F(PipelineTest, SetFlagReachesEveryCommand) {
#ifndef AHA_BINARY
  GTEST_SKIP() << "the aha binary is not built in this configuration";
#endif
  const std::string config = Write("lm.yaml", "out_dir: " + Path("out") + "\ninit_from: y\n"
                                                 "data: {cold_start: {size: 4}}\n"
                                                 "train: {steps: 1}\n");
  const std::string log = Path("set.log");
  std::string output;
  for (const std::string command : {"pretrain", "sft"}) {
    EXPECT_NE(RunAha(command + " --config " + config + " --set train.stepz=3", log, output), 0);
    EXPECT_NE(output.find("train.stepz is not a known key"), std::string::npos)
        << command << ": " << output;
  }
  EXPECT_NE(RunAha("eval --model " + Path("none") + " --set eval.samples_per_promt=2", log,
                   output),
            0);
  EXPECT_NE(output.find("eval.samples_per_promt is not a known key"), std::string::npos)
      << output;
  // A valid override replaces the file's value: init_from now names a missing folder.
  EXPECT_NE(RunAha("sft --config " + config + " --set data.cold_start.size=4 --set init_from=" +
                       Path("missing_model"),
                   log, output),
            0);
  EXPECT_NE(output.find("missing_model"), std::string::npos) << output;
}

// A size that needs more memory than the machine has is an input to change. The message
// reports out of memory and names the sizes to lower, and generate mentions no checkpoints.
TEST_F(PipelineTest, OutOfMemoryNamesTheSizes) {
#if !defined(AHA_BINARY) || !defined(AHA_SOURCE_DIR)
  GTEST_SKIP() << "the aha binary is not built in this configuration";
#else
  std::string output;
  // 10^11 rows of 8 tokens: LibTorch's allocator refuses the 800 GB at once.
  EXPECT_NE(RunAha(std::string("generate --model ") + AHA_SOURCE_DIR +
                       "/models/countdown-tiny-base --prompt hi --n 100000000000 "
                       "--max-new-tokens 8",
                   Path("oom.log"), output),
            0);
  EXPECT_NE(output.find("aha generate: out of memory:"), std::string::npos) << output;
  EXPECT_NE(output.find("--n and --max-new-tokens"), std::string::npos) << output;
  EXPECT_EQ(output.find("Checkpoints"), std::string::npos) << output;
  EXPECT_EQ(output.find("Please report"), std::string::npos) << output;
#endif
}

// Every YAML file in configs/ passes its command's --check, run from the repository root as
// the README runs them. A new config must be added to the table.
TEST_F(PipelineTest, CommittedConfigsAreValid) {
#if !defined(AHA_BINARY) || !defined(AHA_SOURCE_DIR)
  GTEST_SKIP() << "the aha binary is not built in this configuration";
#else
  const std::map<std::string, std::string> commands = {
      {"configs/tiny_model.yaml", "init --config configs/tiny_model.yaml --out " + Path("init")},
      {"configs/tiny_pretrain.yaml", "pretrain --config configs/tiny_pretrain.yaml --check"},
      {"configs/tiny_pretrain_continue.yaml",
       "pretrain --config configs/tiny_pretrain_continue.yaml --check"},
      {"configs/tiny_pretrain_careful.yaml",
       "pretrain --config configs/tiny_pretrain_careful.yaml --check"},
      {"configs/tiny_pretrain_systematic.yaml",
       "pretrain --config configs/tiny_pretrain_systematic.yaml --check"},
      {"configs/tiny_base_pipeline.yaml",
       "pipeline --config configs/tiny_base_pipeline.yaml --check"},
      {"configs/r1_cold_start_sft.yaml", "sft --config configs/r1_cold_start_sft.yaml --check"},
      {"configs/r1_countdown_pipeline.yaml",
       "pipeline --config configs/r1_countdown_pipeline.yaml --check"},
      {"configs/r1_zero_countdown.yaml", "train configs/r1_zero_countdown.yaml --check"},
      // The recipe's data files are the user's to download; the shared test data replaces them.
      {"configs/gsm8k_qwen.yaml",
       "train configs/gsm8k_qwen.yaml --check"
       " --set data.train.path=../shared/datasets/gsm8k/train.jsonl"
       " --set data.test.path=../shared/datasets/gsm8k/test.jsonl"},
      {"configs/aha/base_reflection_eval.yaml",
       "eval --model models/countdown-tiny-base --config configs/aha/base_reflection_eval.yaml "
       "--check"},
      {"configs/aha/length_dr_grpo.yaml", "train configs/aha/length_dr_grpo.yaml --check"},
      {"configs/aha/length_grpo.yaml", "train configs/aha/length_grpo.yaml --check"},
      {"configs/aha/r1_zero_countdown.yaml", "train configs/aha/r1_zero_countdown.yaml --check"},
      {"configs/aha/r1_zero_countdown_cold_start.yaml",
       "train configs/aha/r1_zero_countdown_cold_start.yaml --check"},
  };
  const std::filesystem::path root = AHA_SOURCE_DIR;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string relative = std::filesystem::relative(entry.path(), root).string();
    EXPECT_EQ(commands.count(relative), 1u) << relative << " is not in this test's table";
  }
  const std::string log = Path("check.log");
  for (const auto& [config, args] : commands) {
    const std::string command = "cd '" + root.string() + "' && " + AHA_BINARY + " " + args +
                                " > " + log + " 2>&1";
    const int code = std::system(command.c_str());
    std::ifstream file(log);
    std::stringstream output;
    output << file.rdbuf();
    EXPECT_EQ(code, 0) << config << ":\n" << output.str();
  }
#endif
}

// train --check builds what the run builds from the config alone, rewards included, so a reward
// typo fails the check and not the run after the earlier pipeline stages.
TEST_F(PipelineTest, TrainCheckBuildsRewards) {
#if !defined(AHA_BINARY) || !defined(AHA_SOURCE_DIR)
  GTEST_SKIP() << "the aha binary is not built in this configuration";
#else
  const std::string config = std::string(AHA_SOURCE_DIR) + "/configs/r1_zero_countdown.yaml";
  const std::string log = Path("train_check.log");
  std::string output;
  EXPECT_EQ(RunAha("train " + config + " --check", log, output), 0) << output;
  EXPECT_NE(RunAha("train " + config + " --check --set 'rewards=[{name: formatt}]'", log, output),
            0);
  EXPECT_NE(output.find("formatt"), std::string::npos) << output;
  EXPECT_NE(RunAha("train " + config + " --check --set data.prompt_template=nosuch", log, output),
            0);
  EXPECT_NE(output.find("nosuch"), std::string::npos) << output;
#endif
}

TEST_F(PipelineTest, CheckFlagInAStageIsRejected) {
  Write("a.yaml", "init_from: x\n");
  auto stages = LoadPipeline(Write("pipe.yaml", "stages:\n  - {command: sft, config: " +
                                                    Path("a.yaml") + ", flags: {check: true}}\n"));
  ASSERT_FALSE(stages.ok());
  EXPECT_NE(stages.status().message().find("flags.check is not allowed"), std::string::npos)
      << stages.status();
}

// `aha data corpus` reads a pretraining config's top-level corpus:, and a config without the
// section it needs is an error, not a silent run with the defaults.
TEST_F(PipelineTest, DataCommandReadsCorpusSections) {
#ifndef AHA_BINARY
  GTEST_SKIP() << "the aha binary is not built in this configuration";
#else
  const std::string log = Path("data.log");
  std::string output;
  const std::string top = Write("top.yaml", "corpus: {style: search, size: 3}\n");
  EXPECT_EQ(RunAha("data corpus --config " + top + " --out " + Path("top"), log, output), 0)
      << output;
  std::ifstream corpus(Path("top") + "/corpus.jsonl");
  int lines = 0;
  for (std::string line; std::getline(corpus, line);) ++lines;
  EXPECT_EQ(lines, 3);
  const std::string typo = Write("typo.yaml", "data:\n  corpuss: {size: 3}\n");
  EXPECT_NE(RunAha("data corpus --config " + typo + " --out " + Path("typo"), log, output), 0);
  EXPECT_NE(output.find("has no data.corpus or corpus section"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(Path("typo")));
  // The cold-start examples cannot fit: the command fails before it writes the corpus.
  const std::string tight =
      Write("tight.yaml", "corpus: {style: search, size: 3, cold_start_max_length: 60}\n");
  EXPECT_NE(RunAha("data corpus --config " + tight + " --out " + Path("tight"), log, output), 0);
  EXPECT_NE(output.find("cold_start_max_length"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(Path("tight")));
  EXPECT_NE(RunAha("train " + Path("") + " --check", log, output), 0);
  EXPECT_NE(output.find("is a directory"), std::string::npos) << output;
  // A flag of the other subcommand is an error, not ignored.
  EXPECT_NE(RunAha("data countdown --size 3 --out " + Path("split"), log, output), 0);
  EXPECT_NE(output.find("--size is a flag of `aha data corpus`"), std::string::npos) << output;
#endif
}

// sft and pretrain --check, which a pipeline runs on every stage first, find what the run
// would stop on: invalid train options (also from --steps) and data that gives no examples.
TEST_F(PipelineTest, SftCheckFindsBadStepsAndEmptyData) {
#ifndef AHA_BINARY
  GTEST_SKIP() << "the aha binary is not built in this configuration";
#else
  const std::string config = Write("sft.yaml", "out_dir: " + Path("out") + "\ninit_from: y\n"
                                               "data: {cold_start: {size: 4}}\n"
                                               "train: {steps: 1}\n");
  const std::string log = Path("sft_check.log");
  std::string output;
  EXPECT_EQ(RunAha("sft --config " + config + " --check", log, output), 0) << output;
  EXPECT_NE(RunAha("sft --config " + config + " --check --steps -1", log, output), 0);
  EXPECT_NE(output.find("train.steps must be >= 0 (--steps overrides train.steps)"),
            std::string::npos)
      << output;
  EXPECT_NE(RunAha("sft --config " + config + " --check --set data.cold_start.size=0", log,
                   output),
            0);
  EXPECT_NE(output.find("gives no training examples"), std::string::npos) << output;
  const std::string pretrain = Write("pretrain.yaml", "out_dir: " + Path("out") +
                                                         "\ninit_from: y\ncorpus: {size: 4}\n"
                                                         "train: {steps: 1}\n");
  EXPECT_EQ(RunAha("pretrain --config " + pretrain + " --check", log, output), 0) << output;
  EXPECT_NE(RunAha("pretrain --config " + pretrain + " --check --steps -1", log, output), 0);
  EXPECT_NE(output.find("train.steps must be >= 0"), std::string::npos) << output;
#endif
}

}  // namespace
}  // namespace aha::cli
