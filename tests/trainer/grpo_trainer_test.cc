#include "trainer/grpo_trainer.h"

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "data/batch_iterator.h"
#include "data/jsonl.h"
#include "policy/char_tokenizer.h"
#include "rewards/reward.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

// The toy preference: the share of '7' characters in the completion.
absl::StatusOr<std::unique_ptr<Reward>> MakeSevensReward(RewardOptions&) {
  return MakePerSampleReward(
      [](const RewardSample& sample) -> absl::StatusOr<std::optional<double>> {
        if (sample.completion.empty()) return 0.0;
        double sevens = 0;
        for (char c : sample.completion) sevens += c == '7';
        return sevens / static_cast<double>(sample.completion.size());
      });
}
AHA_REGISTER_REWARD("test_sevens", MakeSevensReward);

// 0.5 for every sample of a row marked {"flat": true}, so its group has equal rewards;
// otherwise 0 and 1 by turns over the batch, so a group of even size always has unequal ones.
class FlatOrAlternatingReward : public Reward {
 public:
  absl::StatusOr<RewardResult> Score(absl::Span<const RewardSample> samples) override {
    RewardResult result;
    for (size_t i = 0; i < samples.size(); ++i) {
      const bool flat = samples[i].fields.value("flat", false);
      result.scores.push_back(flat ? 0.5 : static_cast<double>(i % 2));
    }
    return result;
  }
};
AHA_REGISTER_REWARD("test_flat_or_alternating",
                    [](RewardOptions&) -> absl::StatusOr<std::unique_ptr<Reward>> {
                      return std::make_unique<FlatOrAlternatingReward>();
                    });

// Scores like test_flat_or_alternating, but fails its second batch, as a reward does on a
// data row it cannot read.
class FailsSecondBatchReward : public FlatOrAlternatingReward {
 public:
  absl::StatusOr<RewardResult> Score(absl::Span<const RewardSample> samples) override {
    if (++calls_ == 2) return absl::InvalidArgumentError("the second batch is unreadable");
    return FlatOrAlternatingReward::Score(samples);
  }

 private:
  int calls_ = 0;
};
AHA_REGISTER_REWARD("test_fails_second_batch",
                    [](RewardOptions&) -> absl::StatusOr<std::unique_ptr<Reward>> {
                      return std::make_unique<FailsSecondBatchReward>();
                    });

class GrpoTrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("grpo_trainer_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    torch::set_num_threads(1);

    // A random tiny model over digits; '7' is as likely as any other digit at the start.
    WriteTinyModel((dir_ / "base").string(), "0123456789 q:");
    if (HasFatalFailure()) return;

    std::ofstream data(dir_ / "prompts.jsonl");
    for (int i = 0; i < 16; ++i) {
      data << "{\"question\": \"q" << i << ":\", \"answer\": \"7\", \"flat\": "
           << (i % 3 == 0 ? "true" : "false") << "}\n";
    }
  }

  void TearDown() override { fs::remove_all(dir_); }

  // Writes a random 2-layer model with a character tokenizer over `alphabet` to `model_dir`.
  static void WriteTinyModel(const std::string& model_dir, const std::string& alphabet) {
    auto tokenizer = CharTokenizer::FromAlphabet({"<|endoftext|>"}, alphabet);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    ModelConfig c;
    c.vocab_size = tokenizer->VocabSize();
    c.hidden_size = 32;
    c.intermediate_size = 64;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.head_dim = 8;
    c.max_position_embeddings = 64;
    c.attention_bias = true;
    c.tie_word_embeddings = true;
    c.eos_token_ids = {0};
    CausalLm model(c);
    InitializeWeights(*model, 0.02, 3);
    ASSERT_TRUE(tokenizer->Save(model_dir).ok());
    absl::Status saved = SavePolicy(model, model_dir, model_dir, {torch::kFloat32});
    ASSERT_TRUE(saved.ok()) << saved;
  }

  // Writes a config whose out_dir is `out` and returns its path.
  std::string WriteConfig(const std::string& out, int steps) {
    const std::string path = (dir_ / (out + ".yaml")).string();
    std::ofstream f(path);
    f << "run: {out_dir: " << (dir_ / out).string() << ", seed: 5, threads: 1}\n"
      << "policy: {path: " << (dir_ / "base").string() << "}\n"
      << "data:\n  kind: jsonl\n  prompt_template: plain\n"
      << "  train: {path: " << (dir_ / "prompts.jsonl").string() << "}\n"
      << "rewards:\n  - name: test_sevens\n"
      << "grpo: {steps: " << steps << ", prompts_per_step: 4, group_size: 8, max_new_tokens: 3,"
      << " temperature: 1.0, micro_batch_rows: 12, eps_high: 0.28}\n"
      << "optimizer: {lr: 0.01, max_grad_norm: 1.0}\n"
      << "log: {samples_every: 0, eval_before_training: false}\n";
    return path;
  }

  static std::map<std::string, torch::Tensor> Weights(const std::string& dir) {
    auto model = LoadModel(dir);
    EXPECT_TRUE(model.ok()) << model.status();
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : (*model)->named_parameters()) out[p.key()] = p.value().clone();
    return out;
  }

  // Writes a config that trains on test_flat_or_alternating with dynamic sampling.
  std::string WriteDynamicConfig(const std::string& out, int steps) {
    const std::string path = WriteConfig(out, steps);
    EditConfig(path, {{"test_sevens", "test_flat_or_alternating"},
                      {"eps_high: 0.28}",
                       "eps_high: 0.28, dynamic_sampling: true, max_sampling_rounds: 3}"}});
    return path;
  }

  // Replaces the first occurrence of each `from` in the config file at `path` with its `to`.
  static void EditConfig(const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& edits) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& [from, to] : edits) {
      const size_t at = text.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      text.replace(at, from.size(), to);
    }
    std::ofstream(path) << text;
  }

  // Trains 4 steps straight, and 2 steps then 2 more resumed from the checkpoint, and expects
  // the same final weights: the checkpoint restores the data position and the sampling streams.
  void CheckResumeMatchesStraightRun(bool dynamic_sampling) {
    auto write = [&](const std::string& out, int steps) {
      return dynamic_sampling ? WriteDynamicConfig(out, steps) : WriteConfig(out, steps);
    };
    auto straight = LoadGrpoRunConfig(write("straight", 4));
    ASSERT_TRUE(straight.ok()) << straight.status();
    auto trainer = GrpoTrainer::Create(*straight, false, nullptr);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->Run().ok());

    auto first_half = LoadGrpoRunConfig(write("resumed", 2));
    ASSERT_TRUE(first_half.ok());
    auto part1 = GrpoTrainer::Create(*first_half, false, nullptr);
    ASSERT_TRUE(part1.ok());
    ASSERT_TRUE((*part1)->Run().ok());

    auto second_half = *first_half;
    second_half.grpo.steps = 4;
    auto part2 = GrpoTrainer::Create(second_half, /*resume=*/true, nullptr);
    ASSERT_TRUE(part2.ok()) << part2.status();
    EXPECT_EQ((*part2)->step(), 2);
    ASSERT_TRUE((*part2)->Run().ok());

    auto a = Weights((dir_ / "straight" / "final").string());
    auto b = Weights((dir_ / "resumed" / "final").string());
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, tensor] : a) {
      EXPECT_LE((tensor - b[name]).abs().max().item<double>(), 1e-6) << name;
    }
  }

  fs::path dir_;
};

TEST_F(GrpoTrainerTest, LearnsToyPreferenceForSevens) {
  auto config = LoadGrpoRunConfig(WriteConfig("toy", 40));
  ASSERT_TRUE(config.ok()) << config.status();
  auto trainer = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    auto metrics = (*trainer)->TrainStep();
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    if (step < 3) first += metrics->reward_mean / 3;
    if (step >= 37) last += metrics->reward_mean / 3;
  }
  EXPECT_LT(first, 0.3);
  EXPECT_GT(last, 0.8) << "reward went from " << first << " to " << last;
}

// Micro-batches read the rows longest first and each is cut to its own longest completion;
// neither may change the update, only its rounding. Adam divides each gradient by its own
// magnitude, which turns rounding noise in a near-zero gradient into a full step, so adam_eps
// 1.0 makes the update nearly proportional to the gradient here.
TEST_F(GrpoTrainerTest, MicroBatchSizeDoesNotChangeUpdate) {
  auto train = [&](const std::string& out, int micro_batch_rows) {
    const std::string path = WriteConfig(out, 2);
    EditConfig(path,
               {{"micro_batch_rows: 12", "micro_batch_rows: " + std::to_string(micro_batch_rows)},
                {"lr: 0.01,", "lr: 0.01, adam_eps: 1.0,"}});
    auto config = LoadGrpoRunConfig(path);
    ASSERT_TRUE(config.ok()) << config.status();
    auto trainer = GrpoTrainer::Create(*config, false, nullptr);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->Run().ok());
  };
  train("one_micro_batch", 32);
  train("micro_batches_of_3", 3);
  auto a = Weights((dir_ / "one_micro_batch" / "final").string());
  auto b = Weights((dir_ / "micro_batches_of_3" / "final").string());
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_LE((tensor - b[name]).abs().max().item<double>(), 1e-8) << name;
  }
}

// Completions end at the model's 64-token context, so a max_new_tokens far past it must not
// shrink the dr_grpo loss. The update equals one with max_new_tokens 63, and a warning is printed.
TEST_F(GrpoTrainerTest, DrGrpoDivisorStopsAtTheContext) {
  auto train = [&](const std::string& out, const std::string& max_new_tokens, bool warns) {
    const std::string path = WriteConfig(out, 1);
    EditConfig(path, {{"max_new_tokens: 3,", "max_new_tokens: " + max_new_tokens +
                                                 ", loss_aggregation: dr_grpo,"}});
    auto config = LoadGrpoRunConfig(path);
    ASSERT_TRUE(config.ok()) << config.status();
    testing::internal::CaptureStdout();
    auto trainer = GrpoTrainer::Create(*config, false, nullptr);
    const std::string output = testing::internal::GetCapturedStdout();
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    EXPECT_EQ(output.find("the dr_grpo loss divides by 63 instead") != std::string::npos, warns)
        << output;
    ASSERT_TRUE((*trainer)->Run().ok());
  };
  train("budget_63", "63", /*warns=*/false);
  train("budget_huge", "100000000000", /*warns=*/true);
  auto a = Weights((dir_ / "budget_63" / "final").string());
  auto b = Weights((dir_ / "budget_huge" / "final").string());
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b[name])) << name;
}

// Scoring each group's prompt once gives the same update as scoring every row in full. This
// holds when micro-batches of 12 rows split the groups of 8, and in the no-gradient passes that
// score the old policy (mu 2) and the reference (KL).
TEST_F(GrpoTrainerTest, SharedPromptPrefixDoesNotChangeUpdate) {
  auto train = [&](const std::string& out, bool share) {
    const std::string path = WriteConfig(out, 2);
    EditConfig(path, {{"micro_batch_rows: 12",
                       std::string("micro_batch_rows: 12, updates_per_step: 2, kl_beta: 0.05, "
                                   "share_prompt_prefix: ") +
                           (share ? "true" : "false")},
                      {"lr: 0.01,", "lr: 0.01, adam_eps: 1.0,"}});
    auto config = LoadGrpoRunConfig(path);
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->grpo.share_prompt_prefix, share);
    auto trainer = GrpoTrainer::Create(*config, false, nullptr);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->Run().ok());
  };
  train("full_rows", false);
  train("shared_prompts", true);
  auto a = Weights((dir_ / "full_rows" / "final").string());
  auto b = Weights((dir_ / "shared_prompts" / "final").string());
  auto base = Weights((dir_ / "base").string());
  ASSERT_EQ(a.size(), b.size());
  double moved = 0;
  for (const auto& [name, tensor] : a) {
    EXPECT_LE((tensor - b[name]).abs().max().item<double>(), 1e-8) << name;
    moved = std::max(moved, (tensor - base[name]).abs().max().item<double>());
  }
  EXPECT_GT(moved, 1e-6);  // the comparison above is not between two untouched models
}

// Each of the mu passes steps the optimizer, so the second pass scores with a policy that
// moved away from the sampling one (the ratio leaves 1), while the schedule counts one step.
TEST_F(GrpoTrainerTest, EveryPassStepsTheOptimizer) {
  auto run_step = [&](const std::string& out, int passes) {
    const std::string path = WriteConfig(out, 1);
    EditConfig(path, {{"micro_batch_rows: 12",
                       "micro_batch_rows: 12, updates_per_step: " + std::to_string(passes)}});
    auto config = LoadGrpoRunConfig(path);
    EXPECT_TRUE(config.ok()) << config.status();
    auto trainer = GrpoTrainer::Create(*config, false, nullptr);
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    auto metrics = (*trainer)->TrainStep();
    EXPECT_TRUE(metrics.ok()) << metrics.status();
    return *metrics;
  };
  const StepMetrics one = run_step("one_pass", 1);
  const StepMetrics two = run_step("two_passes", 2);
  EXPECT_EQ(one.ratio_mean, 1.0);
  EXPECT_GT(std::abs(two.ratio_mean - 1.0), 1e-4);
  EXPECT_EQ(one.lr, two.lr);
}

TEST_F(GrpoTrainerTest, ResumeGivesSameWeights) { CheckResumeMatchesStraightRun(false); }

// Resuming with the same settings is silent. With a changed batch size or data file, the
// trainer warns and names what changed, because the run no longer continues the one it resumes.
TEST_F(GrpoTrainerTest, ResumeWithChangedSettingsWarns) {
  auto first = LoadGrpoRunConfig(WriteConfig("changed", 1));
  ASSERT_TRUE(first.ok()) << first.status();
  auto part1 = GrpoTrainer::Create(*first, false, nullptr);
  ASSERT_TRUE(part1.ok()) << part1.status();
  ASSERT_TRUE((*part1)->Run().ok());

  auto resume = [&](GrpoRunConfig config) {
    config.grpo.steps = 2;
    testing::internal::CaptureStdout();
    auto trainer = GrpoTrainer::Create(config, /*resume=*/true, nullptr);
    const std::string output = testing::internal::GetCapturedStdout();
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    return output;
  };
  EXPECT_EQ(resume(*first).find("warning: resuming"), std::string::npos);

  GrpoRunConfig bigger = *first;
  bigger.grpo.prompts_per_step = 3;
  const std::string output = resume(bigger);
  EXPECT_NE(output.find("warning: resuming"), std::string::npos) << output;
  EXPECT_NE(output.find("grpo.prompts_per_step 4 -> 3"), std::string::npos) << output;
  EXPECT_EQ(output.find("training examples"), std::string::npos) << output;

  std::ofstream(dir_ / "prompts.jsonl", std::ios::app)
      << "{\"question\": \"q16:\", \"answer\": \"7\", \"flat\": false}\n";
  const std::string more_data = resume(*first);
  EXPECT_NE(more_data.find("training examples \"16 examples"), std::string::npos) << more_data;
}

TEST_F(GrpoTrainerTest, NewRunKeepsEarlierRun) {
  auto config = LoadGrpoRunConfig(WriteConfig("again", 1));
  ASSERT_TRUE(config.ok()) << config.status();
  auto first = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Run().ok());
  first->reset();
  const fs::path metrics = dir_ / "again" / "metrics.jsonl";
  const auto size_before = fs::file_size(metrics);

  auto second = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("--resume"), std::string::npos);
  EXPECT_EQ(fs::file_size(metrics), size_before);
}

// checkpoint_every is 0, yet the step that finished before a failure is kept for --resume.
TEST_F(GrpoTrainerTest, FailedStepKeepsEarlierSteps) {
  const std::string path = WriteConfig("fails", 3);
  EditConfig(path, {{"test_sevens", "test_fails_second_batch"}});
  auto config = LoadGrpoRunConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  auto trainer = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  absl::Status status = (*trainer)->Run();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("unreadable"), std::string::npos) << status;
  trainer->reset();

  std::ifstream state(dir_ / "fails" / "checkpoint" / "trainer_state.json");
  ASSERT_TRUE(state.good()) << "no checkpoint was saved";
  EXPECT_EQ(nlohmann::json::parse(state)["step"], 1);
  auto resumed = GrpoTrainer::Create(*config, /*resume=*/true, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->step(), 1);
}

TEST_F(GrpoTrainerTest, ReferenceWithOtherVocabularyIsConfigError) {
  const std::string other_dir = (dir_ / "other").string();
  WriteTinyModel(other_dir, "0123456789");
  if (HasFatalFailure()) return;

  const std::string path = WriteConfig("reference", 1);
  EditConfig(path, {{"/base}", "/base, reference_path: " + other_dir + "}"},
                    {"eps_high: 0.28}", "eps_high: 0.28, kl_beta: 0.1}"}});
  auto config = LoadGrpoRunConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  auto trainer = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_FALSE(trainer.ok());
  EXPECT_NE(trainer.status().message().find("policy.reference_path"), std::string::npos)
      << trainer.status();
  EXPECT_NE(trainer.status().message().find("vocab_size"), std::string::npos);
}

TEST_F(GrpoTrainerTest, BatchLargerThanDataNamesTheKey) {
  const std::string path = WriteConfig("big_batch", 1);
  auto config = LoadGrpoRunConfig(path, {"grpo.prompts_per_step=17"});
  ASSERT_TRUE(config.ok()) << config.status();
  auto trainer = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_FALSE(trainer.ok());
  EXPECT_NE(trainer.status().message().find(
                "grpo.prompts_per_step is 17, but the training set has 16 examples"),
            std::string::npos)
      << trainer.status();
}

TEST_F(GrpoTrainerTest, GroupSizeOneIsConfigError) {
  std::string path = WriteConfig("bad", 1);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("group_size: 8"), 13, "group_size: 1");
  std::ofstream(path) << text;
  auto config = LoadGrpoRunConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("grpo.group_size must be >= 2"), std::string::npos)
      << config.status().message();
}

TEST_F(GrpoTrainerTest, LossRangeErrorNamesItsOwnKey) {
  const std::string path = WriteConfig("loss_range", 1);
  for (const char* key : {"kl_beta", "eps_high", "eps_low", "advantage_eps"}) {
    auto config = LoadGrpoRunConfig(path, {absl::StrCat("grpo.", key, "=-1")});
    ASSERT_FALSE(config.ok()) << key;
    const std::string message(config.status().message());
    EXPECT_NE(message.find(absl::StrCat("grpo.", key, " must be")), std::string::npos) << message;
    EXPECT_EQ(message.find(absl::StrCat("grpo.", key, " grpo.")), std::string::npos) << message;
  }
}

// adam_eps 0 once trained a model of NaN weights and reported success.
TEST_F(GrpoTrainerTest, OptimizerRangeErrorsNameTheKey) {
  const std::string path = WriteConfig("optimizer_range", 1);
  for (const char* setting : {"adam_eps=0", "weight_decay=-1", "min_lr_ratio=2", "lr=.nan"}) {
    auto config = LoadGrpoRunConfig(path, {absl::StrCat("optimizer.", setting)});
    ASSERT_FALSE(config.ok()) << setting;
    const std::string key(setting, std::string(setting).find('='));
    EXPECT_NE(config.status().message().find(absl::StrCat("optimizer.", key)), std::string::npos)
        << config.status();
  }
}

TEST_F(GrpoTrainerTest, SetOverridesConfigValues) {
  std::string path = WriteConfig("overrides", 3);
  auto config = LoadGrpoRunConfig(path, {"grpo.group_size=4", "optimizer.lr=0.5"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpo.group_size, 4);
  EXPECT_DOUBLE_EQ(config->optimizer.lr, 0.5);
  EXPECT_EQ(config->grpo.steps, 3);

  auto typo = LoadGrpoRunConfig(path, {"grpo.group_sise=4"});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("grpo.group_sise is not a known key"), std::string::npos)
      << typo.status().message();
  auto bad_value = LoadGrpoRunConfig(path, {"grpo.group_size=1"});
  EXPECT_FALSE(bad_value.ok());
}

TEST_F(GrpoTrainerTest, UnknownKeyNamesFileAndLine) {
  std::string path = WriteConfig("typo", 1);
  std::ofstream(path, std::ios::app) << "grpo_extra: 1\n";
  auto config = LoadGrpoRunConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find(path + ":"), std::string::npos);
  EXPECT_NE(config.status().message().find("grpo_extra is not a known key"), std::string::npos)
      << config.status().message();
}

TEST_F(GrpoTrainerTest, LogsReflectionAndTensorBoard) {
  std::string path = WriteConfig("reflect", 2);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string log_line = "log: {samples_every: 0, eval_before_training: false}";
  text.replace(text.find(log_line), log_line.size(),
               "log: {samples_every: 1, eval_before_training: false, tensorboard: true, "
               "reflection_sets: [r1], reflection_keywords: [\"7\"]}");
  std::ofstream(path) << text;
  auto config = LoadGrpoRunConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->log.reflection_sets.size(), 2u);
  EXPECT_EQ(config->log.reflection_sets[1].name, "custom");
  auto trainer = GrpoTrainer::Create(*config, /*resume=*/false, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Run().ok());

  std::ifstream metrics(dir_ / "reflect" / "metrics.jsonl");
  std::string line;
  int steps = 0;
  while (std::getline(metrics, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (record.contains("eval")) continue;
    ++steps;
    ASSERT_TRUE(record.contains("reflection/custom_fraction")) << line;
    ASSERT_TRUE(record.contains("reflection/r1_per_1k_tokens")) << line;
    EXPECT_FALSE(record.contains("reflection/oat_fraction")) << line;
    const double fraction = record["reflection/custom_fraction"].get<double>();
    EXPECT_GE(fraction, 0.0);
    EXPECT_LE(fraction, 1.0);
    EXPECT_LE(record["length_p50"].get<double>(), record["length_p90"].get<double>());
    EXPECT_LE(record["length_p90"].get<double>(), record["length_max"].get<double>());
  }
  EXPECT_EQ(steps, 2);

  int event_files = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "reflect" / "tb")) {
    event_files += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
    EXPECT_GT(entry.file_size(), 100u);
  }
  EXPECT_EQ(event_files, 1);
}

TEST_F(GrpoTrainerTest, UnknownReflectionSetIsConfigError) {
  std::string path = WriteConfig("bad_set", 1);
  std::ofstream(path, std::ios::app) << "  reflection_sets: [r9]\n";
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string log_line = "log: {samples_every: 0, eval_before_training: false}\n";
  text.replace(text.find(log_line), log_line.size(),
               "log:\n  samples_every: 0\n  eval_before_training: false\n");
  std::ofstream(path) << text;
  auto config = LoadGrpoRunConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("log.reflection_sets"), std::string::npos)
      << config.status().message();
  EXPECT_NE(config.status().message().find("'r9'"), std::string::npos)
      << config.status().message();
}

TEST_F(GrpoTrainerTest, DynamicSamplingKeepsGroupsWithVariance) {
  auto config = LoadGrpoRunConfig(WriteDynamicConfig("dynamic", 6));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->grpo.dynamic_sampling);
  EXPECT_EQ(config->grpo.max_sampling_rounds, 3);
  auto trainer = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();

  // The same batches as the trainer's iterator, to count the flat rows by hand.
  data::JsonlOptions jsonl;
  jsonl.path = (dir_ / "prompts.jsonl").string();
  auto examples = data::LoadJsonlDataset(jsonl);
  ASSERT_TRUE(examples.ok()) << examples.status();
  data::BatchIteratorOptions iterator_options;
  iterator_options.batch_size = 4;
  iterator_options.drop_last = true;
  auto iterator = data::BatchIterator::Create(*examples, iterator_options);
  ASSERT_TRUE(iterator.ok()) << iterator.status();

  for (int step = 1; step <= 6; ++step) {
    int64_t rounds = 0, sampled = 0, dropped = 0, varied = 0;
    while (rounds < 3 && varied < 4) {
      ++rounds;
      for (const data::Example& example : iterator->Next()) {
        ++sampled;
        const bool flat = example.fields.value("flat", false);
        dropped += flat;
        varied += !flat;
      }
    }
    auto metrics = (*trainer)->TrainStep();
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    EXPECT_EQ(metrics->sampling_rounds, rounds) << "step " << step;
    EXPECT_EQ(metrics->groups_sampled, sampled) << "step " << step;
    EXPECT_EQ(metrics->groups_dropped, dropped) << "step " << step;
    EXPECT_EQ(metrics->groups_trained, std::min<int64_t>(varied, 4)) << "step " << step;
    EXPECT_DOUBLE_EQ(metrics->zero_variance_groups,
                     static_cast<double>(dropped) / static_cast<double>(sampled));
    EXPECT_NE(metrics->ConsoleLine(6).find(absl::StrCat("| groups ", metrics->groups_trained,
                                                        "/", sampled, " in ", rounds)),
              std::string::npos)
        << metrics->ConsoleLine(6);
    EXPECT_GT(metrics->grad_norm, 0.0) << "step " << step;
  }
  ASSERT_TRUE((*trainer)->SaveCheckpoint().ok());
  std::ifstream state_file(dir_ / "dynamic" / "checkpoint" / "trainer_state.json");
  nlohmann::json state = nlohmann::json::parse(state_file);
  EXPECT_EQ(state["iterator_epoch"].get<int64_t>(), iterator->position().epoch);
  EXPECT_EQ(state["iterator_offset"].get<int64_t>(), iterator->position().offset);
}

TEST_F(GrpoTrainerTest, DynamicSamplingSkipsUpdateWhenAllFlat) {
  {
    std::ofstream data(dir_ / "prompts.jsonl");
    for (int i = 0; i < 16; ++i) {
      data << "{\"question\": \"q" << i << ":\", \"answer\": \"7\", \"flat\": true}\n";
    }
  }
  auto config = LoadGrpoRunConfig(WriteDynamicConfig("flat", 2));
  ASSERT_TRUE(config.ok()) << config.status();
  auto trainer = GrpoTrainer::Create(*config, false, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Run().ok());
  EXPECT_EQ((*trainer)->step(), 2);

  // No update ran, so the final weights are the starting ones.
  auto before = Weights((dir_ / "base").string());
  auto after = Weights((dir_ / "flat" / "final").string());
  for (const auto& [name, tensor] : before) {
    EXPECT_TRUE(torch::equal(tensor, after[name])) << name;
  }
  std::ifstream metrics(dir_ / "flat" / "metrics.jsonl");
  std::string line;
  int steps = 0;
  while (std::getline(metrics, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (record.contains("eval")) continue;
    ++steps;
    EXPECT_EQ(record["groups_sampled"].get<int64_t>(), 12) << line;
    EXPECT_EQ(record["groups_dropped"].get<int64_t>(), 12) << line;
    EXPECT_EQ(record["groups_trained"].get<int64_t>(), 0) << line;
    EXPECT_EQ(record["sampling_rounds"].get<int64_t>(), 3) << line;
    EXPECT_DOUBLE_EQ(record["reward_mean"].get<double>(), 0.5) << line;
  }
  EXPECT_EQ(steps, 2);
}

TEST_F(GrpoTrainerTest, DynamicSamplingResumeGivesSameWeights) {
  CheckResumeMatchesStraightRun(true);
}

TEST_F(GrpoTrainerTest, MaxSamplingRoundsMustBePositive) {
  auto config = LoadGrpoRunConfig(WriteConfig("rounds", 1), {"grpo.max_sampling_rounds=0"});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("grpo.max_sampling_rounds must be >= 1"),
            std::string::npos)
      << config.status().message();
}

}  // namespace
}  // namespace aha
