#include "trainer/lm_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "policy/autocast.h"
#include "policy/grad_in_place.h"
#include "policy/token_scoring.h"

namespace aha {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The examples of one epoch, shuffled by a generator seeded with (seed, epoch) and packed.
std::vector<PackedRow> PackEpoch(const std::vector<LmExample>& examples,
                                 const LmTrainOptions& options, int64_t epoch) {
  std::vector<int64_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  std::seed_seq seed{static_cast<uint32_t>(options.seed), static_cast<uint32_t>(options.seed >> 32),
                     static_cast<uint32_t>(epoch)};
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  return PackExamples(examples, order, options.pack_length);
}

}  // namespace

absl::Status ValidateLmTrainOptions(const LmTrainOptions& options) {
  auto invalid = [](const std::string& key, const std::string& message) {
    return absl::InvalidArgumentError(absl::StrCat(key, " ", message));
  };
  if (options.steps < 0) return invalid("steps", "must be >= 0");
  if (options.steps == 0 && !(options.epochs > 0)) {
    return invalid("epochs", "must be positive when steps is 0");
  }
  if (options.batch_rows < 1) return invalid("batch_rows", "must be at least 1");
  if (options.micro_batch_rows < 1) return invalid("micro_batch_rows", "must be at least 1");
  if (options.pack_length < 2) return invalid("pack_length", "must be at least 2");
  if (auto problem = FindOptimizerOptionsProblem(options.optimizer)) {
    return invalid(problem->first, problem->second);
  }
  if (options.log_every < 1) return invalid("log_every", "must be at least 1");
  return absl::OkStatus();
}

OptimizerOptions DefaultLmOptimizerOptions() {
  OptimizerOptions options;
  options.lr = 1e-3;
  options.weight_decay = 0.1;
  options.beta1 = 0.9;
  options.beta2 = 0.95;
  options.schedule = "cosine";
  options.min_lr_ratio = 0.1;
  options.max_grad_norm = 1.0;
  return options;
}

torch::Tensor LmNllSum(CausalLm& model, const LmBatch& batch) {
  ScoreRequest request;
  request.ids = batch.ids;
  request.valid = batch.valid;
  request.first_target = 1;
  request.positions = batch.positions;
  request.segment_ids = batch.segment_ids;
  const TokenScores scores = ScoreTokens(model, request);  // (N, T - 1)
  return -scores.logprobs.masked_select(batch.target_mask).sum();
}

absl::StatusOr<LmGradientStats> AccumulateLmGradients(CausalLm& model,
                                                      const std::vector<LmExample>& examples,
                                                      const std::vector<PackedRow>& rows,
                                                      int64_t micro_batch_rows,
                                                      int64_t pack_length,
                                                      bool bf16_autocast) {
  LmGradientStats stats;
  stats.target_tokens = CountTargets(examples, rows);
  if (stats.target_tokens == 0) {
    return absl::InvalidArgumentError(
        "the batch has no target tokens: every loss mask is empty. The responses are empty or "
        "were cut off by train.pack_length or the model's context (max_position_embeddings); "
        "check the data, pack_length and append_eos");
  }
  const double normalizer = static_cast<double>(stats.target_tokens);
  double nll_total = 0;
  for (size_t start = 0; start < rows.size(); start += micro_batch_rows) {
    const size_t end = std::min(rows.size(), start + static_cast<size_t>(micro_batch_rows));
    const std::vector<PackedRow> micro(rows.begin() + start, rows.begin() + end);
    const LmBatch batch = MakeLmBatch(examples, micro, pack_length);
    stats.real_tokens += batch.real_tokens;
    if (batch.target_tokens == 0) continue;

    torch::Tensor nll_sum;
    {
      Bf16AutocastScope autocast(bf16_autocast);
      nll_sum = LmNllSum(model, batch);
    }
    const double value = nll_sum.item<double>();
    if (!std::isfinite(value)) {
      return absl::InternalError(absl::StrCat(
          "the loss is ", value, " on rows ", start, "-", end - 1,
          " of the batch; stopped before its backward pass. Lower lr or check the data"));
    }
    nll_total += value;
    {
      AccumulateGradsInPlace in_place;
      (nll_sum / normalizer).backward();
    }
  }
  stats.loss = nll_total / normalizer;
  return stats;
}

absl::StatusOr<LmTrainResult> TrainLm(CausalLm& model, std::vector<LmExample> examples,
                                      const LmTrainOptions& options, Progress* progress,
                                      std::FILE* log) {
  RETURN_IF_ERROR(ValidateLmTrainOptions(options));
  if (examples.empty()) return absl::InvalidArgumentError("no training examples");
  SilentProgress silent;
  if (progress == nullptr) progress = &silent;

  LmTrainResult result;
  // An example longer than the model's context would train positions it never had, so it is
  // cut to the context as well as to pack_length.
  const int64_t context = model->config().max_position_embeddings;
  const int64_t max_length =
      context > 0 ? std::min(options.pack_length, context) : options.pack_length;
  result.truncated_examples = TruncateExamples(examples, max_length);
  std::vector<PackedRow> epoch_rows = PackEpoch(examples, options, 0);
  const int64_t rows_per_epoch = static_cast<int64_t>(epoch_rows.size());
  const int64_t total_steps =
      options.steps > 0
          ? options.steps
          : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                     options.epochs * rows_per_epoch / options.batch_rows)));
  result.epochs_started = 1;

  model->train();
  Optimizer optimizer(model->parameters(), options.optimizer, total_steps);
  const auto start_time = std::chrono::steady_clock::now();
  int64_t cursor = 0;
  int64_t window_tokens = 0;
  double window_start = 0;
  progress->Begin("train", total_steps);
  for (int64_t step = 0; step < total_steps; ++step) {
    // ---- batch: the next batch_rows rows, starting a new shuffled epoch when they run out.
    std::vector<PackedRow> rows;
    while (static_cast<int64_t>(rows.size()) < options.batch_rows) {
      if (cursor == static_cast<int64_t>(epoch_rows.size())) {
        epoch_rows = PackEpoch(examples, options, result.epochs_started++);
        cursor = 0;
      }
      rows.push_back(epoch_rows[cursor++]);
    }

    // ---- forward and backward over the micro batches.
    absl::StatusOr<LmGradientStats> stats = AccumulateLmGradients(
        model, examples, rows, options.micro_batch_rows, options.pack_length,
        options.bf16_autocast);
    if (!stats.ok()) {
      progress->End();
      return absl::Status(stats.status().code(),
                          absl::StrCat("step ", step + 1, ": ", stats.status().message(),
                                       ". Training stopped"));
    }

    // ---- update. Optimizer::Step skips the update when the norm is not finite.
    const double grad_norm = optimizer.Step();
    const double lr = optimizer.current_lr();  // the rate this step used
    if (!std::isfinite(grad_norm)) {
      progress->End();
      return absl::InternalError(absl::StrCat(
          "step ", step + 1, ": the gradient norm is ", grad_norm,
          "; training stopped without applying this step. Lower lr or check the data"));
    }
    result.losses.push_back(stats->loss);
    result.real_tokens += stats->real_tokens;
    window_tokens += stats->real_tokens;
    result.steps = step + 1;

    // ---- log.
    progress->Update(step + 1);
    if (log != nullptr && ((step + 1) % options.log_every == 0 || step + 1 == total_steps)) {
      const double elapsed = SecondsSince(start_time);
      const double tokens_per_second =
          elapsed > window_start ? window_tokens / (elapsed - window_start) : 0.0;
      std::fprintf(log,
                   "step %lld/%lld | loss %.4f | lr %.2e | grad_norm %.3f | tokens/s %.0f | "
                   "%.1fs\n",
                   static_cast<long long>(step + 1), static_cast<long long>(total_steps),
                   stats->loss, lr, grad_norm, tokens_per_second, elapsed);
      std::fflush(log);
      window_tokens = 0;
      window_start = elapsed;
    }
  }
  progress->End();
  model->eval();
  result.seconds = SecondsSince(start_time);
  return result;
}

}  // namespace aha
