#include "trainer/grpo_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "policy/cpu_threads.h"
#include "policy/grad_in_place.h"
#include "policy/file_io.h"
#include "policy/token_scoring.h"
#include "trainer/advantages.h"
#include "trainer/checkpoint_folder.h"
#include "trainer/data_parallel.h"
#include "trainer/policy_loss.h"
#include "trainer/rollout.h"
#include "trainer/training_order.h"

namespace aha {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The tensors of one rollout that the update reads.
struct TrainingBatch {
  torch::Tensor ids;              // (N, P + C)
  torch::Tensor valid;            // (N, P + C)
  torch::Tensor completion_mask;  // (N, C)
  torch::Tensor truncated;        // (N) bool
  torch::Tensor advantages;       // (N)
  torch::Tensor sampled_logprobs; // (N, C) the sampler's, for the sampler/scorer check
  torch::Tensor group;            // (N) int64: the prompt's group, rows of a group share it
  int64_t prompt_length = 0;      // P
};

TrainingBatch MakeTrainingBatch(const Rollouts& r, const torch::Tensor& advantages,
                                int64_t group_size) {
  TrainingBatch t;
  t.advantages = advantages;
  t.sampled_logprobs = r.sampled_logprobs;
  t.ids = torch::cat({r.prompt_ids, r.completion_ids}, 1);
  t.valid = torch::cat({r.prompt_mask, r.completion_mask}, 1);
  t.completion_mask = r.completion_mask;
  t.prompt_length = r.prompt_ids.size(1);
  // The rollout stores each group's G samples in consecutive rows.
  t.group = torch::arange(t.ids.size(0), t.ids.options().dtype(torch::kInt64))
                .div(group_size, "floor");
  std::vector<uint8_t> truncated;
  for (FinishReason reason : r.finish_reasons) truncated.push_back(reason == FinishReason::kLength);
  t.truncated = torch::tensor(truncated, torch::kUInt8).to(torch::kBool).to(t.ids.device());
  return t;
}

// Returns the batch with its rows in `order` (N), a permutation of [0, N).
TrainingBatch ReorderRows(const TrainingBatch& batch, const torch::Tensor& order) {
  TrainingBatch t;
  t.ids = batch.ids.index_select(0, order);
  t.valid = batch.valid.index_select(0, order);
  t.completion_mask = batch.completion_mask.index_select(0, order);
  t.truncated = batch.truncated.index_select(0, order);
  t.advantages = batch.advantages.index_select(0, order);
  t.sampled_logprobs = batch.sampled_logprobs.index_select(0, order);
  t.group = batch.group.index_select(0, order);
  t.prompt_length = batch.prompt_length;
  return t;
}

// Each row's lengths and group, on the host, for TrainingOrder.
std::vector<RowShape> RowShapes(const TrainingBatch& batch) {
  const torch::Tensor prompts =
      batch.valid.narrow(1, 0, batch.prompt_length).sum(1).to(torch::kCPU).contiguous();
  const torch::Tensor completions = batch.completion_mask.sum(1).to(torch::kCPU).contiguous();
  const torch::Tensor groups = batch.group.to(torch::kCPU).contiguous();
  const int64_t* prompt = prompts.data_ptr<int64_t>();
  const int64_t* completion = completions.data_ptr<int64_t>();
  const int64_t* group = groups.data_ptr<int64_t>();
  std::vector<RowShape> rows(prompts.size(0));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = {prompt[i], completion[i], group[i]};
  return rows;
}

// Options for scoring the update's rows.
struct ScoringOptions {
  double temperature = 1.0;
  bool share_prompts = true;  // run each group's prompt once (ScoreCompletions)
};

// Scores rows [start, start + rows) of the batch: log-probs and entropies (rows, C). Only the
// columns up to the rows' longest completion are run through the model; the rest is padding
// and scores 0.
TokenScores ScoreRows(CausalLm& model, const TrainingBatch& batch, int64_t start, int64_t rows,
                      const ScoringOptions& options) {
  const int64_t completion = batch.completion_mask.size(1);
  const int64_t longest =
      batch.completion_mask.narrow(0, start, rows).sum(1).max().item<int64_t>();
  const int64_t used = std::max<int64_t>(1, longest);
  const int64_t p = batch.prompt_length;
  auto ids = batch.ids.narrow(0, start, rows);
  auto valid = batch.valid.narrow(0, start, rows);
  TokenScores scores;
  if (options.share_prompts) {
    // Number the micro-batch's distinct groups in order of first appearance; each one's
    // prompt is taken from its first row.
    auto groups = batch.group.narrow(0, start, rows).cpu();
    const int64_t* group = groups.data_ptr<int64_t>();
    std::vector<int64_t> prompt_of_row(rows), first_rows;
    std::unordered_map<int64_t, int64_t> prompt_of_group;
    for (int64_t row = 0; row < rows; ++row) {
      auto [it, added] = prompt_of_group.emplace(group[row], first_rows.size());
      if (added) first_rows.push_back(row);
      prompt_of_row[row] = it->second;
    }
    auto device = ids.device();
    auto first = torch::tensor(first_rows, torch::kInt64).to(device);
    CompletionScoreRequest request;
    request.prompt_ids = ids.narrow(1, 0, p).index_select(0, first);
    request.prompt_valid = valid.narrow(1, 0, p).index_select(0, first);
    request.prompt_of_row = torch::tensor(prompt_of_row, torch::kInt64).to(device);
    TORCH_CHECK(request.prompt_ids.index_select(0, request.prompt_of_row)
                    .equal(ids.narrow(1, 0, p)),
                "rows of one group must hold the same prompt");
    request.completion_ids = ids.narrow(1, p, used);
    request.completion_valid = valid.narrow(1, p, used);
    request.temperature = options.temperature;
    scores = ScoreCompletions(model, request);
  } else {
    // Prompt columns that are padding in every row change nothing, so they are cut.
    const int64_t max_prompt = valid.narrow(1, 0, p).sum(1).max().item<int64_t>();
    const int64_t first_column = p - std::max<int64_t>(1, max_prompt);
    ScoreRequest request;
    request.ids = ids.narrow(1, first_column, p - first_column + used);
    request.valid = valid.narrow(1, first_column, p - first_column + used);
    request.first_target = p - first_column;
    request.temperature = options.temperature;
    scores = ScoreTokens(model, request);
  }
  if (used < completion) {
    scores.logprobs = torch::constant_pad_nd(scores.logprobs, {0, completion - used});
    scores.entropy = torch::constant_pad_nd(scores.entropy, {0, completion - used});
  }
  return scores;
}

// Log-probs (N, C) of the whole batch under `model`, without gradients.
torch::Tensor ScoreAllNoGrad(CausalLm& model, const TrainingBatch& batch, int64_t micro_rows,
                             const ScoringOptions& options) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  const int64_t n = batch.ids.size(0);
  for (int64_t start = 0; start < n; start += micro_rows) {
    const int64_t rows = std::min(micro_rows, n - start);
    parts.push_back(ScoreRows(model, batch, start, rows, options).logprobs);
  }
  return torch::cat(parts, 0);
}

absl::StatusOr<torch::Dtype> ParseDtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype ", name));
}

// Returns the training examples' count and a hash of their text, for ResumeFingerprint.
std::string DescribeTrainingExamples(const data::BatchIterator& iterator) {
  // FNV-1a over the examples in their original order, so a changed data file or data seed
  // changes it.
  uint64_t hash = 0xcbf29ce484222325ULL;
  const auto mix = [&hash](const std::string& text) {
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
    hash = (hash ^ 0xff) * 0x100000001b3ULL;  // a separator no UTF-8 text contains
  };
  for (const data::Example& example : iterator.examples()) {
    mix(example.question);
    mix(example.ground_truth);
  }
  return absl::StrCat(iterator.size(), " examples, hash ", absl::Hex(hash, absl::kZeroPad16));
}

}  // namespace

GrpoTrainer::GrpoTrainer(GrpoRunConfig config, Progress* progress,
                         std::shared_ptr<dist::Communicator> communicator)
    : config_(std::move(config)), progress_(progress), comm_(std::move(communicator)) {}

bool GrpoTrainer::IsMainRank() const { return !comm_ || comm_->is_main(); }

absl::StatusOr<GrpoRunInputs> BuildGrpoRunInputs(const GrpoRunConfig& config) {
  ASSIGN_OR_RETURN(RewardSet rewards, RewardSet::FromYaml(config.rewards, config.config_path));
  ASSIGN_OR_RETURN(data::PromptTemplate prompt_template,
                   data::PromptTemplate::Resolve(config.data.prompt_template));
  std::vector<data::Example> train, test;
  if (config.data.kind == "countdown") {
    ASSIGN_OR_RETURN(data::CountdownSplits splits, data::GenerateCountdown(config.data.countdown));
    train = std::move(splits.train);
    test = std::move(splits.test);
  } else {
    ASSIGN_OR_RETURN(train, data::LoadJsonlDataset(config.data.train_jsonl));
    if (config.data.test_jsonl) {
      ASSIGN_OR_RETURN(test, data::LoadJsonlDataset(*config.data.test_jsonl));
    }
  }
  if (static_cast<int64_t>(test.size()) > config.log.eval_prompts) {
    test.resize(config.log.eval_prompts);
  }
  data::BatchIteratorOptions iterator_options;
  iterator_options.batch_size = config.grpo.prompts_per_step;
  iterator_options.seed = config.data.shuffle_seed;
  iterator_options.drop_last = true;
  const int64_t train_size = static_cast<int64_t>(train.size());
  if (config.grpo.prompts_per_step > train_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        config.config_path, ": grpo.prompts_per_step is ", config.grpo.prompts_per_step,
        ", but the training set has ", train_size,
        " examples; lower prompts_per_step or use more data"));
  }
  ASSIGN_OR_RETURN(data::BatchIterator iterator,
                   data::BatchIterator::Create(std::move(train), iterator_options));
  ASSIGN_OR_RETURN(ReflectionCounter reflection,
                   ReflectionCounter::Create(config.log.reflection_sets));
  return GrpoRunInputs{std::move(rewards), std::move(prompt_template), std::move(iterator),
                       std::move(test), std::move(reflection)};
}

absl::StatusOr<std::unique_ptr<GrpoTrainer>> GrpoTrainer::Create(
    const GrpoRunConfig& config, bool resume, Progress* progress,
    std::shared_ptr<dist::Communicator> communicator) {
  std::unique_ptr<GrpoTrainer> trainer(
      new GrpoTrainer(config, progress, std::move(communicator)));
  RETURN_IF_ERROR(trainer->Setup(resume));
  return trainer;
}

void GrpoTrainer::LimitDrGrpoDivisorToContext() {
  // A completion ends where prompt and completion fill the model's context, so with
  // max_new_tokens at or past it, at most context - 1 tokens are ever generated. Dividing by
  // a larger budget only shrinks every gradient.
  const int64_t context = policy_.config.max_position_embeddings;
  PolicyLossOptions& loss = config_.grpo.loss;
  if (context <= 0 || config_.grpo.max_new_tokens < context) return;
  if (loss.aggregation == LossAggregation::kDrGrpo) {
    loss.max_completion_length = std::min(loss.max_completion_length, context - 1);
  }
  if (!IsMainRank()) return;
  std::string message = absl::StrCat(
      "aha: warning: grpo.max_new_tokens is ", config_.grpo.max_new_tokens,
      ", but the model's context holds ", context,
      " tokens with the prompt, so completions stop at the context");
  if (loss.aggregation == LossAggregation::kDrGrpo) {
    absl::StrAppend(&message, "; the dr_grpo loss divides by ", loss.max_completion_length,
                    " instead");
  }
  std::printf("%s\n", message.c_str());
}

absl::Status GrpoTrainer::Setup(bool resume) {
  if (comm_) {
    RETURN_IF_ERROR(CheckPromptsDivideAmongRanks(config_.grpo.prompts_per_step,
                                                 comm_->world_size(), config_.config_path));
    if (config_.grpo.dynamic_sampling) {
      // NOTE: each rank would keep its own groups and may run a different number of rounds,
      // so the ranks' batches and the collectives after them would not line up.
      return absl::InvalidArgumentError(absl::StrCat(
          config_.config_path, ": grpo.dynamic_sampling is not supported with more than one "
                               "rank yet; set it to false or run one process"));
    }
  }
  if (!resume && IsMainRank()) RETURN_IF_ERROR(CheckNoEarlierRun(config_.out_dir));
  // Built before any model is loaded, so a bad reward or data file fails in seconds.
  ASSIGN_OR_RETURN(GrpoRunInputs inputs, BuildGrpoRunInputs(config_));
  rewards_.emplace(std::move(inputs.rewards));
  template_.emplace(std::move(inputs.prompt_template));
  iterator_.emplace(std::move(inputs.iterator));
  training_examples_ = DescribeTrainingExamples(*iterator_);
  test_examples_ = std::move(inputs.test_examples);
  reflection_.emplace(std::move(inputs.reflection));

  ConfigureCpuThreads(config_.threads);
  torch::manual_seed(config_.seed);
  LoadOptions load;
  ASSIGN_OR_RETURN(load.dtype, ParseDtype(config_.dtype));
  if (config_.device == "cuda") {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(absl::StrCat(
          config_.config_path, ": run.device is cuda, but this LibTorch build sees no CUDA "
                               "device; set run.device: cpu"));
    }
    load.device = torch::kCUDA;
  }

  std::string checkpoint_dir;
  if (resume) {
    ASSIGN_OR_RETURN(checkpoint_dir, FindCheckpointToResume(config_.out_dir, IsMainRank()));
  }
  const bool resuming = !checkpoint_dir.empty();
  // Say which key named a folder that does not load; relative paths start from the working
  // folder, not from the config's.
  auto from_key = [&](const char* key, const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat(config_.config_path, ": ", key, " (relative paths start "
                                     "from the working folder): ", status.message()));
  };
  if (resuming) {
    ASSIGN_OR_RETURN(policy_, LoadPolicy(checkpoint_dir, load));
  } else {
    absl::StatusOr<Policy> policy = LoadPolicy(config_.policy_path, load);
    if (!policy.ok()) return from_key("policy.path", policy.status());
    policy_ = *std::move(policy);
  }
  LimitDrGrpoDivisorToContext();
  if (config_.grpo.loss.kl_beta > 0) {
    const char* key = config_.reference_path ? "policy.reference_path" : "policy.path";
    absl::StatusOr<CausalLm> loaded =
        LoadModel(config_.reference_path.value_or(config_.policy_path), load);
    if (!loaded.ok()) return from_key(key, loaded.status());
    CausalLm reference = *std::move(loaded);
    // The reference scores the policy's token ids, so it must share the vocabulary.
    if (reference->config().vocab_size != policy_.config.vocab_size) {
      return from_key(key, absl::InvalidArgumentError(absl::StrCat(
          "the reference model has vocab_size ", reference->config().vocab_size,
          " but the policy has ", policy_.config.vocab_size,
          "; the reference must use the policy's tokenizer")));
    }
    reference->eval();
    for (auto& p : reference->parameters()) p.set_requires_grad(false);
    reference_ = reference;
  }

  optimizer_ = std::make_unique<Optimizer>(policy_.model->parameters(), config_.optimizer,
                                           config_.grpo.steps);
  if (resuming) RETURN_IF_ERROR(LoadCheckpoint(checkpoint_dir));
  // Every rank loaded the same files; the broadcast makes the weights identical even so.
  if (comm_) RETURN_IF_ERROR(comm_->BroadcastFromMain(policy_.model->parameters()));
  if (!IsMainRank()) return absl::OkStatus();
  ASSIGN_OR_RETURN(RunLog log, RunLog::Open(config_.out_dir, resuming));
  log_.emplace(std::move(log));
  if (config_.log.tensorboard) {
    ASSIGN_OR_RETURN(TensorBoardWriter tensorboard,
                     TensorBoardWriter::Open((fs::path(config_.out_dir) / "tb").string()));
    tensorboard_.emplace(std::move(tensorboard));
  }
  return absl::OkStatus();
}

absl::StatusOr<StepMetrics> GrpoTrainer::TrainStep() {
  const GrpoOptions& g = config_.grpo;
  StepMetrics m;
  m.step = step_ + 1;

  // Rollout: B prompts x G completions, scored by the rewards; with dynamic sampling, the
  // groups of B or fewer prompts with unequal rewards out of several rollouts.
  ASSIGN_OR_RETURN(StepRollout rollout, SampleStep(m));
  AddRolloutMetrics(rollout.sampled, m);
  const RolloutBatch& batch = rollout.trained();
  const int64_t n = static_cast<int64_t>(batch.samples.size());
  if (n == 0) {
    std::printf("note: step %lld: all %lld sampled groups had equal rewards; the update is "
                "skipped\n", static_cast<long long>(m.step),
                static_cast<long long>(m.groups_sampled));
    m.lr = optimizer_->current_lr();
    ++step_;
    return m;
  }

  // Advantages within each prompt's group. Groups are told apart by position, since two
  // rounds of dynamic sampling may draw the same prompt.
  const auto device = policy_.model->LmHeadWeight().device();
  auto rewards = torch::tensor(batch.scores.total, torch::kFloat64).to(device);
  std::vector<int64_t> group_ids;
  for (int64_t row = 0; row < n; ++row) group_ids.push_back(row / g.group_size);
  ASSIGN_OR_RETURN(Advantages advantages,
                   comm_ ? ComputeDataParallelAdvantages(*comm_, rewards, g.group_size,
                                                         g.advantages)
                         : ComputeAdvantages(rewards, group_ids, g.advantages));

  // Update: mu passes over the batch, in micro-batches whose gradients accumulate.
  const auto train_start = Clock::now();
  // The update reads the rows longest first; the loss sums over rows, so the order changes
  // only the rounding.
  TrainingBatch tb = MakeTrainingBatch(batch.rollouts, advantages.values, g.group_size);
  const std::vector<int64_t> order =
      TrainingOrder(RowShapes(tb), g.micro_batch_rows, g.share_prompt_prefix);
  tb = ReorderRows(tb, torch::tensor(order, torch::kInt64).to(tb.ids.device()));
  const ScoringOptions scoring{g.sampling.temperature, g.share_prompt_prefix};
  policy_.model->train();
  torch::Tensor old_logprobs, ref_logprobs;
  if (g.updates_per_step > 1) {
    old_logprobs = ScoreAllNoGrad(policy_.model, tb, g.micro_batch_rows, scoring);
  }
  if (reference_) {
    ref_logprobs = ScoreAllNoGrad(*reference_, tb, g.micro_batch_rows, scoring);
  }
  ASSIGN_OR_RETURN(LossNormalizer normalizer,
                   comm_ ? ComputeDataParallelLossNormalizer(*comm_, tb.completion_mask,
                                                             tb.truncated, g.loss)
                         : ComputeLossNormalizer(tb.completion_mask, tb.truncated, g.loss));
  PolicyLossStats stats;
  double entropy_sum = 0, mask_tokens = 0;
  // Each of the mu passes ends with an optimizer step, so from the second pass on the policy
  // differs from the sampling one and the ratio is clipped against the fixed old log-probs.
  for (int64_t update = 0; update < g.updates_per_step; ++update) {
    for (int64_t start = 0; start < n; start += g.micro_batch_rows) {
      const int64_t rows = std::min(g.micro_batch_rows, n - start);
      TokenScores scores = ScoreRows(policy_.model, tb, start, rows, scoring);
      auto mask = tb.completion_mask.narrow(0, start, rows);
      PolicyLossInputs inputs;
      inputs.logprobs = scores.logprobs;
      // With one pass the sampling policy is the current one, so the ratio is exactly 1.
      inputs.old_logprobs = old_logprobs.defined() ? old_logprobs.narrow(0, start, rows)
                                                   : scores.logprobs.detach();
      inputs.advantages = tb.advantages.narrow(0, start, rows);
      inputs.mask = mask;
      inputs.truncated = tb.truncated.narrow(0, start, rows);
      if (ref_logprobs.defined()) inputs.ref_logprobs = ref_logprobs.narrow(0, start, rows);
      if (g.loss.entropy_coef > 0) inputs.entropy = scores.entropy;
      PolicyLossResult result = PolicyLoss(inputs, g.loss, normalizer);
      if (!std::isfinite(result.loss.item<double>())) {
        return absl::InternalError(absl::StrFormat(
            "step %d: the policy loss is not finite (%f) in rows %d..%d; the update is "
            "abandoned. Lower optimizer.lr or check the rewards",
            m.step, result.loss.item<double>(), start, start + rows - 1));
      }
      {
        AccumulateGradsInPlace in_place;
        result.loss.backward();
      }
      stats.Add(result.stats);
      if (update == 0) {
        torch::NoGradGuard no_grad;
        auto masked_entropy = scores.entropy.detach().masked_select(mask);
        entropy_sum += masked_entropy.sum().item<double>();
        mask_tokens += masked_entropy.numel();
        auto sampled = tb.sampled_logprobs.narrow(0, start, rows);
        auto diff = (scores.logprobs.detach() - sampled).abs().masked_select(mask);
        if (diff.numel() > 0) {
          m.sampler_scorer_max_diff = std::max(m.sampler_scorer_max_diff,
                                               diff.max().item<double>());
        }
      }
    }
    RETURN_IF_ERROR(ApplyUpdate(m, /*last_pass=*/update + 1 == g.updates_per_step));
  }
  m.seconds_train = SecondsSince(train_start);

  // Metrics of the update; those of the rollout are already in `m`.
  m.kl = stats.KlMean();
  m.clip_low = stats.ClipLowFraction();
  m.clip_high = stats.ClipHighFraction();
  m.ratio_mean = stats.RatioMean();
  m.entropy = mask_tokens > 0 ? entropy_sum / mask_tokens : 0.0;
  m.policy_loss = stats.policy_gradient_loss;
  if (comm_) {
    std::vector<std::string> reward_names;
    for (size_t r = 0; r < rewards_->size(); ++r) reward_names.push_back(rewards_->name(r));
    RETURN_IF_ERROR(ReduceStepMetrics(*comm_, reward_names, n, stats.tokens, mask_tokens, m));
  }

  ++step_;
  if (IsMainRank() && config_.log.samples_every > 0 &&
      step_ % config_.log.samples_every == 0) {
    WriteSamples(batch, advantages.values);
  }
  return m;
}

absl::Status GrpoTrainer::ApplyUpdate(StepMetrics& m, bool last_pass) {
  // The sum over ranks is the whole batch's gradient, because every rank's loss is divided by
  // the whole batch's normalizer. Clipping then computes the same global norm on every rank.
  if (comm_) RETURN_IF_ERROR(comm_->AllReduceGradients(policy_.model->parameters()));
  m.grad_norm = optimizer_->Step(/*advance_schedule=*/last_pass);
  m.lr = optimizer_->current_lr();
  if (!std::isfinite(m.grad_norm)) {
    ++skipped_updates_in_a_row_;
    std::fprintf(stderr, "warning: step %lld: the gradient norm is not finite; the update was "
                 "skipped (%lld in a row)\n", static_cast<long long>(m.step),
                 static_cast<long long>(skipped_updates_in_a_row_));
    if (skipped_updates_in_a_row_ >= 3) {
      return absl::InternalError(absl::StrFormat(
          "step %d: 3 updates in a row had a non-finite gradient norm; stopping. Lower "
          "optimizer.lr or set optimizer.max_grad_norm", m.step));
    }
  } else {
    skipped_updates_in_a_row_ = 0;
  }
  return absl::OkStatus();
}

absl::StatusOr<GrpoTrainer::StepRollout> GrpoTrainer::SampleStep(StepMetrics& m) {
  const GrpoOptions& g = config_.grpo;
  const int64_t rounds = g.dynamic_sampling ? g.max_sampling_rounds : 1;
  const int64_t b = g.prompts_per_step;
  GroupSamplerOptions sampler;
  sampler.group_size = g.group_size;
  sampler.max_new_tokens = g.max_new_tokens;
  sampler.sampling = g.sampling;
  sampler.stop_strings = g.stop_strings;
  sampler.seed = config_.seed;
  sampler = WithTokenizerSpecials(sampler, *policy_.tokenizer);
  policy_.model->eval();

  StepRollout rollout;
  std::vector<int64_t> kept;  // groups of rollout.sampled with unequal rewards
  m.sampling_rounds = 0;
  for (int64_t round = 0; round < rounds; ++round) {
    // Each (step, round) draws from its own random streams, so a resumed run samples the
    // same completions; without dynamic sampling the offset is step * N.
    sampler.stream_offset = static_cast<uint64_t>((step_ * rounds + round) * b * g.group_size);
    // The iterator gives B prompts per call and advances, so the checkpointed data position
    // counts every round.
    std::vector<data::Example> examples = iterator_->Next();
    if (comm_) {
      // This rank's rows are the global rows after those of the lower ranks, so they draw
      // from the streams that one process with the whole batch would give them.
      sampler.stream_offset += KeepRankShare(examples, *comm_) * g.group_size;
    }
    ASSIGN_OR_RETURN(RolloutBatch batch, RolloutAndScore(policy_, *template_, examples, sampler,
                                                         *rewards_, progress_));
    ++m.sampling_rounds;
    const int64_t first_group = round * b;
    for (int64_t group : GroupsWithRewardVariance(batch)) kept.push_back(first_group + group);
    if (round == 0) {
      rollout.sampled = std::move(batch);
    } else {
      AppendGroups(rollout.sampled, batch, sampler.pad_id);
    }
    if (static_cast<int64_t>(kept.size()) >= b) break;
  }

  context_stops_ = rollout.sampled.rollouts.context_stops;
  if (context_stops_ > 0 && step_ - last_context_warning_ >= 10) {
    last_context_warning_ = step_;
    std::printf("%s\n", ContextStopWarning(context_stops_, policy_.config.max_position_embeddings,
                                            "grpo.max_new_tokens").c_str());
  }
  m.groups_sampled = static_cast<int64_t>(rollout.sampled.examples.size());
  m.zero_variance_groups =
      static_cast<double>(m.groups_sampled - static_cast<int64_t>(kept.size())) /
      static_cast<double>(m.groups_sampled);
  m.dynamic_sampling = g.dynamic_sampling;
  m.groups_trained = m.groups_sampled;
  if (g.dynamic_sampling) {
    m.groups_dropped = m.groups_sampled - static_cast<int64_t>(kept.size());
    // NOTE: groups beyond B from the last round are neither trained on nor counted as
    // dropped; they keep the update at B groups, as DAPO does.
    if (static_cast<int64_t>(kept.size()) > b) kept.resize(b);
    m.groups_trained = static_cast<int64_t>(kept.size());
    rollout.kept = SelectGroups(rollout.sampled, kept);
  }
  m.seconds_generate = rollout.sampled.seconds_generate;
  m.seconds_reward = rollout.sampled.seconds_reward;
  m.rollout_tokens_per_second = rollout.sampled.rollouts.generated_tokens /
                                std::max(rollout.sampled.seconds_generate, 1e-9);
  return rollout;
}

void GrpoTrainer::AddRolloutMetrics(const RolloutBatch& batch, StepMetrics& m) {
  const int64_t n = static_cast<int64_t>(batch.samples.size());
  double sum = 0, sum_sq = 0, length_sum = 0, correct = 0, truncated = 0;
  for (int64_t row = 0; row < n; ++row) {
    sum += batch.scores.total[row];
    sum_sq += batch.scores.total[row] * batch.scores.total[row];
    const double length = static_cast<double>(batch.rollouts.completion_lengths[row]);
    length_sum += length;
    m.length_max = std::max(m.length_max, length);
    correct += batch.correct[row] ? 1 : 0;
    truncated += batch.rollouts.finish_reasons[row] == FinishReason::kLength ? 1 : 0;
  }
  m.reward_mean = sum / n;
  m.reward_std = std::sqrt(std::max(0.0, sum_sq / n - m.reward_mean * m.reward_mean));
  m.length_mean = length_sum / n;
  m.accuracy = correct / n;
  m.truncated_fraction = truncated / n;
  for (size_t r = 0; r < rewards_->size(); ++r) {
    const auto& component = batch.scores.components[r];
    if (auto mean = MeanOfPresent(component)) m.reward_components[rewards_->name(r)] = *mean;
    if (rewards_->name(r) == "format") {
      double full = 0;
      for (const auto& score : component) full += score.has_value() && *score >= 1.0 - 1e-9;
      m.format_rate = full / n;
    }
    m.reward_errors += batch.scores.error_counts[r];
  }
  std::vector<ResponseInput> responses;
  for (int64_t row = 0; row < n; ++row) {
    responses.push_back({batch.samples[row].completion, batch.rollouts.completion_lengths[row],
                         static_cast<bool>(batch.correct[row])});
  }
  const BatchReflectionStats reflection = reflection_->Summarize(responses);
  m.reflection = ReflectionMetricValues(reflection);
  m.accuracy_with_reflection = reflection.accuracy_with_reflection;
  m.accuracy_without_reflection = reflection.accuracy_without_reflection;
  m.length_p50 = reflection.length.p50;
  m.length_p90 = reflection.length.p90;
}

void GrpoTrainer::WriteSamples(const RolloutBatch& batch, const torch::Tensor& advantages) {
  auto adv = advantages.to(torch::kCPU, torch::kFloat64);
  const int64_t n = static_cast<int64_t>(batch.samples.size());
  const int64_t g = batch.rollouts.group_size;
  for (int64_t row = 0; row < std::min<int64_t>(n, config_.log.samples_per_step); ++row) {
    nlohmann::json components = nlohmann::json::object();
    for (size_t r = 0; r < rewards_->size(); ++r) {
      const auto& score = batch.scores.components[r][row];
      components[rewards_->name(r)] = score ? nlohmann::json(*score) : nlohmann::json(nullptr);
    }
    log_->WriteSample({{"step", step_},
                       {"prompt_id", batch.examples[row / g].id},
                       {"prompt", batch.samples[row].prompt},
                       {"completion", batch.samples[row].completion},
                       {"ground_truth", batch.samples[row].ground_truth},
                       {"reward", batch.scores.total[row]},
                       {"rewards", components},
                       {"correct", static_cast<bool>(batch.correct[row])},
                       {"advantage", adv[row].item<double>()},
                       {"finish_reason", FinishReasonName(batch.samples[row].finish_reason)},
                       {"num_tokens", batch.samples[row].num_tokens}});
  }
  if (tensorboard_ && n > 0) {
    // The first completion of the step, as Markdown in TensorBoard's Text tab.
    tensorboard_->WriteText(step_, "samples/completion",
                            absl::StrCat("**prompt**\n\n```\n", batch.samples[0].prompt,
                                         "\n```\n\n**completion** (reward ",
                                         batch.scores.total[0], ")\n\n```\n",
                                         batch.samples[0].completion, "\n```"));
    tensorboard_->Flush();
  }
}

void GrpoTrainer::WarnAboutStep(const StepMetrics& m) {
  if (m.truncated_fraction > 0.5 && step_ - last_truncation_warning_ >= 10) {
    last_truncation_warning_ = step_;
    std::printf("warning: %.0f%% of completions hit grpo.max_new_tokens = %lld%s; their rewards "
                "judge unfinished answers. Raise max_new_tokens or set grpo.mask_truncated\n",
                100 * m.truncated_fraction, static_cast<long long>(config_.grpo.max_new_tokens),
                context_stops_ > 0 ? " or the model's context" : "");
  }
  if (m.reward_errors > 0) {
    std::printf("warning: step %lld: %lld reward errors (failed batches or non-finite scores, "
                "named in the lines above); those samples were trained on on_error scores\n",
                static_cast<long long>(m.step), static_cast<long long>(m.reward_errors));
  }
  if (m.zero_variance_groups > 0.5 && step_ - last_variance_warning_ >= 10) {
    last_variance_warning_ = step_;
    std::printf("warning: %.0f%% of groups have equal rewards and give no gradient; the task "
                "may be too hard or too easy for the model, or group_size too small\n",
                100 * m.zero_variance_groups);
  }
}

absl::StatusOr<EvalMetrics> GrpoTrainer::EvaluateHeldOut() {
  if (test_examples_.empty()) return EvalMetrics{};
  EvalOptions options;
  options.samples_per_prompt = config_.log.eval_group_size;
  options.max_new_tokens = config_.grpo.max_new_tokens;
  options.max_new_tokens_key = "grpo.max_new_tokens";
  options.temperature = config_.log.eval_temperature;
  options.top_p = config_.grpo.sampling.top_p;
  options.seed = config_.seed + 1;
  policy_.model->eval();
  return Evaluate(policy_, *template_, test_examples_, options, *rewards_, progress_);
}

absl::Status GrpoTrainer::SaveCheckpoint() {
  RETURN_IF_ERROR(CheckWeightsBeforeSave("checkpoint"));
  ASSIGN_OR_RETURN(std::string pending, BeginCheckpointSave(config_.out_dir));
  const fs::path tmp_dir(pending);
  SaveOptions save;
  save.dtype = torch::kFloat32;
  RETURN_IF_ERROR(SavePolicy(policy_.model, policy_.source_dir, tmp_dir.string(), save));
  const std::string optimizer_path = (tmp_dir / "optimizer.pt").string();
  try {
    optimizer_->Save(optimizer_path);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot write ", optimizer_path, ": ",
                                            e.what_without_backtrace(),
                                            "; the previous checkpoint is unchanged"));
  }
  const data::IteratorPosition position = iterator_->position();
  nlohmann::json state = {{"step", step_},
                          {"iterator_epoch", position.epoch},
                          {"iterator_offset", position.offset},
                          {"run", ResumeFingerprint()}};
  RETURN_IF_ERROR(
      WriteFileAtomically((tmp_dir / kCheckpointStateFile).string(), state.dump(2)));
  return FinishCheckpointSave(config_.out_dir);
}

absl::Status GrpoTrainer::CheckWeightsBeforeSave(const std::string& artifact) const {
  std::optional<std::string> name = FirstNonFiniteParameter(*policy_.model);
  if (!name) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(
      "after step ", step_, ", tensor ", *name, " contains NaN or infinite values, so the ", artifact,
      " is not saved and earlier saves are kept; lower optimizer.lr or set "
      "optimizer.max_grad_norm"));
}

nlohmann::json GrpoTrainer::ResumeFingerprint() const {
  return {{"grpo.prompts_per_step", config_.grpo.prompts_per_step},
          {"grpo.group_size", config_.grpo.group_size},
          {"data.shuffle_seed", config_.data.shuffle_seed},
          {"run.seed", config_.seed},
          {"training examples", training_examples_}};
}

void GrpoTrainer::WarnAboutChangedRun(const nlohmann::json& saved, const std::string& dir) const {
  if (!IsMainRank() || !saved.is_object()) return;
  const nlohmann::json now = ResumeFingerprint();
  std::vector<std::string> changes;
  for (const auto& [key, value] : now.items()) {
    if (saved.contains(key) && saved[key] != value) {
      changes.push_back(absl::StrCat(key, " ", saved[key].dump(), " -> ", value.dump()));
    }
  }
  if (changes.empty()) return;
  std::printf(
      "aha: warning: resuming %s with settings that differ from the run that wrote it (%s). "
      "The data order and sampling no longer continue that run; start a new run (new out_dir) "
      "to train with these settings from the start\n",
      dir.c_str(), absl::StrJoin(changes, "; ").c_str());
}

absl::Status GrpoTrainer::LoadCheckpoint(const std::string& dir) {
  const std::string state_path = (fs::path(dir) / kCheckpointStateFile).string();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(state_path));
  nlohmann::json state = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.contains("step") || !state["step"].is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(
        state_path, ": invalid trainer state; delete the checkpoint folder to start over"));
  }
  step_ = state["step"].get<int64_t>();
  if (step_ < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        state_path, ": step is ", step_, ", but a checkpoint's step counts finished steps from "
        "0; restore the file or delete the checkpoint folder to start over"));
  }
  if (step_ >= config_.grpo.steps) {
    std::fprintf(stderr,
                 "aha train: the checkpoint in %s is at step %lld, and grpo.steps is %lld, so "
                 "no step is left to train; raise grpo.steps (or pass --steps) to continue\n",
                 dir.c_str(), static_cast<long long>(step_),
                 static_cast<long long>(config_.grpo.steps));
  }
  WarnAboutChangedRun(state.value("run", nlohmann::json::object()), dir);
  RETURN_IF_ERROR(iterator_->Seek({state.value("iterator_epoch", int64_t{0}),
                                   state.value("iterator_offset", int64_t{0})}));
  return optimizer_->Load((fs::path(dir) / "optimizer.pt").string());
}

absl::Status GrpoTrainer::Run() {
  const LogOptions& log = config_.log;
  const int64_t total = config_.grpo.steps;
  auto write_eval = [&](const EvalMetrics& e) {
    if (!IsMainRank()) return;
    std::printf("eval %4lld/%lld | %s\n", static_cast<long long>(step_),
                static_cast<long long>(total), FormatEvalMetrics(e, log.eval_group_size).c_str());
    std::fflush(stdout);
    log_->WriteMetrics({{"step", step_}, {"eval", EvalMetricsToJson(e)}});
    if (tensorboard_) {
      tensorboard_->WriteJsonScalars(step_, EvalMetricsToJson(e), "eval/");
      tensorboard_->Flush();
    }
  };

  if (step_ == 0 && log.eval_before_training && !test_examples_.empty()) {
    ASSIGN_OR_RETURN(EvalMetrics before, EvaluateHeldOut());
    write_eval(before);
  }
  int64_t saved_step = -1;
  while (step_ < total) {
    const int64_t updates_before = optimizer_->steps_taken();
    absl::StatusOr<StepMetrics> step_result = TrainStep();
    if (!step_result.ok()) {
      // The steps before this one finished; keep them unless the failure came after the
      // optimizer had already changed the weights in this step. With several ranks the
      // failure is often a collective that timed out, after which this process may not be
      // able to run anything more, so only a single process saves.
      if (comm_ == nullptr && step_ > 0 && step_ != saved_step &&
          optimizer_->steps_taken() == updates_before && SaveCheckpoint().ok()) {
        std::fprintf(stderr, "aha train: saved the state after step %lld to %s; fix the cause "
                     "below and continue with --resume\n", static_cast<long long>(step_),
                     (fs::path(config_.out_dir) / "checkpoint").string().c_str());
      }
      return step_result.status();
    }
    StepMetrics& metrics = *step_result;
    if (IsMainRank()) {
      std::printf("%s\n", metrics.ConsoleLine(total).c_str());
      std::fflush(stdout);
      const nlohmann::json record = metrics.ToJson();
      log_->WriteMetrics(record);
      if (tensorboard_) {
        tensorboard_->WriteJsonScalars(step_, record, "");
        tensorboard_->Flush();
      }
      WarnAboutStep(metrics);
    }

    const bool last = step_ == total;
    if (!test_examples_.empty() && (last || (log.eval_every > 0 && step_ % log.eval_every == 0))) {
      // NOTE: with several ranks, each one evaluates the same prompts with the same seed and
      // only rank 0 writes the result. The copies keep the ranks in step for the next
      // collective, but evaluation is not sped up by the ranks.
      ASSIGN_OR_RETURN(EvalMetrics eval, EvaluateHeldOut());
      write_eval(eval);
    }
    if (IsMainRank() &&
        (last || (log.checkpoint_every > 0 && step_ % log.checkpoint_every == 0))) {
      RETURN_IF_ERROR(SaveCheckpoint());
      saved_step = step_;
    }
  }
  if (!IsMainRank()) return absl::OkStatus();
  SaveOptions save;
  save.dtype = torch::kFloat32;
  const std::string final_dir = (fs::path(config_.out_dir) / "final").string();
  RETURN_IF_ERROR(CheckWeightsBeforeSave("final model"));
  RETURN_IF_ERROR(SavePolicy(policy_.model, policy_.source_dir, final_dir, save));
  std::printf("saved the trained model to %s\n", final_dir.c_str());
  return absl::OkStatus();
}

}  // namespace aha
