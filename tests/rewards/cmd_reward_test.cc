// Tests of `aha reward`, run as a child process (posix_spawn, no shell) on files.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

class CmdRewardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "cmd_reward_test_" + std::to_string(getpid());
    mkdir(dir_.c_str(), 0700);
  }

  // Runs `aha reward ARGS...` with `input` on stdin. `while_running` gets aha's pid before
  // the wait.
  RunResult Run(const std::vector<std::string>& args, const std::string& input,
                const std::function<void(pid_t)>& while_running = nullptr) {
    std::string in_path = dir_ + "/in.jsonl";
    std::string out_path = dir_ + "/out.jsonl";
    std::string err_path = dir_ + "/err.txt";
    WriteFile(in_path, input);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    std::vector<std::string> argv = {AHA_BINARY, "reward"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c_argv;
    for (std::string& arg : argv) c_argv.push_back(arg.data());
    c_argv.push_back(nullptr);

    RunResult result;
    pid_t pid;
    int error = posix_spawn(&pid, AHA_BINARY, &actions, nullptr, c_argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(error, 0);
    if (error != 0) return result;
    if (while_running) while_running(pid);
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadFile(out_path);
    result.err = ReadFile(err_path);
    return result;
  }

  std::string WriteConfig(const std::string& yaml) {
    std::string path = dir_ + "/config.yaml";
    WriteFile(path, yaml);
    return path;
  }

  std::string dir_;
};

TEST_F(CmdRewardTest, ScoresSamplesAsJsonLines) {
  std::string config = WriteConfig(R"(
rewards:
  - name: format
    weight: 0.5
  - name: countdown
  - name: length
    max_tokens: 10
    cache_tokens: 4
)");
  std::string input =
      R"({"prompt": "p", "completion": "<think>x</think><answer>8*9</answer>", "nums": [8, 9], "target": 72, "num_tokens": 8})"
      "\n\n"
      R"({"completion": "<answer>8+9</answer>", "nums": [8, 9], "target": 72, "finish_reason": "length"})"
      "\n";
  RunResult run = Run({"--config", config, "--batch_size", "1"}, input);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  std::istringstream lines(run.out);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(lines, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u) << run.out;

  EXPECT_EQ(rows[0]["nums"], nlohmann::json({8, 9}));
  EXPECT_DOUBLE_EQ(rows[0]["reward"]["components"]["format"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[0]["reward"]["components"]["countdown"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[0]["reward"]["components"]["length"].get<double>(), -0.5);
  EXPECT_DOUBLE_EQ(rows[0]["reward"]["total"].get<double>(), 0.5 + 1.0 - 0.5);
  EXPECT_DOUBLE_EQ(rows[0]["reward"]["accuracy"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[1]["reward"]["components"]["countdown"].get<double>(), 0.1);
  EXPECT_EQ(rows[1]["reward"]["all_abstained"], false);
}

TEST_F(CmdRewardTest, BadLineReportsLineNumber) {
  std::string config = WriteConfig("rewards: [{name: format}]\n");
  RunResult run = Run({"--config", config},
                      "{\"completion\": \"a\"}\n{\"completion\": \"b\"}\n{not json\n");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("stdin line 3"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("invalid JSON"), std::string::npos) << run.err;
}

TEST_F(CmdRewardTest, WrongFieldTypeReportsLineNumber) {
  std::string config = WriteConfig("rewards: [{name: format}]\n");
  RunResult run = Run({"--config", config}, "{\"completion\": 5}\n");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("stdin line 1: 'completion' must be a string"), std::string::npos)
      << run.err;
}

TEST_F(CmdRewardTest, RewardErrorsGiveExitCodeOne) {
  std::string config =
      WriteConfig("rewards: [{name: broken, command: [sh, -c, 'read request; exit 1']}]\n");
  RunResult run = Run({"--config", config}, "{\"completion\": \"a\"}\n");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("\"broken\":0.0"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("reward 'broken' had 1 errors"), std::string::npos) << run.err;
}

// A process that is gone or a zombie waiting for its new parent to reap it.
bool ProcessEnded(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// Reward commands run in their own process group, which a terminal's Ctrl-C does not reach,
// so stopping aha must stop them too.
TEST_F(CmdRewardTest, SigtermStopsHangingCommand) {
  const std::string pid_file = dir_ + "/command.pid";
  std::string config = WriteConfig("rewards: [{name: stuck, timeout_seconds: 600, command: [sh, "
                                   "-c, 'echo $$ > " + pid_file + "; exec sleep 600']}]\n");
  pid_t command_pid = 0;
  RunResult run = Run({"--config", config}, "{\"completion\": \"a\"}\n", [&](pid_t aha) {
    for (int i = 0; i < 1000 && command_pid == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::ifstream(pid_file) >> command_pid;
    }
    kill(aha, SIGTERM);
  });
  ASSERT_GT(command_pid, 0) << "the command never started: " << run.err;
  bool ended = false;
  for (int i = 0; i < 200 && !ended; ++i) {
    ended = ProcessEnded(command_pid);
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ended) << "the reward command outlived aha";
  if (!ended) kill(command_pid, SIGKILL);
}

TEST_F(CmdRewardTest, ConfigErrorNamesFileAndKey) {
  std::string config = WriteConfig("rewards: [{name: format, wieght: 2}]\n");
  RunResult run = Run({"--config", config}, "");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(config), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("wieght"), std::string::npos) << run.err;
}

TEST_F(CmdRewardTest, MissingConfigFlag) {
  RunResult run = Run({}, "");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("--config"), std::string::npos) << run.err;
}

}  // namespace
