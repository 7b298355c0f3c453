#include "policy/token_scoring.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "policy/grad_in_place.h"
#include "tests/policy/tensor_checks.h"
#include "tests/policy/test_models.h"

namespace aha {
namespace {

using testing::MakeRandomModel;
using testing::MaxRelativeError;
using testing::TinyQwen2Config;

// ScoreHidden against log_softmax on the whole (M, V) logits, with and without an entropy
// gradient, for the given chunk and saved-log-prob sizes (in floats).
void ExpectScoreHiddenMatchesLogSoftmax(int64_t max_chunk_elements, int64_t max_saved_elements) {
  torch::manual_seed(5);
  auto hidden = torch::randn({13, 6}, torch::requires_grad());
  auto weight = torch::randn({11, 6}, torch::requires_grad());
  auto targets = torch::randint(0, 11, {13});
  const double temperature = 0.7;
  auto upstream_lp = torch::randn({13});
  auto upstream_h = torch::randn({13});
  auto log_p = (torch::matmul(hidden, weight.t()) / temperature).log_softmax(-1);
  auto direct_lp = log_p.gather(1, targets.unsqueeze(1)).squeeze(1);
  auto direct_h = -(log_p.exp() * log_p).sum(-1);

  for (bool with_entropy : {true, false}) {
    SCOPED_TRACE(with_entropy ? "with an entropy gradient" : "without an entropy gradient");
    TokenScores chunked = ScoreHidden(hidden, weight, targets, temperature, max_chunk_elements,
                                      max_saved_elements);
    auto loss = (chunked.logprobs * upstream_lp).sum();
    auto direct_loss = (direct_lp * upstream_lp).sum();
    if (with_entropy) {
      loss = loss + (chunked.entropy * upstream_h).sum();
      direct_loss = direct_loss + (direct_h * upstream_h).sum();
    }
    auto grads = torch::autograd::grad({loss}, {hidden, weight});
    auto direct_grads = torch::autograd::grad({direct_loss}, {hidden, weight},
                                              /*grad_outputs=*/{}, /*retain_graph=*/true);
    EXPECT_LT((chunked.logprobs - direct_lp).abs().max().item<double>(), 1e-5);
    EXPECT_LT((chunked.entropy - direct_h).abs().max().item<double>(), 1e-5);
    EXPECT_LT((grads[0] - direct_grads[0]).abs().max().item<double>(), 1e-4);
    EXPECT_LT((grads[1] - direct_grads[1]).abs().max().item<double>(), 1e-4);
  }
}

// In a trainer's backward pass ScoreHidden adds the weight gradient to weight.grad() itself,
// with the log-probs kept or recomputed.
TEST(TokenScoringTest, InPlaceScopeAddsWeightGradientToGrad) {
  for (int64_t max_saved : {int64_t{1} << 20, int64_t{0}}) {
    torch::manual_seed(8);
    auto hidden = torch::randn({13, 6}, torch::requires_grad());
    auto weight = torch::randn({11, 6}, torch::requires_grad());
    auto targets = torch::randint(0, 11, {13});
    auto loss = [&] {
      TokenScores s = ScoreHidden(hidden, weight, targets, 0.9, 22, max_saved);
      return s.logprobs.sum() + 0.5 * s.entropy.sum();
    };
    auto want = torch::autograd::grad({loss()}, {hidden, weight});
    const int64_t before = GradAccumulationsInPlaceSoFar();
    {
      AccumulateGradsInPlace in_place;
      loss().backward();
    }
    EXPECT_EQ(GradAccumulationsInPlaceSoFar() - before, 1);
    EXPECT_LT((hidden.grad() - want[0]).abs().max().item<double>(), 1e-5);
    EXPECT_LT((weight.grad() - want[1]).abs().max().item<double>(), 1e-5);
  }
}

// A bfloat16 weight's gradient is the product of the logit gradient rounded to bfloat16 with
// the hidden states, with the log-probs kept or recomputed in chunks of 2 rows.
TEST(TokenScoringTest, Bf16WeightGradientMatchesReference) {
  for (int64_t max_saved : {int64_t{1} << 20, int64_t{0}}) {
    SCOPED_TRACE(max_saved > 0 ? "kept log-probs" : "recomputed chunks");
    torch::manual_seed(9);
    auto hidden = torch::randn({13, 6}).to(torch::kBFloat16).requires_grad_();
    auto weight = torch::randn({11, 6}).to(torch::kBFloat16).requires_grad_();
    auto targets = torch::randint(0, 11, {13});
    auto upstream = torch::randn({13});
    TokenScores s = ScoreHidden(hidden, weight, targets, 0.8, 22, max_saved);
    auto grads = torch::autograd::grad({(s.logprobs * upstream).sum()}, {hidden, weight});
    ASSERT_EQ(grads[1].scalar_type(), torch::kBFloat16);

    // d logprob / d logits = (onehot - p) / temperature, in float32 from the same logits.
    auto logits = torch::matmul(hidden, weight.t()).to(torch::kFloat32) / 0.8;
    auto p = logits.softmax(-1);
    auto dz = (torch::one_hot(targets, 11).to(torch::kFloat32) - p) * upstream.unsqueeze(1) / 0.8;
    auto want = torch::matmul(dz.to(torch::kBFloat16).t().to(torch::kFloat32),
                              hidden.detach().to(torch::kFloat32));
    // Chunks of 2 rows sum 7 bfloat16 products in float32, and one product rounds once.
    EXPECT_LT(MaxRelativeError(grads[1].to(torch::kFloat32), want), 0.03);

    // In a trainer's backward pass the gradient goes into the bfloat16 .grad.
    const int64_t before = GradAccumulationsInPlaceSoFar();
    {
      AccumulateGradsInPlace in_place;
      TokenScores again = ScoreHidden(hidden, weight, targets, 0.8, 22, max_saved);
      (again.logprobs * upstream).sum().backward();
    }
    EXPECT_EQ(GradAccumulationsInPlaceSoFar() - before, 1);
    ASSERT_EQ(weight.grad().scalar_type(), torch::kBFloat16);
    EXPECT_LT(MaxRelativeError(weight.grad().to(torch::kFloat32), want), 0.03);
  }
}

TEST(TokenScoringTest, SavedLogProbsMatchLogSoftmax) {
  // Chunks of 2 rows (22 elements / V = 11); all 13 x 11 log-probs kept for backward.
  ExpectScoreHiddenMatchesLogSoftmax(22, 13 * 11);
}

TEST(TokenScoringTest, RecomputedChunksMatchLogSoftmax) {
  // One float short of keeping the log-probs, so the backward pass recomputes each chunk.
  ExpectScoreHiddenMatchesLogSoftmax(22, 13 * 11 - 1);
  ExpectScoreHiddenMatchesLogSoftmax(1 << 20, 0);
}

TEST(TokenScoringTest, LeftPaddedBatchScoresLikeSequenceAlone) {
  ModelConfig c = TinyQwen2Config();
  CausalLm model = MakeRandomModel(c, 2);
  torch::NoGradGuard no_grad;
  auto seq = torch::tensor({{3, 9, 4, 17, 22, 5}});
  ScoreRequest alone;
  alone.ids = seq;
  alone.valid = torch::ones({1, 6}, torch::kBool);
  alone.first_target = 2;
  TokenScores expected = ScoreTokens(model, alone);

  // The same tokens left-padded by 3 beside a longer row.
  auto batch = torch::tensor({{0, 0, 0, 3, 9, 4, 17, 22, 5}, {8, 1, 2, 6, 7, 30, 31, 32, 33}});
  auto valid = torch::ones({2, 9}, torch::kBool);
  valid[0].narrow(0, 0, 3).fill_(false);
  ScoreRequest padded{batch, valid, 5, 1.0};
  TokenScores got = ScoreTokens(model, padded);
  EXPECT_LT((got.logprobs[0] - expected.logprobs[0]).abs().max().item<double>(), 1e-5);
  EXPECT_LT((got.entropy[0] - expected.entropy[0]).abs().max().item<double>(), 1e-5);
}

TEST(TokenScoringTest, TemperatureDividesLogits) {
  ModelConfig c = TinyQwen2Config();
  CausalLm model = MakeRandomModel(c, 4);
  torch::NoGradGuard no_grad;
  auto seq = torch::tensor({{3, 9, 4, 17}});
  auto valid = torch::ones({1, 4}, torch::kBool);
  ScoreRequest request{seq, valid, 1, 0.5};
  TokenScores got = ScoreTokens(model, request);
  auto logits = model->ForwardLogits(seq, valid)[0];  // (T, V)
  auto expected = (logits / 0.5).log_softmax(-1);
  for (int64_t j = 1; j < 4; ++j) {
    EXPECT_NEAR(got.logprobs[0][j - 1].item<double>(),
                expected[j - 1][seq[0][j].item<int64_t>()].item<double>(), 1e-5);
  }
}

// Three prompts (left-padded to 5) continued by six rows of up to 4 completion tokens, in an
// order that interleaves the prompts.
struct SharedPromptBatch {
  torch::Tensor prompt_ids = torch::tensor({{0, 0, 3, 9, 4}, {8, 1, 2, 6, 7}, {0, 0, 0, 0, 11}});
  torch::Tensor prompt_valid = torch::tensor({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}, {0, 0, 0, 0, 1}})
                                   .to(torch::kBool);
  torch::Tensor prompt_of_row = torch::tensor({1, 0, 1, 2, 0, 1}, torch::kInt64);
  torch::Tensor completion_ids = torch::tensor(
      {{5, 6, 7, 8}, {12, 13, 0, 0}, {14, 0, 0, 0}, {15, 16, 17, 0}, {18, 19, 20, 21},
       {22, 23, 0, 0}});
  torch::Tensor completion_valid = torch::tensor(
      {{1, 1, 1, 1}, {1, 1, 0, 0}, {1, 0, 0, 0}, {1, 1, 1, 0}, {1, 1, 1, 1}, {1, 1, 0, 0}})
                                       .to(torch::kBool);

  // The same rows written out in full, prompt then completion: (6, 9).
  ScoreRequest FullRows(double temperature) const {
    ScoreRequest request;
    request.ids = torch::cat({prompt_ids.index_select(0, prompt_of_row), completion_ids}, 1);
    request.valid =
        torch::cat({prompt_valid.index_select(0, prompt_of_row), completion_valid}, 1);
    request.first_target = prompt_ids.size(1);
    request.temperature = temperature;
    return request;
  }

  CompletionScoreRequest Shared(double temperature) const {
    return {prompt_ids, prompt_valid, prompt_of_row, completion_ids, completion_valid,
            temperature};
  }
};

// The sum of the scores at real completion tokens, weighted so that every entry matters.
torch::Tensor WeightedSum(const TokenScores& scores, const torch::Tensor& valid) {
  auto weights = torch::linspace(0.5, 1.5, scores.logprobs.numel()).view(scores.logprobs.sizes());
  auto mask = valid.to(torch::kFloat32);
  return (scores.logprobs * weights * mask).sum() + (scores.entropy * mask).sum() * 0.3;
}

void ExpectSharedPromptsScoreLikeFullRows(const ModelConfig& config) {
  CausalLm model = MakeRandomModel(config, 7);
  SharedPromptBatch batch;
  const double temperature = 0.8;

  TokenScores full = ScoreTokens(model, batch.FullRows(temperature));
  auto full_grads = torch::autograd::grad({WeightedSum(full, batch.completion_valid)},
                                          model->parameters());
  TokenScores shared = ScoreCompletions(model, batch.Shared(temperature));
  auto shared_grads = torch::autograd::grad({WeightedSum(shared, batch.completion_valid)},
                                            model->parameters());

  auto valid = batch.completion_valid;
  EXPECT_LT(MaxRelativeError(shared.logprobs.masked_select(valid),
                             full.logprobs.masked_select(valid)), 1e-5);
  EXPECT_LT(MaxRelativeError(shared.entropy.masked_select(valid),
                             full.entropy.masked_select(valid)), 1e-5);
  auto names = model->named_parameters().keys();
  for (size_t i = 0; i < full_grads.size(); ++i) {
    EXPECT_LT(MaxRelativeError(shared_grads[i], full_grads[i]), 1e-4) << names[i];
  }
}

TEST(TokenScoringTest, SharedPromptsMatchFullRows) {
  ExpectSharedPromptsScoreLikeFullRows(TinyQwen2Config());
}

TEST(TokenScoringTest, SharedPromptsMatchFullRowsWithQkNorm) {
  ModelConfig c = TinyQwen2Config();
  c.model_type = "qwen3";
  c.qk_norm = true;
  c.attention_bias = false;
  c.tie_word_embeddings = false;
  ExpectSharedPromptsScoreLikeFullRows(c);
}

TEST(TokenScoringTest, SharedPromptsScoreOneCompletionColumn) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 9);
  torch::NoGradGuard no_grad;
  SharedPromptBatch batch;
  batch.completion_ids = batch.completion_ids.narrow(1, 0, 1);
  batch.completion_valid = batch.completion_valid.narrow(1, 0, 1);
  TokenScores full = ScoreTokens(model, batch.FullRows(1.0));
  TokenScores shared = ScoreCompletions(model, batch.Shared(1.0));
  EXPECT_LT(MaxRelativeError(shared.logprobs, full.logprobs), 1e-5);
}

TEST(TokenScoringTest, SharedPromptsRejectAllPaddingPrompt) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 9);
  SharedPromptBatch batch;
  batch.prompt_valid.fill_(false);
  EXPECT_THROW(ScoreCompletions(model, batch.Shared(1.0)), c10::Error);
}

}  // namespace
}  // namespace aha
