// Data-parallel GRPO: two forked ranks over Gloo against one process with the whole batch.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/numbers.h"
#include "policy/char_tokenizer.h"
#include "tests/dist/forked_ranks.h"
#include "tests/trainer/tiny_policy.h"
#include "tests/unique_temp_path.h"
#include "trainer/data_parallel.h"
#include "trainer/grpo_trainer.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

constexpr int kSteps = 3;
// A built-in reward, so that `aha launch` runs the same config: 0 for an empty completion,
// falling linearly to -1 at max_new_tokens. The random model ends a completion early often
// enough that most groups have unequal rewards.
constexpr char kLengthReward[] = "{name: length, max_tokens: 4, cache_tokens: 4}";

// Runs `body` in a forked child and returns its exit code, so that the parent process does
// not start LibTorch's thread pools before it forks the ranks.
int RunInChild(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int code = body();
    std::fflush(nullptr);
    _exit(code);
  }
  return aha_test::WaitForRanks({pid})[0];
}

// Per-step metrics of a run, one line per step, compared between the runs.
struct RunResult {
  std::vector<torch::Tensor> weights;
  std::vector<StepMetrics> steps;
};

class DataParallelTrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = aha_test::UniqueTempPath("data_parallel_trainer");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const int code = RunInChild([this] {
      auto tokenizer = CharTokenizer::FromAlphabet({"<|endoftext|>"}, "0123456789 q:");
      if (!tokenizer.ok()) return 1;
      CausalLm model = testing::MakeTinyModel(tokenizer->VocabSize(), 3);
      const std::string model_dir = (dir_ / "base").string();
      if (!tokenizer->Save(model_dir).ok()) return 2;
      if (!SavePolicy(model, model_dir, model_dir, {torch::kFloat32}).ok()) return 3;
      return 0;
    });
    ASSERT_EQ(code, 0) << "writing the tiny model failed";
    std::ofstream data(dir_ / "prompts.jsonl");
    for (int i = 0; i < 16; ++i) data << "{\"question\": \"q" << i << ":\", \"answer\": \"7\"}\n";
  }

  void TearDown() override { fs::remove_all(dir_); }

  // AdamW divides each gradient entry by its own running scale plus adam_eps, so float
  // rounding differences between the two runs' sums become weight differences of up to lr in
  // entries whose gradient is near 0. With lr 0.01 and adam_eps 1e-8 they reached 1.8e-5 after
  // 3 steps; lr 1e-3 and adam_eps 1e-6 keep them near 1e-6, well inside the 1e-5 checked.
  std::string WriteConfig(const std::string& extra_grpo) {
    const std::string path = (dir_ / "run.yaml").string();
    std::ofstream f(path);
    f << "run: {out_dir: " << (dir_ / "out").string() << ", seed: 5, threads: 1}\n"
      << "policy: {path: " << (dir_ / "base").string() << "}\n"
      << "data:\n  kind: jsonl\n  prompt_template: plain\n"
      << "  train: {path: " << (dir_ / "prompts.jsonl").string() << "}\n"
      << "rewards:\n  - " << kLengthReward << "\n"
      << "grpo: {steps: " << kSteps << ", prompts_per_step: 4, group_size: 4, "
      << "max_new_tokens: 4, temperature: 1.0, micro_batch_rows: 5" << extra_grpo << "}\n"
      << "optimizer: {lr: 0.001, adam_eps: 1.0e-6, max_grad_norm: 1.0}\n"
      << "log: {samples_every: 0, eval_before_training: false}\n";
    return path;
  }

  // Trains kSteps steps; `comm` null is the single process.
  // With `out_dir`, the run writes there instead of the config's out_dir.
  static absl::StatusOr<RunResult> Train(const std::string& config_path,
                                         std::shared_ptr<dist::Communicator> comm,
                                         const std::string& out_dir = "") {
    auto config = LoadGrpoRunConfig(config_path);
    if (!config.ok()) return config.status();
    if (!out_dir.empty()) config->out_dir = out_dir;
    auto trainer = GrpoTrainer::Create(*config, false, nullptr, std::move(comm));
    if (!trainer.ok()) return trainer.status();
    RunResult result;
    for (int step = 0; step < kSteps; ++step) {
      auto metrics = (*trainer)->TrainStep();
      if (!metrics.ok()) return metrics.status();
      result.steps.push_back(*metrics);
    }
    for (const auto& p : (*trainer)->policy().model->parameters()) {
      result.weights.push_back(p.detach().clone());
    }
    return result;
  }

  // Trains on 2 forked ranks; each saves its weights and metrics under dir_.
  void TrainTwoRanks(const std::string& config_path) {
    const std::string store = (dir_ / "store").string();
    dist::CommunicatorOptions options;
    options.timeout = std::chrono::seconds(40);
    options.bucket_bytes = 4096;  // several buckets for the tiny model
    const std::vector<int> codes = aha_test::WaitForRanks(aha_test::ForkRanks(
        2, store, options, [&](dist::Communicator& comm) {
          // The trainer shares the communicator that ForkRanks owns.
          std::shared_ptr<dist::Communicator> shared(&comm, [](dist::Communicator*) {});
          absl::StatusOr<RunResult> result = Train(config_path, shared);
          if (!result.ok()) {
            std::fprintf(stderr, "rank %d: %s\n", comm.rank(),
                         std::string(result.status().message()).c_str());
            return 1;
          }
          const std::string prefix = (dir_ / ("rank" + std::to_string(comm.rank()))).string();
          torch::save(result->weights, prefix + ".pt");
          std::ofstream metrics(prefix + ".metrics");
          metrics.precision(17);
          for (const StepMetrics& m : result->steps) {
            metrics << m.reward_mean << " " << m.reward_std << " " << m.grad_norm << " "
                    << m.length_mean << " " << m.entropy << " " << m.groups_trained << "\n";
          }
          return 0;
        }));
    ASSERT_EQ(codes, std::vector<int>({0, 0}));
  }

  std::vector<torch::Tensor> LoadWeights(int rank) const {
    std::vector<torch::Tensor> weights;
    torch::load(weights, (dir_ / ("rank" + std::to_string(rank) + ".pt")).string());
    return weights;
  }

  std::vector<std::vector<double>> LoadMetrics(int rank) const {
    std::ifstream in(dir_ / ("rank" + std::to_string(rank) + ".metrics"));
    std::vector<std::vector<double>> rows;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::vector<double> row;
      double value;
      while (fields >> value) row.push_back(value);
      rows.push_back(row);
    }
    return rows;
  }

  static double MaxDifference(const std::vector<torch::Tensor>& a,
                              const std::vector<torch::Tensor>& b) {
    EXPECT_EQ(a.size(), b.size());
    double max = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      max = std::max(max, (a[i] - b[i]).abs().max().item<double>());
    }
    return max;
  }

  // Trains on two ranks, then in this process, and compares weights and metrics.
  void ExpectTwoRanksMatchOneProcess(const std::string& extra_grpo) {
    const std::string config_path = WriteConfig(extra_grpo);
    TrainTwoRanks(config_path);
    if (HasFatalFailure()) return;
    torch::set_num_threads(1);
    absl::StatusOr<RunResult> single = Train(config_path, nullptr, (dir_ / "single").string());
    ASSERT_TRUE(single.ok()) << single.status();

    const std::vector<torch::Tensor> rank0 = LoadWeights(0), rank1 = LoadWeights(1);
    const double diff = MaxDifference(rank0, single->weights);
    std::printf("max |w(2 ranks) - w(1 process)| after %d steps: %.3g\n", kSteps, diff);
    EXPECT_LT(diff, 1e-5);
    EXPECT_EQ(MaxDifference(rank0, rank1), 0.0) << "the ranks' weights diverged";
    // The weights moved, so the comparison is not between two untouched models.
    absl::StatusOr<CausalLm> initial = LoadModel((dir_ / "base").string());
    ASSERT_TRUE(initial.ok()) << initial.status();
    EXPECT_GT(MaxDifference(rank0, (*initial)->parameters()), 1e-4);

    const auto metrics = LoadMetrics(0);
    ASSERT_EQ(metrics.size(), static_cast<size_t>(kSteps));
    for (int step = 0; step < kSteps; ++step) {
      const StepMetrics& m = single->steps[step];
      ASSERT_EQ(metrics[step].size(), 6u);
      EXPECT_NEAR(metrics[step][0], m.reward_mean, 1e-9) << "step " << step;
      EXPECT_NEAR(metrics[step][1], m.reward_std, 1e-9) << "step " << step;
      EXPECT_NEAR(metrics[step][2], m.grad_norm, 1e-4 * (1 + m.grad_norm)) << "step " << step;
      EXPECT_NEAR(metrics[step][3], m.length_mean, 1e-9) << "step " << step;
      EXPECT_NEAR(metrics[step][4], m.entropy, 1e-5) << "step " << step;
      EXPECT_EQ(metrics[step][5], m.groups_trained) << "step " << step;
    }
  }

  fs::path dir_;
};

TEST_F(DataParallelTrainerTest, TwoRanksMatchOneProcess) {
  ExpectTwoRanksMatchOneProcess("");
}

TEST_F(DataParallelTrainerTest, TokenLossAndBatchStdMatchOneProcess) {
  ExpectTwoRanksMatchOneProcess(", loss_aggregation: token, advantage: batch_std");
}

TEST_F(DataParallelTrainerTest, TwoPassesPerStepMatchOneProcess) {
  ExpectTwoRanksMatchOneProcess(", updates_per_step: 2, loss_aggregation: dr_grpo");
}

#ifdef AHA_BINARY
// Starts `aha launch` with its output in `log`; returns the launcher's pid.
pid_t StartLauncher(const std::vector<std::string>& args, const std::string& log) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  std::FILE* out = std::fopen(log.c_str(), "w");
  dup2(fileno(out), STDOUT_FILENO);
  dup2(fileno(out), STDERR_FILENO);
  std::vector<char*> argv = {const_cast<char*>(AHA_BINARY), const_cast<char*>("launch")};
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(AHA_BINARY, argv.data());
  _exit(127);
}

// The child of `parent` whose environment has RANK=`rank`, or -1.
pid_t FindRank(pid_t parent, int rank) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid != parent) continue;
    std::ifstream environ(entry.path() / "environ");
    std::string variable;
    while (std::getline(environ, variable, '\0')) {
      if (variable == "RANK=" + std::to_string(rank)) return pid;
    }
  }
  return -1;
}

int64_t CountLines(const fs::path& path) {
  std::ifstream in(path);
  int64_t lines = 0;
  std::string line;
  while (std::getline(in, line)) ++lines;
  return lines;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Waits up to `seconds` for `pid`; returns its exit code, 128 + signal, or -1 on timeout.
int WaitWithTimeout(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

TEST_F(DataParallelTrainerTest, LaunchTrainsWithTwoRanks) {
  const std::string config = WriteConfig("");
  const fs::path log = dir_ / "launch.log";
  const pid_t launcher = StartLauncher({"--nproc", "2", "--", "train", config, "--steps", "2"},
                                       log.string());
  const int code = WaitWithTimeout(launcher, 120);
  if (code < 0) kill(launcher, SIGKILL);
  const std::string output = ReadText(log);
  ASSERT_EQ(code, 0) << output;
  EXPECT_NE(output.find("[rank 0] aha train:"), std::string::npos) << output;
  EXPECT_NE(output.find("2 ranks from RANK/WORLD_SIZE"), std::string::npos) << output;
  EXPECT_EQ(CountLines(dir_ / "out" / "metrics.jsonl"), 2) << output;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "final" / "config.json")) << output;
}

TEST_F(DataParallelTrainerTest, KilledRankEndsTheLaunch) {
  const std::string config = WriteConfig("");
  const fs::path log = dir_ / "launch.log";
  const pid_t launcher =
      StartLauncher({"--nproc", "2", "--grace_seconds", "2", "--", "train", config, "--steps",
                     "1000", "--set", "run.dist_timeout_seconds=20"},
                    log.string());
  // Kill rank 1 once rank 0 has logged a step, so the ranks are mid-run.
  const fs::path metrics = dir_ / "out" / "metrics.jsonl";
  for (int i = 0; i < 1200 && CountLines(metrics) < 1; ++i) {
    if (WaitWithTimeout(launcher, 0.05) >= 0) FAIL() << "the launch ended early:\n" << ReadText(log);
  }
  ASSERT_GE(CountLines(metrics), 1) << ReadText(log);
  const pid_t rank1 = FindRank(launcher, 1);
  ASSERT_GT(rank1, 0) << ReadText(log);
  const auto killed = std::chrono::steady_clock::now();
  kill(rank1, SIGKILL);

  const int code = WaitWithTimeout(launcher, 30);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  if (code < 0) kill(launcher, SIGKILL);
  const std::string output = ReadText(log);
  std::printf("the launcher exited %.2f s after rank 1 was killed\n", seconds);
  EXPECT_EQ(code, 128 + SIGKILL) << output;
  EXPECT_LT(seconds, 20.0) << output;
  EXPECT_NE(output.find("aha launch: rank 1 (pid " + std::to_string(rank1) +
                        ") was killed by signal 9"),
            std::string::npos)
      << output;
}

TEST_F(DataParallelTrainerTest, StoppedRankTimesOutWithItsName) {
  const std::string config = WriteConfig("");
  const fs::path log = dir_ / "launch.log";
  const pid_t launcher =
      StartLauncher({"--nproc", "2", "--grace_seconds", "1", "--", "train", config, "--steps",
                     "1000", "--set", "run.dist_timeout_seconds=3"},
                    log.string());
  const fs::path metrics = dir_ / "out" / "metrics.jsonl";
  for (int i = 0; i < 1200 && CountLines(metrics) < 1; ++i) {
    if (WaitWithTimeout(launcher, 0.05) >= 0) FAIL() << "the launch ended early:\n" << ReadText(log);
  }
  ASSERT_GE(CountLines(metrics), 1) << ReadText(log);
  const pid_t rank1 = FindRank(launcher, 1);
  ASSERT_GT(rank1, 0) << ReadText(log);
  // A stopped rank neither exits nor answers: only rank 0's collective timeout can end the run.
  const auto stopped = std::chrono::steady_clock::now();
  kill(rank1, SIGSTOP);

  const int code = WaitWithTimeout(launcher, 60);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  if (code < 0) {
    kill(rank1, SIGKILL);
    kill(launcher, SIGKILL);
  }
  const std::string output = ReadText(log);
  std::printf("the launch ended %.2f s after rank 1 was stopped\n", seconds);
  EXPECT_EQ(code, 1) << output;
  EXPECT_LT(seconds, 30.0) << output;
  EXPECT_NE(output.find(") timed out after"), std::string::npos) << output;
  const bool named = output.find("rank 1 has not reached this collective") != std::string::npos ||
                     output.find("rank 1 started this collective") != std::string::npos;
  EXPECT_TRUE(named) << output;
}

TEST_F(DataParallelTrainerTest, LaunchResumeMatchesOneProcess) {
  const std::string config = WriteConfig("");
  const std::string resumed = (dir_ / "resumed").string();
  for (const char* steps : {"2", "4"}) {
    std::vector<std::string> args = {"--nproc", "2", "--", "train", config, "--steps", steps,
                                     "--out", resumed};
    if (std::string(steps) == "4") args.push_back("--resume");
    const fs::path log = dir_ / (std::string("launch_") + steps + ".log");
    const pid_t launcher = StartLauncher(args, log.string());
    const int code = WaitWithTimeout(launcher, 120);
    if (code < 0) kill(launcher, SIGKILL);
    ASSERT_EQ(code, 0) << ReadText(log);
  }
  EXPECT_EQ(CountLines(fs::path(resumed) / "metrics.jsonl"), 4);

  torch::set_num_threads(1);
  auto straight = LoadGrpoRunConfig(config);
  ASSERT_TRUE(straight.ok()) << straight.status();
  straight->out_dir = (dir_ / "straight").string();
  straight->grpo.steps = 4;
  auto trainer = GrpoTrainer::Create(*straight, false, nullptr);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Run().ok());

  absl::StatusOr<CausalLm> a = LoadModel((dir_ / "straight" / "final").string());
  absl::StatusOr<CausalLm> b = LoadModel(resumed + "/final");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const double diff = MaxDifference((*a)->parameters(), (*b)->parameters());
  std::printf("max |w(2 ranks, resumed at step 2) - w(1 process)| after 4 steps: %.3g\n", diff);
  EXPECT_LT(diff, 1e-5);
}
#endif  // AHA_BINARY

TEST(DataParallelConfigTest, PromptsMustDivideAmongRanks) {
  EXPECT_TRUE(CheckPromptsDivideAmongRanks(8, 4, "run.yaml").ok());
  absl::Status status = CheckPromptsDivideAmongRanks(6, 4, "run.yaml");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("run.yaml: grpo.prompts_per_step (6)"), std::string::npos)
      << status;
}

}  // namespace
}  // namespace aha
