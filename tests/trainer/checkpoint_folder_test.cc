#include "trainer/checkpoint_folder.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace aha {
namespace {

namespace fs = std::filesystem;

class CheckpointFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = fs::temp_directory_path() /
           ("aha_checkpoint_folder_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(out_);
    fs::create_directories(out_);
  }
  void TearDown() override { fs::remove_all(out_); }

  // Writes a checkpoint folder whose trainer_state.json records `step`; without `complete`,
  // only the weights file, as a save that stopped midway leaves it.
  void WriteCheckpoint(const fs::path& dir, int step, bool complete = true) {
    fs::create_directories(dir);
    std::ofstream(dir / "model.safetensors") << "weights " << step;
    if (complete) std::ofstream(dir / kCheckpointStateFile) << "{\"step\": " << step << "}";
  }

  static std::string StepOf(const fs::path& dir) {
    std::ifstream in(dir / kCheckpointStateFile);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string out() const { return out_.string(); }

  fs::path out_;
};

TEST_F(CheckpointFolderTest, SaveReplacesPrevious) {
  WriteCheckpoint(out_ / "checkpoint", 1);
  auto pending = BeginCheckpointSave(out());
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(*pending, (out_ / "checkpoint.tmp").string());
  WriteCheckpoint(*pending, 2);
  ASSERT_TRUE(FinishCheckpointSave(out()).ok());
  EXPECT_EQ(StepOf(out_ / "checkpoint"), "{\"step\": 2}");
  EXPECT_FALSE(fs::exists(out_ / "checkpoint.tmp"));
  EXPECT_FALSE(fs::exists(out_ / "checkpoint.old"));
}

TEST_F(CheckpointFolderTest, BeginEmptiesStalePending) {
  WriteCheckpoint(out_ / "checkpoint.tmp", 7, /*complete=*/false);
  auto pending = BeginCheckpointSave(out());
  ASSERT_TRUE(pending.ok());
  EXPECT_FALSE(fs::exists(*pending));
}

TEST_F(CheckpointFolderTest, FinishRefusesIncompleteSave) {
  WriteCheckpoint(out_ / "checkpoint", 1);
  WriteCheckpoint(out_ / "checkpoint.tmp", 2, /*complete=*/false);
  EXPECT_FALSE(FinishCheckpointSave(out()).ok());
  EXPECT_EQ(StepOf(out_ / "checkpoint"), "{\"step\": 1}");
}

TEST_F(CheckpointFolderTest, ResumeFindsCheckpoint) {
  WriteCheckpoint(out_ / "checkpoint", 3);
  auto found = FindCheckpointToResume(out(), /*recover=*/true);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, (out_ / "checkpoint").string());
}

TEST_F(CheckpointFolderTest, ResumeWithoutCheckpointStartsOver) {
  auto found = FindCheckpointToResume(out(), /*recover=*/true);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, "");
}

// A crash after the old checkpoint moved aside and before the new one moved in.
TEST_F(CheckpointFolderTest, ResumeRecoversNewestAfterCrash) {
  WriteCheckpoint(out_ / "checkpoint.old", 4);
  WriteCheckpoint(out_ / "checkpoint.tmp", 5);
  auto found = FindCheckpointToResume(out(), /*recover=*/true);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, (out_ / "checkpoint").string());
  EXPECT_EQ(StepOf(out_ / "checkpoint"), "{\"step\": 5}");
}

TEST_F(CheckpointFolderTest, ResumeRecoversOldWhenNewIsPartial) {
  WriteCheckpoint(out_ / "checkpoint.old", 4);
  WriteCheckpoint(out_ / "checkpoint.tmp", 5, /*complete=*/false);
  auto found = FindCheckpointToResume(out(), /*recover=*/true);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(StepOf(out_ / "checkpoint"), "{\"step\": 4}");
}

TEST_F(CheckpointFolderTest, ResumeWithoutRecoverMovesNothing) {
  WriteCheckpoint(out_ / "checkpoint.tmp", 5);
  auto found = FindCheckpointToResume(out(), /*recover=*/false);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, (out_ / "checkpoint.tmp").string());
  EXPECT_FALSE(fs::exists(out_ / "checkpoint"));
}

TEST_F(CheckpointFolderTest, IncompleteCheckpointIsAnError) {
  WriteCheckpoint(out_ / "checkpoint", 6, /*complete=*/false);
  auto found = FindCheckpointToResume(out(), /*recover=*/true);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("trainer_state.json"), std::string::npos);
  EXPECT_TRUE(fs::exists(out_ / "checkpoint" / "model.safetensors"));
}

TEST_F(CheckpointFolderTest, NewRunAcceptsEmptyFolder) {
  EXPECT_TRUE(CheckNoEarlierRun(out()).ok());
  EXPECT_TRUE(CheckNoEarlierRun((out_ / "missing").string()).ok());
  // A run that failed before its first step left an empty metrics.jsonl.
  std::ofstream(out_ / "metrics.jsonl").flush();
  EXPECT_TRUE(CheckNoEarlierRun(out()).ok());
}

TEST_F(CheckpointFolderTest, NewRunRefusesEarlierRun) {
  std::ofstream(out_ / "metrics.jsonl") << "{}\n";
  absl::Status status = CheckNoEarlierRun(out());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("metrics.jsonl"), std::string::npos);
  EXPECT_NE(status.message().find("--resume"), std::string::npos);
}

}  // namespace
}  // namespace aha
