#include "apps/flags.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/unique_temp_path.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"out", "output folder"}, {"check", "validate only", /*is_switch=*/true}};

TEST(FlagsTest, ReadsValuesAndSwitches) {
  auto flags = ParseFlags({"config.yaml", "--out", "runs/a", "--check"}, kSpecs);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->GetOr("out", ""), "runs/a");
  EXPECT_TRUE(flags->Has("check"));
  EXPECT_EQ(flags->positional(), std::vector<std::string>{"config.yaml"});
}

TEST(FlagsTest, FlagAfterFlagIsMissingValue) {
  auto flags = ParseFlags({"--out", "--check"}, kSpecs);
  ASSERT_FALSE(flags.ok());
  EXPECT_NE(flags.status().message().find("--out expects a value"), std::string::npos)
      << flags.status();
  EXPECT_NE(flags.status().message().find("--out=VALUE"), std::string::npos);
}

TEST(FlagsTest, EqualsFormTakesDashedValue) {
  auto flags = ParseFlags({"--out=--odd-folder"}, kSpecs);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->GetOr("out", ""), "--odd-folder");
}

TEST(FlagsTest, NegativeNumberIsAValue) {
  auto flags = ParseFlags({"--out", "-1"}, kSpecs);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->GetOr("out", ""), "-1");
}

TEST(FlagsTest, UnknownFlagIsNamed) {
  auto flags = ParseFlags({"--outt", "x"}, kSpecs);
  ASSERT_FALSE(flags.ok());
  EXPECT_NE(flags.status().message().find("--outt"), std::string::npos);
}

TEST(FlagsTest, OutputMustNotBeTheInputModel) {
  const std::string dir = ::testing::TempDir();
  EXPECT_FALSE(CheckOutputIsNotModel(dir, "init_from", dir).ok());
  EXPECT_FALSE(CheckOutputIsNotModel(dir, "init_from", dir + "/.").ok());
  EXPECT_TRUE(CheckOutputIsNotModel(dir, "init_from", dir + "/not-there").ok());
  EXPECT_TRUE(CheckOutputIsNotModel("", "init_from", dir).ok());
}

// The names in `dir` that start with `prefix`.
std::vector<std::string> EntriesStartingWith(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

TEST(OutputGuardTest, EarlierFolderIsMovedAside) {
  const std::string root = aha_test::UniqueTempPath("aside");
  const std::string out = root + "/model";
  std::filesystem::create_directories(out);
  std::ofstream(out + "/model.safetensors") << "weights";
  ASSERT_TRUE(PrepareOutputFolder(out, "out_dir").ok());
  EXPECT_TRUE(std::filesystem::is_empty(out));
  const std::vector<std::string> moved = EntriesStartingWith(root, "model.");
  ASSERT_EQ(moved.size(), 1u);
  std::ifstream kept(root + "/" + moved[0] + "/model.safetensors");
  std::string text;
  kept >> text;
  EXPECT_EQ(text, "weights");

  // An empty folder stays, and a second earlier output gets a name of its own.
  ASSERT_TRUE(PrepareOutputFolder(out, "out_dir").ok());
  EXPECT_EQ(EntriesStartingWith(root, "model.").size(), 1u);
  std::ofstream(out + "/config.json") << "{}";
  ASSERT_TRUE(PrepareOutputFolder(out, "out_dir").ok());
  EXPECT_EQ(EntriesStartingWith(root, "model.").size(), 2u);
  std::filesystem::remove_all(root);
}

TEST(OutputGuardTest, FileWhereFolderBelongsIsAnError) {
  const std::string root = aha_test::UniqueTempPath("file_out");
  std::filesystem::create_directories(root);
  std::ofstream(root + "/afile") << "text";
  EXPECT_FALSE(CheckOutputFolderPath(root + "/afile", "--out").ok());
  EXPECT_TRUE(CheckOutputFolderPath(root, "--out").ok());
  EXPECT_TRUE(CheckOutputFolderPath(root + "/new", "--out").ok());
  absl::Status status = PrepareOutputFolder(root + "/afile", "--out");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("--out " + root + "/afile is a file"), std::string::npos)
      << status;
  std::filesystem::remove_all(root);
}

TEST(OutputGuardTest, FolderOnStdinIsAnError) {
  const std::string root = aha_test::UniqueTempPath("stdin_dir");
  std::filesystem::create_directories(root);
  const int saved = dup(STDIN_FILENO);
  const int folder = open(root.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(folder, 0);
  dup2(folder, STDIN_FILENO);
  const absl::Status status = CheckStdinReadable();
  dup2(saved, STDIN_FILENO);
  close(folder);
  close(saved);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("standard input is a folder"), std::string::npos) << status;
  std::filesystem::remove_all(root);
}

TEST(OutputGuardTest, EarlierFileIsMovedAside) {
  const std::string root = aha_test::UniqueTempPath("file_aside");
  std::filesystem::create_directories(root);
  std::ofstream(root + "/train.jsonl") << "{}";
  ASSERT_TRUE(MoveEarlierOutputAside(root + "/train.jsonl").ok());
  EXPECT_FALSE(std::filesystem::exists(root + "/train.jsonl"));
  EXPECT_EQ(EntriesStartingWith(root, "train.jsonl.").size(), 1u);
  EXPECT_TRUE(MoveEarlierOutputAside(root + "/missing.jsonl").ok());
  std::filesystem::remove_all(root);
}

TEST(OutputGuardTest, OutputMustNotBeAnInput) {
  const std::string root = aha_test::UniqueTempPath("no_input");
  std::filesystem::create_directories(root + "/model");
  std::ofstream(root + "/model/model.safetensors") << "weights";
  std::ofstream(root + "/data.jsonl") << "{}";
  std::ofstream(root + "/eval.yaml") << "eval: {}";
  const std::vector<std::string> inputs = {root + "/eval.yaml", root + "/data.jsonl"};
  const std::string model = root + "/model";
  EXPECT_FALSE(CheckOutputIsNoInput(root + "/data.jsonl", "--out", inputs, model).ok());
  EXPECT_FALSE(CheckOutputIsNoInput(root + "/./eval.yaml", "--out", inputs, model).ok());
  absl::Status status =
      CheckOutputIsNoInput(root + "/model/model.safetensors", "--out", inputs, model);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("is a file of the model folder"), std::string::npos) << status;
  EXPECT_TRUE(CheckOutputIsNoInput(root + "/eval.json", "--out", inputs, model).ok());
  std::ofstream(root + "/eval.json") << "{}";
  EXPECT_TRUE(CheckOutputIsNoInput(root + "/eval.json", "--out", inputs, model).ok());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace aha::cli
