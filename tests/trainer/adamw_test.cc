// Tests FusedAdamW against LibTorch's torch::optim::AdamW: the update over several steps, the
// clip factor, parameters without gradients, the gradient norm, bfloat16, the tensor path, and
// saving and loading both its own state and LibTorch's.
#include "trainer/adamw.h"

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

constexpr double kLr = 1e-2;

// Parameters of a few shapes: a matrix larger than one 64K chunk, so the fused loop runs as
// several tasks, a vector, and a scalar-sized tensor. The values are the same for every call.
std::vector<torch::Tensor> MakeParameters(torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(1);
  std::vector<torch::Tensor> parameters = {torch::randn({300, 257}), torch::randn({129}),
                                           torch::randn({1})};
  for (auto& p : parameters) p = p.to(dtype).set_requires_grad(true);
  return parameters;
}

// Gives each parameter the gradient of step `step`, the same for every call.
void SetGradients(std::vector<torch::Tensor>& parameters, int step) {
  torch::manual_seed(100 + step);
  for (auto& p : parameters) {
    p.mutable_grad() = (torch::randn(p.sizes()) * 0.1).to(p.scalar_type());
  }
}

// Runs steps [first, last): gives every parameter set in `sets` the step's gradients, then
// calls `update` with the step.
void RunSteps(int first, int last, std::initializer_list<std::vector<torch::Tensor>*> sets,
              const std::function<void(int)>& update) {
  for (int step = first; step < last; ++step) {
    for (auto* set : sets) SetGradients(*set, step);
    update(step);
  }
}

// Writes what `fill` puts in an archive to TempDir()/name.
void WriteArchive(const std::string& name,
                  const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  torch::serialize::OutputArchive archive;
  fill(archive);
  archive.save_to(testing::TempDir() + "/" + name);
}

// Loads TempDir()/name into `adam`.
absl::Status LoadArchive(FusedAdamW& adam, const std::string& name) {
  torch::serialize::InputArchive archive;
  archive.load_from(testing::TempDir() + "/" + name);
  return adam.Load(archive);
}

AdamWOptions Options() {
  AdamWOptions options;
  options.beta1 = 0.9;
  options.beta2 = 0.99;
  options.eps = 1e-8;
  options.weight_decay = 0.1;
  return options;
}

torch::optim::AdamWOptions TorchOptions() {
  torch::optim::AdamWOptions options(kLr);
  options.betas({0.9, 0.99});
  options.eps(1e-8);
  options.weight_decay(0.1);
  return options;
}

double MaxRelativeDiff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = a[i].detach().to(torch::kDouble), y = b[i].detach().to(torch::kDouble);
    worst = std::max(worst, ((x - y).abs() / (y.abs() + 1e-3)).max().item<double>());
  }
  return worst;
}

TEST(FusedAdamWTest, MatchesTorchAdamWOverSeveralSteps) {
  auto ours = MakeParameters(), theirs = MakeParameters();
  FusedAdamW adam(ours, Options());
  torch::optim::AdamW reference(theirs, TorchOptions());
  RunSteps(0, 5, {&ours, &theirs}, [&](int) {
    adam.Step(kLr, 1.0);
    reference.step();
  });
  EXPECT_LT(MaxRelativeDiff(ours, theirs), 1e-5);
  // The update moved the weights well beyond that tolerance.
  EXPECT_GT(MaxRelativeDiff(ours, MakeParameters()), 1e-3);
}

TEST(FusedAdamWTest, ZeroesTheGradients) {
  auto parameters = MakeParameters();
  FusedAdamW adam(parameters, Options());
  SetGradients(parameters, 0);
  adam.Step(kLr, 1.0);
  for (const auto& p : parameters) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().abs().max().item<float>(), 0.0f);
  }
}

TEST(FusedAdamWTest, GradScaleMatchesClipGradNorm) {
  auto ours = MakeParameters(), theirs = MakeParameters();
  FusedAdamW adam(ours, Options());
  torch::optim::AdamW reference(theirs, TorchOptions());
  RunSteps(0, 3, {&ours, &theirs}, [&](int) {
    const double norm = adam.GradNorm();
    const double torch_norm = torch::nn::utils::clip_grad_norm_(theirs, 0.5);
    EXPECT_NEAR(norm, torch_norm, 1e-5 * torch_norm);
    ASSERT_GT(norm, 0.5);  // so the clip applies
    adam.Step(kLr, 0.5 / (norm + 1e-6));
    reference.step();
  });
  EXPECT_LT(MaxRelativeDiff(ours, theirs), 1e-5);
}

TEST(FusedAdamWTest, GradNormDoesNotDependOnThreads) {
  auto parameters = MakeParameters();
  SetGradients(parameters, 0);
  FusedAdamW adam(parameters, Options());
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const double one_thread = adam.GradNorm();
  torch::set_num_threads(2);
  const double two_threads = adam.GradNorm();
  torch::set_num_threads(threads);
  EXPECT_EQ(one_thread, two_threads);
  double expected = 0;
  for (const auto& p : parameters) expected += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
  EXPECT_NEAR(one_thread, std::sqrt(expected), 1e-12 * std::sqrt(expected));
}

// A strided gradient is summed as a tensor, not by the chunked loop, and counts the same.
TEST(FusedAdamWTest, GradNormCountsStridedGradients) {
  auto parameters = MakeParameters();
  SetGradients(parameters, 0);
  double expected = 0;
  for (const auto& p : parameters) expected += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
  parameters[0].mutable_grad() = parameters[0].grad().t().contiguous().t();  // same values
  ASSERT_FALSE(parameters[0].grad().is_contiguous());
  FusedAdamW adam(parameters, Options());
  EXPECT_NEAR(adam.GradNorm(), std::sqrt(expected), 1e-12 * std::sqrt(expected));
}

TEST(FusedAdamWTest, SkipsParametersWithoutGradient) {
  auto ours = MakeParameters(), theirs = MakeParameters();
  FusedAdamW adam(ours, Options());
  torch::optim::AdamW reference(theirs, TorchOptions());
  RunSteps(0, 3, {&ours, &theirs}, [&](int step) {
    if (step == 1) {  // parameter 1 has no gradient in step 1: no update, no step count
      ours[1].mutable_grad() = torch::Tensor();
      theirs[1].mutable_grad() = torch::Tensor();
    }
    adam.Step(kLr, 1.0);
    reference.step();
  });
  EXPECT_LT(MaxRelativeDiff(ours, theirs), 1e-5);
}

TEST(FusedAdamWTest, TensorPathMatchesFusedLoop) {
  auto fused = MakeParameters(), tensor = MakeParameters();
  FusedAdamW a(fused, Options()), b(tensor, Options());
  b.set_use_fused_loop(false);
  RunSteps(0, 4, {&fused, &tensor}, [&](int) {
    a.Step(kLr, 0.7);
    b.Step(kLr, 0.7);
  });
  EXPECT_LT(MaxRelativeDiff(fused, tensor), 1e-5);
  for (const auto& p : tensor) EXPECT_EQ(p.grad().abs().max().item<float>(), 0.0f);
}

double MaxAbsDiff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = a[i].detach().to(torch::kDouble), y = b[i].detach().to(torch::kDouble);
    worst = std::max(worst, (x - y).abs().max().item<double>());
  }
  return worst;
}

// bfloat16 parameters stay bfloat16, and the fused loop, which rounds once per step, stays at
// least as close to the float32 run as LibTorch's AdamW, which rounds after every operation.
TEST(FusedAdamWTest, BFloat16AsCloseAsTorch) {
  auto fused = MakeParameters(torch::kBFloat16), torch_bf16 = MakeParameters(torch::kBFloat16);
  auto fp32 = MakeParameters();
  FusedAdamW a(fused, Options()), b(fp32, Options());
  torch::optim::AdamW reference(torch_bf16, TorchOptions());
  RunSteps(0, 5, {&fused, &torch_bf16, &fp32}, [&](int) {
    a.Step(kLr, 1.0);
    b.Step(kLr, 1.0);
    reference.step();
  });
  for (const auto& p : fused) EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
  const double fused_error = MaxAbsDiff(fused, fp32);
  const double torch_error = MaxAbsDiff(torch_bf16, fp32);
  EXPECT_LE(fused_error, torch_error) << "LibTorch's error " << torch_error;
  // bfloat16 keeps 8 bits of mantissa: weights near 4 are stored in steps of 1/32, and the
  // runs drift apart over 5 steps by a few of them.
  EXPECT_LT(fused_error, 0.1);
}

TEST(FusedAdamWTest, SaveAndLoadContinueExactly) {
  auto straight = MakeParameters(), resumed = MakeParameters();
  FusedAdamW a(straight, Options());
  {
    FusedAdamW before(resumed, Options());
    RunSteps(0, 2, {&straight, &resumed}, [&](int) {
      a.Step(kLr, 1.0);
      before.Step(kLr, 1.0);
    });
    WriteArchive("adamw_state.pt", [&](auto& archive) { before.Save(archive); });
  }
  FusedAdamW b(resumed, Options());
  ASSERT_TRUE(LoadArchive(b, "adamw_state.pt").ok());
  RunSteps(2, 4, {&straight, &resumed}, [&](int) {
    a.Step(kLr, 1.0);
    b.Step(kLr, 1.0);
  });
  for (size_t i = 0; i < straight.size(); ++i) EXPECT_TRUE(torch::equal(straight[i], resumed[i]));
}

TEST(FusedAdamWTest, LoadsTorchAdamWState) {
  auto ours = MakeParameters(), theirs = MakeParameters();
  torch::optim::AdamW reference(theirs, TorchOptions());
  {
    // Two steps in LibTorch's AdamW, saved as optimizer.pt was before FusedAdamW.
    torch::optim::AdamW earlier(ours, TorchOptions());
    RunSteps(0, 2, {&ours, &theirs}, [&](int) {
      earlier.step();
      reference.step();
    });
    WriteArchive("torch_adamw_state.pt", [&](auto& archive) { earlier.save(archive); });
  }
  FusedAdamW adam(ours, Options());
  const absl::Status loaded = LoadArchive(adam, "torch_adamw_state.pt");
  ASSERT_TRUE(loaded.ok()) << loaded;
  RunSteps(2, 4, {&ours, &theirs}, [&](int) {
    adam.Step(kLr, 1.0);
    reference.step();
  });
  // Loading the moments, not restarting them, is what keeps the runs together: a fresh
  // optimizer's bias correction would make step 3 about 3x larger.
  EXPECT_LT(MaxRelativeDiff(ours, theirs), 1e-5);
}

TEST(FusedAdamWTest, LoadRejectsOtherModelsState) {
  auto parameters = MakeParameters();
  FusedAdamW adam(parameters, Options());
  SetGradients(parameters, 0);
  adam.Step(kLr, 1.0);
  WriteArchive("own_state.pt", [&](auto& archive) { adam.Save(archive); });

  // A model whose first matrix has another shape, and one with fewer parameters.
  std::vector<torch::Tensor> other = {torch::zeros({3, 3}, torch::requires_grad()),
                                      torch::zeros({129}, torch::requires_grad()),
                                      torch::zeros({1}, torch::requires_grad())};
  FusedAdamW other_adam(other, Options());
  for (auto& p : other) p.mutable_grad() = torch::ones_like(p);
  other_adam.Step(kLr, 1.0);
  WriteArchive("other_state.pt", [&](auto& archive) { other_adam.Save(archive); });

  const absl::Status shape_status = LoadArchive(adam, "other_state.pt");
  EXPECT_EQ(shape_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(shape_status.message().find("parameter 0 have shape [3, 3]"), std::string::npos)
      << shape_status;
  EXPECT_NE(shape_status.message().find("[300, 257]"), std::string::npos) << shape_status;

  std::vector<torch::Tensor> fewer = {parameters[0].detach().clone().set_requires_grad(true)};
  FusedAdamW fewer_adam(fewer, Options());
  const absl::Status count_status = LoadArchive(fewer_adam, "own_state.pt");
  EXPECT_NE(count_status.message().find("3 parameters but the model has 1"), std::string::npos)
      << count_status;

  // The failed load left the first optimizer's state: it continues as a copy that never saw
  // the bad archive does.
  auto copy = MakeParameters();
  FusedAdamW copy_adam(copy, Options());
  SetGradients(copy, 0);
  copy_adam.Step(kLr, 1.0);
  SetGradients(parameters, 1);
  SetGradients(copy, 1);
  adam.Step(kLr, 1.0);
  copy_adam.Step(kLr, 1.0);
  for (size_t i = 0; i < copy.size(); ++i) EXPECT_TRUE(torch::equal(parameters[i], copy[i]));
}

}  // namespace
}  // namespace aha
