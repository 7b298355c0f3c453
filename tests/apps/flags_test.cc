#include "apps/flags.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace aha::cli
