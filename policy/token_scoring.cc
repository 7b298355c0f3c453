#include "policy/token_scoring.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include "policy/grad_in_place.h"

namespace aha {
namespace {

int64_t ChunkRows(int64_t vocab, int64_t max_chunk_elements) {
  return std::max<int64_t>(1, max_chunk_elements / std::max<int64_t>(vocab, 1));
}

// Scaled float32 logits of one chunk: (rows, V).
torch::Tensor ChunkLogits(const torch::Tensor& hidden_chunk, const torch::Tensor& weight,
                          double temperature) {
  return torch::matmul(hidden_chunk, weight.t()).to(torch::kFloat32) / temperature;
}

// d(w_lp * logprob + w_h * entropy) / dz for one chunk, from its log-probabilities (rows, V):
//   d logprob / dz = onehot(target) - p,  d H / dz = -p * (log p + H),
// divided by the temperature. grad_entropy and entropy are undefined without an entropy
// gradient.
torch::Tensor LogitGradient(const torch::Tensor& log_p, const torch::Tensor& targets,
                            const torch::Tensor& grad_logprobs,
                            const torch::Tensor& grad_entropy, const torch::Tensor& entropy,
                            double temperature) {
  auto g_lp = grad_logprobs.unsqueeze(1);  // (rows, 1)
  auto coefficient = -g_lp;
  if (grad_entropy.defined()) {
    coefficient = coefficient - grad_entropy.unsqueeze(1) * (log_p + entropy.unsqueeze(1));
  }
  auto dz = log_p.exp().mul_(coefficient);
  dz.scatter_add_(1, targets.unsqueeze(1), g_lp);
  return dz.div_(temperature);
}

// Autograd function for ScoreHidden. Saved for backward: hidden, weight, targets, the
// per-token logsumexp and entropy, and, when they fit, the log-probabilities (M, V).
class ChunkedTokenScores : public torch::autograd::Function<ChunkedTokenScores> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                torch::Tensor hidden, torch::Tensor weight,
                                                torch::Tensor targets, double temperature,
                                                int64_t max_chunk_elements,
                                                int64_t max_saved_elements) {
    const int64_t m = hidden.size(0), vocab = weight.size(0);
    const int64_t rows = ChunkRows(vocab, max_chunk_elements);
    auto opts = hidden.options().dtype(torch::kFloat32);
    auto logprobs = torch::empty({m}, opts);
    auto entropy = torch::empty({m}, opts);
    auto logsumexp = torch::empty({m}, opts);
    torch::Tensor saved_log_p;
    if (m * vocab <= max_saved_elements) saved_log_p = torch::empty({m, vocab}, opts);
    for (int64_t start = 0; start < m; start += rows) {
      const int64_t len = std::min(rows, m - start);
      auto z = ChunkLogits(hidden.narrow(0, start, len), weight, temperature);  // (rows, V)
      auto lse = z.logsumexp(-1);                                               // (rows)
      // log p = z - lse, into the saved tensor or in place of z.
      auto saved_rows = saved_log_p.defined() ? saved_log_p.narrow(0, start, len) : z;
      auto log_p = torch::sub_out(saved_rows, z, lse.unsqueeze(1));
      logprobs.narrow(0, start, len)
          .copy_(log_p.gather(1, targets.narrow(0, start, len).unsqueeze(1)).squeeze(1));
      entropy.narrow(0, start, len).copy_(-(log_p.exp() * log_p).sum(-1));
      logsumexp.narrow(0, start, len).copy_(lse);
    }
    ctx->save_for_backward({hidden, weight, targets, logsumexp, entropy, saved_log_p});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["max_chunk_elements"] = max_chunk_elements;
    return {logprobs, entropy};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& hidden = saved[0];
    const auto& weight = saved[1];
    const auto& targets = saved[2];
    const auto& logsumexp = saved[3];
    const auto& entropy = saved[4];
    const auto& saved_log_p = saved[5];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const int64_t m = hidden.size(0);
    auto grad_logprobs = grads[0].defined() ? grads[0] : torch::zeros({m}, logsumexp.options());
    const torch::Tensor& grad_entropy = grads[1];
    auto chunk_entropy = [&](int64_t start, int64_t len) {
      return grad_entropy.defined() ? entropy.narrow(0, start, len) : torch::Tensor();
    };
    auto chunk_grad_entropy = [&](int64_t start, int64_t len) {
      return grad_entropy.defined() ? grad_entropy.narrow(0, start, len) : torch::Tensor();
    };

    // In a trainer's backward pass the weight gradient goes straight into weight.grad().
    const bool in_place = AddingToGradInPlace(weight);
    // A bfloat16 or half weight's gradient is one product in its dtype, from the logit gradient
    // rounded to it, as LibTorch's autograd computes it for such a model. On an AMX Xeon,
    // where oneDNN's bfloat16 products run on AMX, this cut the 0.5B shape's bfloat16 train
    // phase from 1.55 s to 1.37 s, against a float32 (V, M) @ (M, E) product.
    const bool narrow_weight = weight.scalar_type() != torch::kFloat32;
    if (saved_log_p.defined()) {
      auto dz = LogitGradient(saved_log_p, targets, grad_logprobs, grad_entropy,
                              chunk_entropy(0, m), temperature);  // (M, V)
      // For a float32 weight both conversions return the tensors themselves.
      auto dz_in_weight_type = dz.to(weight.scalar_type());
      auto hidden_in_weight_type = hidden.to(weight.scalar_type());
      auto grad_hidden = torch::matmul(dz_in_weight_type, weight);
      torch::Tensor grad_weight;
      if (in_place) {
        GradToAddTo(weight).addmm_(dz_in_weight_type.t(), hidden_in_weight_type);
        CountGradAccumulationInPlace();
      } else {
        grad_weight = torch::matmul(dz_in_weight_type.t(), hidden_in_weight_type);
      }
      return {grad_hidden, grad_weight, torch::Tensor(), torch::Tensor(), torch::Tensor(),
              torch::Tensor()};
    }

    const int64_t rows =
        ChunkRows(weight.size(0), ctx->saved_data["max_chunk_elements"].toInt());
    auto grad_hidden = torch::empty_like(hidden);
    // float32 (V, E), written by the first chunk unless the gradient goes to weight.grad().
    torch::Tensor grad_weight;
    if (in_place) {
      grad_weight = GradToAddTo(weight);
      CountGradAccumulationInPlace();
    }
    for (int64_t start = 0; start < m; start += rows) {
      const int64_t len = std::min(rows, m - start);
      auto h = hidden.narrow(0, start, len);
      auto log_p = ChunkLogits(h, weight, temperature)
                       .sub_(logsumexp.narrow(0, start, len).unsqueeze(1));  // (rows, V)
      auto dz = LogitGradient(log_p, targets.narrow(0, start, len),
                              grad_logprobs.narrow(0, start, len),
                              chunk_grad_entropy(start, len), chunk_entropy(start, len),
                              temperature);
      auto dz_in_weight_type = dz.to(weight.scalar_type());
      auto h_in_weight_type = h.to(weight.scalar_type());
      grad_hidden.narrow(0, start, len).copy_(torch::matmul(dz_in_weight_type, weight));
      // The chunks sum into .grad in its dtype or, outside a trainer's backward pass, into a
      // float32 sum. A narrow weight's chunk product runs in its dtype, as above.
      if (narrow_weight && !in_place) {
        auto product =
            torch::matmul(dz_in_weight_type.t(), h_in_weight_type).to(torch::kFloat32);
        grad_weight = grad_weight.defined() ? grad_weight.add_(product) : product;
      } else if (grad_weight.defined()) {
        grad_weight.addmm_(dz_in_weight_type.t(), h_in_weight_type);
      } else {
        grad_weight = torch::matmul(dz_in_weight_type.t(), h_in_weight_type);
      }
    }
    if (in_place) grad_weight = torch::Tensor();
    return {grad_hidden, grad_weight.defined() ? grad_weight.to(weight.scalar_type()) : grad_weight,
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

TokenScores ScoreHidden(const torch::Tensor& hidden, const torch::Tensor& weight,
                        const torch::Tensor& targets, double temperature,
                        int64_t max_chunk_elements, int64_t max_saved_elements) {
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "ScoreHidden expects hidden (M, E) and weight (V, E), got ", hidden.sizes(),
              " and ", weight.sizes());
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden.size(0),
              "ScoreHidden expects targets (M), got ", targets.sizes());
  TORCH_CHECK(temperature > 0, "temperature must be positive, got ", temperature);
  // Without a backward pass to come there is nothing to keep the log-probabilities for.
  const bool backward_possible =
      torch::GradMode::is_enabled() && (hidden.requires_grad() || weight.requires_grad());
  auto outputs = ChunkedTokenScores::apply(hidden, weight, targets.to(torch::kInt64),
                                           temperature, max_chunk_elements,
                                           backward_possible ? max_saved_elements : 0);
  return {outputs[0], outputs[1]};
}

TokenScores ScoreTokens(CausalLm& model, const ScoreRequest& request) {
  const auto& ids = request.ids;
  const int64_t n = ids.size(0), t = ids.size(1);
  const int64_t first = request.first_target;
  TORCH_CHECK(first >= 1 && first < t, "first_target must be in [1, T), got ", first,
              " with T = ", t);
  auto positions = request.positions ? *request.positions : PositionsFromMask(request.valid);
  auto allowed = BuildAttentionMask(request.valid, request.segment_ids);
  auto hidden = model->Hidden(ids, positions, allowed);  // (N, T, E)

  const int64_t c = t - first;
  // The token at index j is predicted from the hidden state at j - 1.
  auto predicting = hidden.narrow(1, first - 1, c).reshape({n * c, hidden.size(2)});
  auto targets = ids.narrow(1, first, c).reshape({n * c});
  TokenScores flat = ScoreHidden(predicting, model->LmHeadWeight(), targets,
                                 request.temperature);
  return {flat.logprobs.view({n, c}), flat.entropy.view({n, c})};
}

TokenScores ScoreCompletions(CausalLm& model, const CompletionScoreRequest& request) {
  const auto& completion_ids = request.completion_ids;
  const int64_t n = completion_ids.size(0), c = completion_ids.size(1);
  TORCH_CHECK(c >= 1, "ScoreCompletions needs at least one completion column");
  TORCH_CHECK(request.prompt_of_row.dim() == 1 && request.prompt_of_row.size(0) == n,
              "prompt_of_row must be (N) with N = ", n, ", got ", request.prompt_of_row.sizes());
  // Columns that are padding in every prompt change nothing (positions count from each
  // prompt's first real token), so they are cut.
  const int64_t max_prompt_length = request.prompt_valid.sum(1).max().item<int64_t>();
  TORCH_CHECK(max_prompt_length >= 1, "ScoreCompletions needs prompts with real tokens");
  const int64_t p = request.prompt_ids.size(1);
  auto prompt_ids = request.prompt_ids.narrow(1, p - max_prompt_length, max_prompt_length);
  auto prompt_valid = request.prompt_valid.narrow(1, p - max_prompt_length, max_prompt_length);

  // The last completion token predicts nothing, so only the first C - 1 are run.
  const int64_t t = c - 1;
  const int64_t b = prompt_ids.size(0);
  auto row_ids = completion_ids.narrow(1, 0, t);
  auto row_valid = request.completion_valid.narrow(1, 0, t);
  ContinuationLayout layout;
  layout.prompts = b;
  layout.prompt_length = max_prompt_length;
  layout.rows = n;
  layout.row_length = t;
  layout.prompt_allowed = BuildAttentionMask(prompt_valid);
  layout.row_allowed = BuildContinuationMask(prompt_valid, request.prompt_of_row, row_valid);
  layout.prompt_of_row = request.prompt_of_row;
  auto prompt_lengths = prompt_valid.sum(1).index_select(0, request.prompt_of_row);  // (N)
  auto hidden = model->HiddenContinuations(prompt_ids, PositionsFromMask(prompt_valid), row_ids,
                                           PositionsFromMask(row_valid) +
                                               prompt_lengths.unsqueeze(1),
                                           layout);  // (B*P + N*T, E)
  const int64_t e = hidden.size(1);
  // The first completion token is predicted from its prompt's last hidden state (prompts are
  // left-padded, so the last column is real); token j > 0 from completion token j - 1.
  auto prompt_last = hidden.narrow(0, 0, b * max_prompt_length)
                         .view({b, max_prompt_length, e})
                         .select(1, max_prompt_length - 1)
                         .index_select(0, request.prompt_of_row);  // (N, E)
  auto rows = hidden.narrow(0, b * max_prompt_length, n * t).view({n, t, e});
  auto predicting = torch::cat({prompt_last.unsqueeze(1), rows}, 1).reshape({n * c, e});
  TokenScores flat = ScoreHidden(predicting, model->LmHeadWeight(),
                                 completion_ids.reshape({n * c}), request.temperature);
  return {flat.logprobs.view({n, c}), flat.entropy.view({n, c})};
}

}  // namespace aha
