#include "trainer/optimizer.h"

#include <cmath>

#include <torch/torch.h>

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
  if (options.lr <= 0) return section.Error("lr", "must be positive");
  if (options.schedule != "constant" && options.schedule != "cosine") {
    return section.Error("schedule", "must be constant or cosine");
  }
  if (options.warmup_steps < 0) return section.Error("warmup_steps", "must be >= 0");
  if (options.max_grad_norm < 0) return section.Error("max_grad_norm", "must be >= 0");
  if (options.beta1 < 0 || options.beta1 >= 1 || options.beta2 < 0 || options.beta2 >= 1) {
    return section.Error("betas", "must each be in [0, 1)");
  }
  return absl::OkStatus();
}

Optimizer::Optimizer(std::vector<torch::Tensor> parameters, const OptimizerOptions& options,
                     int64_t total_steps)
    : parameters_(std::move(parameters)), options_(options), total_steps_(total_steps) {
  torch::optim::AdamWOptions adam_options(options.lr);
  adam_options.betas({options.beta1, options.beta2});
  adam_options.eps(options.adam_eps);
  adam_options.weight_decay(options.weight_decay);
  adam_ = std::make_unique<torch::optim::AdamW>(parameters_, adam_options);
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
  double norm;
  if (options_.max_grad_norm > 0) {
    norm = torch::nn::utils::clip_grad_norm_(parameters_, options_.max_grad_norm);
  } else {
    double sum = 0;
    for (const auto& p : parameters_) {
      if (p.grad().defined()) sum += p.grad().pow(2).sum().item<double>();
    }
    norm = std::sqrt(sum);
  }
  current_lr_ = LearningRate(steps_taken_);
  if (std::isfinite(norm)) {
    for (auto& group : adam_->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(current_lr_);
    }
    adam_->step();
  }
  adam_->zero_grad();
  if (advance_schedule) ++steps_taken_;
  return norm;
}

void Optimizer::Save(const std::string& path) const {
  torch::serialize::OutputArchive archive;
  adam_->save(archive);
  archive.write("steps_taken", torch::tensor(steps_taken_));
  archive.save_to(path);
}

void Optimizer::Load(const std::string& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  adam_->load(archive);
  torch::Tensor steps;
  archive.read("steps_taken", steps);
  steps_taken_ = steps.item<int64_t>();
  current_lr_ = LearningRate(steps_taken_);
}

}  // namespace aha
