#include "policy/transformer.h"

#include <torch/torch.h>

#include "policy/fused_decode.h"
#include "policy/grad_in_place.h"
#include "policy/skinny_linear.h"

namespace aha {

DecoderImpl::DecoderImpl(const ModelConfig& config) {
  embed_tokens = register_module(
      "embed_tokens", torch::nn::Embedding(config.vocab_size, config.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layer_list.push_back(DecoderLayer(config));
    layers->push_back(layer_list.back());
  }
  norm = register_module("norm", RmsNorm(config.hidden_size, config.rms_norm_eps));
}

CausalLmImpl::CausalLmImpl(const ModelConfig& config) : config_(config), rope_(config) {
  TORCH_CHECK(config.head_dim > 0 && config.head_dim % 2 == 0,
              "head_dim must be a positive even number, got ", config.head_dim);
  model = register_module("model", Decoder(config));
  if (!config.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(config.hidden_size, config.vocab_size)
                              .bias(false)));
  }
}

torch::Tensor CausalLmImpl::Hidden(const torch::Tensor& ids, const torch::Tensor& positions,
                                   const torch::Tensor& allowed, std::vector<LayerKv>* kv_out) {
  auto x = EmbeddingLookup(model->embed_tokens->weight, ids);  // (N, T, E)
  auto [cos, sin] = rope_.Lookup(positions, x.scalar_type());
  if (kv_out != nullptr) kv_out->assign(model->layer_list.size(), LayerKv{});
  for (size_t i = 0; i < model->layer_list.size(); ++i) {
    x = model->layer_list[i]->Forward(x, cos, sin, allowed,
                                      kv_out != nullptr ? &(*kv_out)[i] : nullptr);
  }
  return model->norm(x);
}

torch::Tensor CausalLmImpl::HiddenContinuations(const torch::Tensor& prompt_ids,
                                                const torch::Tensor& prompt_positions,
                                                const torch::Tensor& row_ids,
                                                const torch::Tensor& row_positions,
                                                const ContinuationLayout& layout) {
  auto ids = torch::cat({prompt_ids.reshape({-1}), row_ids.reshape({-1})}).unsqueeze(0);
  auto positions =
      torch::cat({prompt_positions.reshape({-1}), row_positions.reshape({-1})}).unsqueeze(0);
  auto x = EmbeddingLookup(model->embed_tokens->weight, ids).squeeze(0);  // (M, E)
  auto [cos, sin] = rope_.Lookup(positions, x.scalar_type());
  cos = cos.squeeze(0);  // (M, D)
  sin = sin.squeeze(0);
  for (DecoderLayer& layer : model->layer_list) {
    x = layer->ForwardContinuations(x, cos, sin, layout);
  }
  return model->norm(x);
}

torch::Tensor CausalLmImpl::DecodeStep(const torch::Tensor& ids, const torch::Tensor& positions,
                                       std::vector<LayerKv>& kv, const DecodeLayout& layout,
                                       int64_t step) {
  if (FusedDecodeApplies(*model, kv)) {
    auto [cos, sin] = rope_.Lookup(positions, torch::kFloat32);  // (N, D)
    return FusedDecodeStep(*model, config_, ids, cos, sin, kv, layout, step);
  }
  auto x = model->embed_tokens(ids.unsqueeze(1));  // (N, 1, E)
  auto [cos, sin] = rope_.Lookup(positions.unsqueeze(1), x.scalar_type());
  for (size_t i = 0; i < model->layer_list.size(); ++i) {
    x = model->layer_list[i]->DecodeStep(x, cos, sin, kv[i], layout, step);
  }
  return model->norm(x).squeeze(1);
}

torch::Tensor CausalLmImpl::LmHeadWeight() const {
  return lm_head.is_empty() ? model->embed_tokens->weight : lm_head->weight;
}

torch::Tensor CausalLmImpl::Logits(const torch::Tensor& hidden) const {
  return Linear(hidden, LmHeadWeight(), torch::Tensor()).to(torch::kFloat32);
}

torch::Tensor CausalLmImpl::ForwardLogits(const torch::Tensor& ids, const torch::Tensor& valid) {
  auto positions = PositionsFromMask(valid);
  return Logits(Hidden(ids, positions, BuildAttentionMask(valid)));
}

void InitializeWeights(CausalLmImpl& model, double std, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      p.zero_();
    } else if (p.dim() == 1) {
      p.fill_(1.0);
    } else {
      p.normal_(0.0, std);
    }
  }
}

void AllocateCompletionCaches(std::vector<LayerKv>& kv, int64_t rows, int64_t capacity) {
  for (LayerKv& layer : kv) {
    auto shape = layer.prefix_k.sizes().vec();  // (B, K, P, D)
    shape[0] = rows;
    shape[2] = capacity;
    layer.completion_k = torch::empty(shape, layer.prefix_k.options());
    layer.completion_v = torch::empty(shape, layer.prefix_v.options());
  }
}

torch::Tensor PositionsFromMask(const torch::Tensor& valid) {
  auto counts = valid.to(torch::kInt64).cumsum(1) - 1;
  return counts.clamp_min(0);
}

torch::Tensor BuildAttentionMask(const torch::Tensor& valid,
                                 const std::optional<torch::Tensor>& segment_ids) {
  const int64_t t = valid.size(1);
  auto causal = torch::ones({t, t}, valid.options().dtype(torch::kBool)).tril();  // (T, T)
  auto allowed = causal.unsqueeze(0) & valid.to(torch::kBool).unsqueeze(1);     // (N, T, T)
  if (segment_ids.has_value()) {
    allowed = allowed & (segment_ids->unsqueeze(2) == segment_ids->unsqueeze(1));
  }
  auto self = torch::eye(t, valid.options().dtype(torch::kBool)).unsqueeze(0);
  return (allowed | self).unsqueeze(1);
}

torch::Tensor BuildContinuationMask(const torch::Tensor& prompt_valid,
                                    const torch::Tensor& prompt_of_row,
                                    const torch::Tensor& valid) {
  const int64_t n = valid.size(0), t = valid.size(1), p = prompt_valid.size(1);
  auto prompt_part = prompt_valid.to(torch::kBool)
                         .index_select(0, prompt_of_row)
                         .view({n, 1, 1, p})
                         .expand({n, 1, t, p});
  return torch::cat({prompt_part, BuildAttentionMask(valid)}, -1);
}

}  // namespace aha
