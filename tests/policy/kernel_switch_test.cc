#include "policy/kernel_switch.h"

#include <stdlib.h>

#include <string>

#include <gtest/gtest.h>

namespace aha {
namespace {

constexpr char kVariable[] = "AHA_KERNEL_SWITCH_TEST";

TEST(KernelSwitchTest, UnsetKeepsTheKernel) {
  unsetenv(kVariable);
  EXPECT_FALSE(KernelSwitchedToTorch(kVariable));
}

TEST(KernelSwitchTest, TorchTurnsTheKernelOff) {
  setenv(kVariable, "torch", 1);
  EXPECT_TRUE(KernelSwitchedToTorch(kVariable));
  unsetenv(kVariable);
}

TEST(KernelSwitchTest, OtherValueIsReportedAndIgnored) {
  setenv(kVariable, "off", 1);
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(KernelSwitchedToTorch(kVariable));
  const std::string message = ::testing::internal::GetCapturedStderr();
  unsetenv(kVariable);
  EXPECT_NE(message.find("AHA_KERNEL_SWITCH_TEST=off is not a valid value"), std::string::npos)
      << message;
  EXPECT_NE(message.find("\"torch\""), std::string::npos) << message;
}

}  // namespace
}  // namespace aha
