#include "trainer/optimizer.h"

#include <cmath>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace aha {

absl::Status ReadOptimizerOptions(YamlMap& section, OptimizerOptions& options) {
  RETURN_IF_ERROR(section.Read("lr", options.lr));
  RETURN_IF_ERROR(section.Read("weight_decay", options.weight_decay));
  if (section.Has("betas")) {
    YAML::Node betas = section.Raw("betas");
    if (!betas.IsSequence() || betas.size() != 2) {
      return section.Error("betas", "must be a list of two numbers, such as [0.9, 0.99]");
    }
    try {
      options.beta1 = betas[0].as<double>();
      options.beta2 = betas[1].as<double>();
    } catch (const YAML::Exception&) {
      return section.Error("betas", "must be a list of two numbers, such as [0.9, 0.99]");
    }
  }
  RETURN_IF_ERROR(section.Read("adam_eps", options.adam_eps));
  RETURN_IF_ERROR(section.Read("warmup_steps", options.warmup_steps));
  RETURN_IF_ERROR(section.Read("schedule", options.schedule));
  RETURN_IF_ERROR(section.Read("min_lr_ratio", options.min_lr_ratio));
  RETURN_IF_ERROR(section.Read("max_grad_norm", options.max_grad_norm));
  if (auto problem = FindOptimizerOptionsProblem(options)) {
    return section.Error(problem->first, problem->second);
  }
  return absl::OkStatus();
}

std::optional<std::pair<std::string, std::string>> FindOptimizerOptionsProblem(
    const OptimizerOptions& options) {
  using Problem = std::pair<std::string, std::string>;
  // Written as !(x > 0) and so on, so that NaN fails too.
  if (!(options.lr > 0)) return Problem("lr", "must be positive");
  if (options.schedule != "constant" && options.schedule != "cosine") {
    return Problem("schedule", "must be constant or cosine");
  }
  if (options.warmup_steps < 0) return Problem("warmup_steps", "must be >= 0");
  if (!(options.min_lr_ratio >= 0 && options.min_lr_ratio <= 1)) {
    return Problem("min_lr_ratio", "must be in [0, 1]");
  }
  if (!(options.weight_decay >= 0)) return Problem("weight_decay", "must be >= 0");
  // With adam_eps 0, a zero gradient gives 0 / 0 in the update and NaN weights.
  if (!(options.adam_eps > 0)) return Problem("adam_eps", "must be positive");
  if (!(options.max_grad_norm >= 0)) return Problem("max_grad_norm", "must be >= 0");
  if (!(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1)) {
    return Problem("betas", "must each be in [0, 1)");
  }
  return std::nullopt;
}

Optimizer::Optimizer(std::vector<torch::Tensor> parameters, const OptimizerOptions& options,
                     int64_t total_steps)
    : parameters_(std::move(parameters)), options_(options), total_steps_(total_steps) {
  AdamWOptions adam_options;
  adam_options.beta1 = options.beta1;
  adam_options.beta2 = options.beta2;
  adam_options.eps = options.adam_eps;
  adam_options.weight_decay = options.weight_decay;
  adam_ = std::make_unique<FusedAdamW>(parameters_, adam_options);
  current_lr_ = LearningRate(0);
}

Optimizer::~Optimizer() = default;

double Optimizer::LearningRate(int64_t step) const {
  if (options_.warmup_steps > 0 && step < options_.warmup_steps) {
    return options_.lr * static_cast<double>(step + 1) / options_.warmup_steps;
  }
  if (options_.schedule == "constant") return options_.lr;
  const int64_t decay_steps = std::max<int64_t>(1, total_steps_ - options_.warmup_steps);
  const double progress =
      std::min(1.0, static_cast<double>(step - options_.warmup_steps) / decay_steps);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return options_.lr * (options_.min_lr_ratio + (1.0 - options_.min_lr_ratio) * cosine);
}

double Optimizer::Step(bool advance_schedule) {
  const double norm = adam_->GradNorm();
  current_lr_ = LearningRate(steps_taken_);
  if (std::isfinite(norm)) {
    // torch::nn::utils::clip_grad_norm_'s factor, applied inside the update instead of as a
    // pass of its own over the gradients.
    double grad_scale = 1.0;
    if (options_.max_grad_norm > 0) {
      grad_scale = std::min(1.0, options_.max_grad_norm / (norm + 1e-6));
    }
    adam_->Step(current_lr_, grad_scale);
  } else {
    adam_->ZeroGrad();
  }
  if (advance_schedule) ++steps_taken_;
  return norm;
}

void Optimizer::Save(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  adam_->Save(archive);
  archive.write("steps_taken", torch::tensor(steps_taken_));
  archive.save_to(path);
}

absl::Status Optimizer::Load(const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    // Everything that can fail comes before FusedAdamW::Load, which changes its state only
    // when it succeeds, so a failed load leaves this optimizer as it was.
    torch::Tensor steps;
    archive.read("steps_taken", steps);
    const int64_t steps_taken = steps.item<int64_t>();
    absl::Status loaded = adam_->Load(archive);
    if (!loaded.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", loaded.message()));
    steps_taken_ = steps_taken;
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read the optimizer state: ",
                                                   e.what_without_backtrace()));
  }
  current_lr_ = LearningRate(steps_taken_);
  return absl::OkStatus();
}

}  // namespace aha
