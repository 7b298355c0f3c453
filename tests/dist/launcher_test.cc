#include "dist/launcher.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "tests/unique_temp_path.h"

namespace aha::dist {
namespace {

using Clock = std::chrono::steady_clock;

LaunchOptions ShellRanks(int nproc, const std::string& script) {
  LaunchOptions options;
  options.nproc = nproc;
  options.program = "/bin/sh";
  options.args = {"-c", script};
  options.store_file = aha_test::UniqueTempPath("launcher_store");
  options.grace = std::chrono::seconds(2);
  return options;
}

TEST(LauncherTest, RanksGetTheirEnvironment) {
  ::testing::internal::CaptureStdout();
  absl::StatusOr<LaunchResult> result = Launch(ShellRanks(
      3, "echo \"r=$RANK w=$WORLD_SIZE l=$LOCAL_RANK a=$MASTER_ADDR p=$MASTER_PORT "
         "s=${AHA_STORE_FILE:+set}\""));
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->failed_rank, -1);
  for (int rank = 0; rank < 3; ++rank) {
    const std::string line = "[rank " + std::to_string(rank) + "] r=" + std::to_string(rank) +
                             " w=3 l=" + std::to_string(rank) + " a=127.0.0.1 p=29500 s=set";
    EXPECT_NE(out.find(line), std::string::npos) << out;
  }
}

TEST(LauncherTest, UnterminatedOutputIsForwarded) {
  ::testing::internal::CaptureStderr();
  absl::StatusOr<LaunchResult> result = Launch(ShellRanks(1, "printf 'no newline' >&2"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(err.find("[rank 0] no newline"), std::string::npos) << err;
}

TEST(LauncherTest, KilledRankStopsTheOthers) {
  const auto start = Clock::now();
  ::testing::internal::CaptureStderr();
  absl::StatusOr<LaunchResult> result =
      Launch(ShellRanks(3, "if [ \"$RANK\" = 1 ]; then sleep 0.3; kill -9 $$; fi; exec sleep 60"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->failed_rank, 1);
  EXPECT_EQ(result->exit_code, 128 + 9);
  EXPECT_NE(result->failure.find("rank 1"), std::string::npos) << result->failure;
  EXPECT_NE(result->failure.find("signal 9"), std::string::npos) << result->failure;
  EXPECT_NE(err.find("rank 1"), std::string::npos) << err;
  EXPECT_LT(seconds, 10.0);
}

TEST(LauncherTest, ExitCodeOfFailedRankIsReturned) {
  absl::StatusOr<LaunchResult> result =
      Launch(ShellRanks(2, "if [ \"$RANK\" = 0 ]; then exit 3; fi; exec sleep 60"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->failed_rank, 0);
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_NE(result->failure.find("exited with code 3"), std::string::npos) << result->failure;
}

TEST(LauncherTest, RankIgnoringSigtermIsKilledAfterGrace) {
  const auto start = Clock::now();
  absl::StatusOr<LaunchResult> result = Launch(ShellRanks(
      2, "if [ \"$RANK\" = 1 ]; then exit 1; fi; trap '' TERM; exec sleep 30"));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->failed_rank, 1);
  EXPECT_LT(seconds, 10.0);
}

TEST(LauncherTest, SigtermToLauncherReachesRanks) {
  // The launcher's own SIGTERM (as from Ctrl-C or a job scheduler) is passed on to the ranks.
  std::thread sender([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    kill(getpid(), SIGTERM);
  });
  const auto start = Clock::now();
  absl::StatusOr<LaunchResult> result = Launch(ShellRanks(2, "exec sleep 60"));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  sender.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 128 + SIGTERM);
  EXPECT_EQ(result->failed_rank, -1);
  EXPECT_LT(seconds, 10.0);
}

TEST(LauncherTest, MissingProgramFails) {
  LaunchOptions options = ShellRanks(1, "");
  options.program = "/nonexistent/aha";
  ::testing::internal::CaptureStderr();
  absl::StatusOr<LaunchResult> result = Launch(options);
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 127);
  EXPECT_NE(err.find("cannot run /nonexistent/aha"), std::string::npos) << err;
}

TEST(LauncherTest, StoreFileIsRemoved) {
  LaunchOptions options = ShellRanks(1, "echo x > \"$AHA_STORE_FILE\"");
  absl::StatusOr<LaunchResult> result = Launch(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(std::filesystem::exists(options.store_file));
}

}  // namespace
}  // namespace aha::dist
