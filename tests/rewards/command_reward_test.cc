// Tests of command rewards: a child process that times out, exits or replies wrongly gets
// on_error for that batch, is logged and restarted, and the next batch works.
#include "rewards/command_reward.h"

#include <signal.h>
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rewards/reward_set.h"
#include "tests/rewards/reward_test_util.h"
#include "yaml-cpp/yaml.h"

namespace aha {
namespace {

class CommandRewardTest : public ::testing::Test {
 protected:
  std::unique_ptr<CommandReward> Start(double on_error = -1.0, bool fail_on_error = false,
                                       std::vector<std::string> extra_args = {}) {
    ExternalRewardOptions options;
    options.timeout_seconds = 1.0;
    options.on_error = on_error;
    options.fail_on_error = fail_on_error;
    std::vector<std::string> argv = {FAKE_REWARD_COMMAND};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto reward = CommandReward::Create("fake", argv, options);
    EXPECT_TRUE(reward.ok()) << reward.status();
    return reward.ok() ? *std::move(reward) : nullptr;
  }

  // Scores a batch that asks the child to fail, and checks that every sample gets on_error
  // (-1), that the failure is counted and logged with `reason`, and that the next batch works.
  void ExpectFailedBatchThenRecovery(const std::vector<std::string>& failing,
                                     const std::string& reason) {
    auto reward = Start();
    ASSERT_NE(reward, nullptr);
    pid_t first_pid = reward->pid();

    testing::internal::CaptureStderr();
    auto failed = reward->Score(Samples(failing));
    std::string log = testing::internal::GetCapturedStderr();
    ASSERT_TRUE(failed.ok()) << failed.status();
    ASSERT_EQ(failed->scores.size(), failing.size());
    for (const auto& score : failed->scores) EXPECT_EQ(score, -1.0);
    EXPECT_EQ(failed->num_errors, 1);
    EXPECT_NE(log.find("reward 'fake': batch 1 failed"), std::string::npos) << log;
    EXPECT_NE(log.find(reason), std::string::npos) << log;
    ASSERT_EQ(failed->info.size(), 1u);
    EXPECT_NE(failed->info[0].find(reason), std::string::npos) << failed->info[0];

    auto next = reward->Score(Samples({"ab", "abc", "a", "abcd"}));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->num_errors, 0);
    EXPECT_EQ(next->scores, (std::vector<std::optional<double>>{2.0, 3.0, 1.0, 4.0}));
    EXPECT_NE(reward->pid(), first_pid);
  }
};

TEST_F(CommandRewardTest, ScoresAndAbstains) {
  auto reward = Start();
  ASSERT_NE(reward, nullptr);
  for (int batch = 0; batch < 3; ++batch) {
    auto result = reward->Score(Samples({"abc", "abstain", ""}));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->scores, (std::vector<std::optional<double>>{3.0, std::nullopt, 0.0}));
  }
}

TEST_F(CommandRewardTest, SendsAllSampleFields) {
  auto reward = Start();
  ASSERT_NE(reward, nullptr);
  std::vector<RewardSample> samples = Samples({"abcd"});
  samples[0].prompt = "p";
  samples[0].ground_truth = "7";
  samples[0].fields = {{"nums", {1, 2}}};
  samples[0].finish_reason = FinishReason::kLength;
  samples[0].num_tokens = 12;
  EXPECT_EQ(SampleToJson(samples[0]).dump(),
            R"({"completion":"abcd","fields":{"nums":[1,2]},"finish_reason":"length",)"
            R"("ground_truth":"7","num_tokens":12,"prompt":"p"})");
  auto result = reward->Score(samples);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scores[0], 4.0);
}

TEST_F(CommandRewardTest, InvalidUtf8IsReplaced) {
  auto reward = Start();
  ASSERT_NE(reward, nullptr);
  auto result = reward->Score(Samples({std::string("a\xff")}));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_errors, 0);
  EXPECT_EQ(result->scores[0], 4.0);  // "a" and the 3-byte U+FFFD
}

TEST_F(CommandRewardTest, TimeoutThenRecovery) {
  ExpectFailedBatchThenRecovery({"a", "sleep", "b", "c"}, "timeout_seconds");
}

TEST_F(CommandRewardTest, ExitThenRecovery) {
  ExpectFailedBatchThenRecovery({"a", "exit", "b", "c"}, "exited with status 3");
}

TEST_F(CommandRewardTest, WrongCountThenRecovery) {
  ExpectFailedBatchThenRecovery({"a", "short", "b", "c"}, "3 scores for 4 samples");
}

TEST_F(CommandRewardTest, GarbageThenRecovery) {
  ExpectFailedBatchThenRecovery({"garbage"}, "not JSON");
}

TEST_F(CommandRewardTest, ChildExitingBeforeReadingDoesNotRaiseSigpipe) {
  auto reward = Start(-1.0, false, {"--exit-at-start"});
  ASSERT_NE(reward, nullptr);
  // A request larger than the pipe buffer makes the write itself hit the closed pipe.
  std::vector<RewardSample> samples = Samples({std::string(1 << 20, 'x')});
  testing::internal::CaptureStderr();
  auto result = reward->Score(samples);
  std::string log = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scores[0], -1.0);
  EXPECT_EQ(result->num_errors, 1);
  EXPECT_NE(log.find("exited with status 4"), std::string::npos) << log;
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST_F(CommandRewardTest, FailOnErrorStops) {
  auto reward = Start(0.0, /*fail_on_error=*/true);
  ASSERT_NE(reward, nullptr);
  testing::internal::CaptureStderr();
  auto result = reward->Score(Samples({"short", "b"}));
  testing::internal::GetCapturedStderr();
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("1 scores for 2 samples"), std::string::npos) << result.status();
}

TEST_F(CommandRewardTest, MissingProgramIsConfigError) {
  auto set = RewardSet::FromYaml(
      YAML::Load("[{name: cmd, command: [/nonexistent/reward_program]}]"), "run.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("run.yaml"), std::string::npos) << set.status();
  EXPECT_NE(set.status().message().find("/nonexistent/reward_program"), std::string::npos);
}

TEST_F(CommandRewardTest, CommandExitingAtStartIsConfigError) {
  auto set = RewardSet::FromYaml(
      YAML::Load("[{name: cmd, command: [sh, -c, 'echo broken >&2; exit 2']}]"), "run.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("exited with status 2 right after it started"),
            std::string::npos)
      << set.status();
}

TEST_F(CommandRewardTest, MissingInterpreterIsNamed) {
  const std::string script = ::testing::TempDir() + "/missing_interpreter.sh";
  std::ofstream(script) << "#!/nonexistent/interpreter\n";
  chmod(script.c_str(), 0755);
  auto set = RewardSet::FromYaml(YAML::Load("[{name: cmd, command: [" + script + "]}]"),
                                 "run.yaml");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("interpreter on its #! line"), std::string::npos)
      << set.status();
}

TEST_F(CommandRewardTest, TaggedReplyIsRead) {
  auto reward = Start();
  ASSERT_NE(reward, nullptr);
  auto scored = reward->Score(Samples({"tagged", "ab"}));
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->num_errors, 0);
  EXPECT_EQ(scored->scores, (std::vector<std::optional<double>>{6.0, 2.0}));
}

// A second line after a reply is either seen before the next request, and the command is
// restarted, or read as the next reply and rejected for its id. Its scores are never used.
TEST_F(CommandRewardTest, ExtraReplyLineIsNeverUsed) {
  auto reward = Start();
  ASSERT_NE(reward, nullptr);
  testing::internal::CaptureStderr();
  for (int round = 0; round < 5; ++round) {
    auto first = reward->Score(Samples({"twice", "abc"}));
    ASSERT_TRUE(first.ok()) << first.status();
    auto next = reward->Score(Samples({"tagged", "abcd"}));
    ASSERT_TRUE(next.ok()) << next.status();
    for (const auto& score : next->scores) EXPECT_NE(score, 99.0);
    if (next->num_errors == 0) {
      EXPECT_EQ(next->scores, (std::vector<std::optional<double>>{6.0, 4.0}));
    }
  }
  testing::internal::GetCapturedStderr();
}

TEST(ParseScoresLineTest, NanReplyExplainsJson) {
  auto scores = ParseScoresLine("[NaN]", 1, 1);
  ASSERT_FALSE(scores.ok());
  EXPECT_NE(scores.status().message().find("reply null to abstain"), std::string::npos)
      << scores.status();
}

TEST(ParseScoresLineTest, ValidatesReply) {
  EXPECT_TRUE(ParseScoresLine("[1, null, 2.5]", 3, 1).ok());
  EXPECT_FALSE(ParseScoresLine("[1, 2]", 3, 1).ok());
  EXPECT_FALSE(ParseScoresLine("{\"scores\": [1]}", 1, 1).ok());
  EXPECT_FALSE(ParseScoresLine("[\"1\"]", 1, 1).ok());
  EXPECT_FALSE(ParseScoresLine("[true]", 1, 1).ok());
  EXPECT_FALSE(ParseScoresLine("[1e999]", 1, 1).ok());
  EXPECT_FALSE(ParseScoresLine("nope", 1, 1).ok());
}

TEST(ParseScoresLineTest, TaggedReplyNeedsTheRequestId) {
  auto scores = ParseScoresLine("{\"id\": 7, \"scores\": [1, null]}", 2, 7);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(*scores, (std::vector<std::optional<double>>{1.0, std::nullopt}));

  auto stale = ParseScoresLine("{\"id\": 6, \"scores\": [1, 2]}", 2, 7);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.status().message().find("request id 6, but request 7 was sent"),
            std::string::npos)
      << stale.status();
  EXPECT_FALSE(ParseScoresLine("{\"id\": \"7\", \"scores\": [1]}", 1, 7).ok());
  EXPECT_FALSE(ParseScoresLine("{\"id\": 7, \"scores\": [1, 2]}", 1, 7).ok());
}

TEST(CommandRewardSetTest, OnErrorNullAbstainsWithoutNan) {
  std::string yaml = std::string("[{name: cmd, on_error: null, timeout_seconds: 5, command: [") +
                     FAKE_REWARD_COMMAND + "]}, {name: format}]";
  auto set = RewardSet::FromYaml(YAML::Load(yaml), "run.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  testing::internal::CaptureStderr();
  auto scored = set->ScoreBatch(Samples({"exit", "b"}));
  testing::internal::GetCapturedStderr();
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->error_counts[0], 1);
  EXPECT_FALSE(scored->components[0][0].has_value());
  EXPECT_EQ(scored->total, (std::vector<double>{0.0, 0.0}));
  EXPECT_FALSE(scored->all_abstained[0]);  // format scored 0
  ASSERT_FALSE(scored->info.empty());
  EXPECT_EQ(scored->info[0].rfind("cmd: batch 1 failed", 0), 0u) << scored->info[0];
}

}  // namespace
}  // namespace aha
