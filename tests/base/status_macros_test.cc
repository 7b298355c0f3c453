#include "base/status_macros.h"

#include <gtest/gtest.h>

namespace aha {
namespace {

absl::StatusOr<int> ParsePositive(int x) {
  if (x <= 0) return absl::InvalidArgumentError("not positive");
  return x;
}

absl::StatusOr<int> Doubled(int x) {
  ASSIGN_OR_RETURN(int value, ParsePositive(x));
  return 2 * value;
}

absl::Status CheckBoth(int a, int b) {
  RETURN_IF_ERROR(ParsePositive(a).status());
  RETURN_IF_ERROR(ParsePositive(b).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnPassesValue) {
  auto result = Doubled(4);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 8);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesError) {
  auto result = Doubled(-1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "not positive");
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtFirstError) {
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, 0).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aha
