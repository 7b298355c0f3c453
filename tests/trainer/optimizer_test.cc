// Tests Optimizer: the norm it returns and the clip it applies, the skipped update on a
// non-finite gradient, the schedule's position across Save and Load, and Load's errors.
#include "trainer/optimizer.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

std::vector<torch::Tensor> Parameters() {
  return {torch::ones({4}, torch::requires_grad()), torch::ones({2, 3}, torch::requires_grad())};
}

OptimizerOptions Options() {
  OptimizerOptions options;
  options.lr = 0.1;
  options.max_grad_norm = 1.0;
  options.warmup_steps = 2;
  return options;
}

TEST(OptimizerTest, ReturnsNormBeforeClipping) {
  auto parameters = Parameters();
  Optimizer optimizer(parameters, Options(), /*total_steps=*/10);
  // Gradient 3 everywhere: norm sqrt(10 * 9) = 9.49, clipped to 1.
  for (auto& p : parameters) p.mutable_grad() = torch::full_like(p, 3.0);
  EXPECT_NEAR(optimizer.Step(), std::sqrt(90.0), 1e-9);
  // Adam's first step moves each weight by the learning rate (warmup step 1 of 2: 0.05),
  // whatever the gradient's scale. So the clip shows only in the moments, and the update is
  // lr * sign(g) here.
  EXPECT_NEAR(parameters[0][0].item<double>(), 1.0 - 0.05, 1e-6);
  for (const auto& p : parameters) EXPECT_EQ(p.grad().abs().max().item<float>(), 0.0f);
}

TEST(OptimizerTest, NonFiniteGradientSkipsUpdate) {
  auto parameters = Parameters();
  Optimizer optimizer(parameters, Options(), /*total_steps=*/10);
  for (auto& p : parameters) p.mutable_grad() = torch::ones_like(p);
  parameters[1].mutable_grad()[0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(optimizer.Step()));
  for (const auto& p : parameters) {
    EXPECT_TRUE(torch::equal(p, torch::ones_like(p)));
    EXPECT_EQ(p.grad().abs().max().item<float>(), 0.0f);
  }
  EXPECT_EQ(optimizer.steps_taken(), 1);
}

TEST(OptimizerTest, LoadRestoresSchedulePosition) {
  auto parameters = Parameters();
  Optimizer optimizer(parameters, Options(), /*total_steps=*/10);
  for (int step = 0; step < 3; ++step) {
    for (auto& p : parameters) p.mutable_grad() = torch::ones_like(p);
    optimizer.Step();
  }
  const std::string path = testing::TempDir() + "/optimizer_state.pt";
  optimizer.Save(path);
  auto again = Parameters();
  Optimizer restored(again, Options(), /*total_steps=*/10);
  ASSERT_TRUE(restored.Load(path).ok());
  EXPECT_EQ(restored.steps_taken(), 3);
  EXPECT_DOUBLE_EQ(restored.current_lr(), optimizer.current_lr());
}

TEST(OptimizerTest, LoadNamesUnreadableFile) {
  const std::string path = testing::TempDir() + "/not_an_optimizer.pt";
  std::ofstream(path) << "not a torch archive";
  auto parameters = Parameters();
  Optimizer optimizer(parameters, Options(), /*total_steps=*/10);
  const absl::Status status = optimizer.Load(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(path + ": cannot read the optimizer state"), std::string::npos)
      << status;
}

TEST(OptimizerTest, FailedLoadKeepsTheState) {
  auto parameters = Parameters();
  Optimizer optimizer(parameters, Options(), /*total_steps=*/10);
  for (auto& p : parameters) p.mutable_grad() = torch::ones_like(p);
  optimizer.Step();
  // An archive with the moments but without "steps_taken".
  auto other = Parameters();
  FusedAdamW adam(other, AdamWOptions());
  for (auto& p : other) p.mutable_grad() = torch::full_like(p, 5.0);
  adam.Step(0.1, 1.0);
  torch::serialize::OutputArchive archive;
  adam.Save(archive);
  const std::string path = testing::TempDir() + "/without_steps_taken.pt";
  archive.save_to(path);

  EXPECT_FALSE(optimizer.Load(path).ok());
  EXPECT_EQ(optimizer.steps_taken(), 1);
  // The moments are still this optimizer's own: its next step matches a copy's that never
  // saw the file.
  auto copy = Parameters();
  Optimizer copy_optimizer(copy, Options(), /*total_steps=*/10);
  for (auto& p : copy) p.mutable_grad() = torch::ones_like(p);
  copy_optimizer.Step();
  for (auto* set : {&parameters, &copy}) {
    for (auto& p : *set) p.mutable_grad() = torch::full_like(p, 0.5);
  }
  optimizer.Step();
  copy_optimizer.Step();
  for (size_t i = 0; i < copy.size(); ++i) EXPECT_TRUE(torch::equal(parameters[i], copy[i]));
}

}  // namespace
}  // namespace aha
