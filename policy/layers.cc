#include "policy/layers.h"

#include <cmath>

#include "policy/batched_matmul.h"
#include "policy/fused_attention.h"
#include "policy/fused_rms_norm.h"
#include "policy/fused_swiglu.h"
#include "policy/rope.h"
#include "policy/skinny_linear.h"

namespace aha {
namespace {

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// Softmax over the last dim in float32, as transformers' eager attention does, so that bf16
// models keep their attention weights normalized.
torch::Tensor SoftmaxFloat32(const torch::Tensor& scores, torch::Dtype out_dtype) {
  return torch::softmax(scores, -1, torch::kFloat32).to(out_dtype);
}

// Moves rows (N, ...) into a (B * G_slots, ...) grid, zero where no row sits.
torch::Tensor RowsToSlots(const torch::Tensor& rows, const DecodeLayout& layout) {
  if (layout.identity_slots) return rows;
  std::vector<int64_t> shape = rows.sizes().vec();
  shape[0] = layout.num_groups * layout.group_slots;
  return torch::zeros(shape, rows.options()).index_copy_(0, layout.slot_index, rows);
}

torch::Tensor SlotsToRows(const torch::Tensor& slots, const DecodeLayout& layout) {
  if (layout.identity_slots) return slots;
  return slots.index_select(0, layout.slot_index);
}

}  // namespace

RmsNormImpl::RmsNormImpl(int64_t size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  return FusedRmsNorm(x, weight, eps_);
}

MlpImpl::MlpImpl(const ModelConfig& config) {
  gate_proj = register_module(
      "gate_proj", MakeLinear(config.hidden_size, config.intermediate_size, false));
  up_proj = register_module("up_proj",
                            MakeLinear(config.hidden_size, config.intermediate_size, false));
  down_proj = register_module(
      "down_proj", MakeLinear(config.intermediate_size, config.hidden_size, false));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return Linear(down_proj, SwiGlu(Linear(gate_proj, x), Linear(up_proj, x)));
}

AttentionImpl::AttentionImpl(const ModelConfig& config)
    : num_heads_(config.num_attention_heads),
      num_kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim),
      scale_(1.0 / std::sqrt(static_cast<double>(config.head_dim))) {
  TORCH_CHECK(num_heads_ % num_kv_heads_ == 0, "num_attention_heads (", num_heads_,
              ") must be a multiple of num_key_value_heads (", num_kv_heads_, ")");
  const int64_t e = config.hidden_size;
  const bool bias = config.attention_bias;
  q_proj = register_module("q_proj", MakeLinear(e, num_heads_ * head_dim_, bias));
  k_proj = register_module("k_proj", MakeLinear(e, num_kv_heads_ * head_dim_, bias));
  v_proj = register_module("v_proj", MakeLinear(e, num_kv_heads_ * head_dim_, bias));
  o_proj = register_module("o_proj",
                           MakeLinear(num_heads_ * head_dim_, e, config.attention_output_bias));
  if (config.qk_norm) {
    q_norm = register_module("q_norm", RmsNorm(head_dim_, config.rms_norm_eps));
    k_norm = register_module("k_norm", RmsNorm(head_dim_, config.rms_norm_eps));
  }
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> AttentionImpl::ProjectQkv(
    const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t n = x.size(0), t = x.size(1);
  return RotateQkv(Linear(q_proj, x).view({n, t, num_heads_, head_dim_}),
                   Linear(k_proj, x).view({n, t, num_kv_heads_, head_dim_}),
                   Linear(v_proj, x).view({n, t, num_kv_heads_, head_dim_}), cos, sin);
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> AttentionImpl::RotateQkv(
    torch::Tensor q, torch::Tensor k, const torch::Tensor& v, const torch::Tensor& cos,
    const torch::Tensor& sin) {
  if (!q_norm.is_empty()) {
    q = q_norm(q);
    k = k_norm(k);
  }
  auto cos_heads = cos.unsqueeze(1);  // (N, 1, T, D)
  auto sin_heads = sin.unsqueeze(1);
  q = ApplyRotary(q.transpose(1, 2), cos_heads, sin_heads);  // (N, H, T, D)
  k = ApplyRotary(k.transpose(1, 2), cos_heads, sin_heads);  // (N, K, T, D)
  return {q, k, v.transpose(1, 2)};
}

torch::Tensor AttentionImpl::Attend(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v, const torch::Tensor& allowed) {
  const int64_t n = q.size(0), t = q.size(2);
  auto no_prompt = torch::empty({0, num_kv_heads_, 0, head_dim_}, k.options());
  auto no_rows = torch::empty({0}, torch::TensorOptions().dtype(torch::kInt64));
  // (N, H, T, D) -> (N, T, H * D)
  return GroupedAttention(q, {no_prompt, no_prompt, k, v, no_rows}, allowed, scale_)
      .transpose(1, 2)
      .reshape({n, t, num_heads_ * head_dim_});
}

torch::Tensor AttentionImpl::Forward(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const torch::Tensor& allowed,
                                     LayerKv* kv_out) {
  auto [q, k, v] = ProjectQkv(x, cos, sin);
  if (kv_out != nullptr) {
    kv_out->prefix_k = k.contiguous();
    kv_out->prefix_v = v.contiguous();
  }
  return Linear(o_proj, Attend(q, k, v, allowed));
}

torch::Tensor AttentionImpl::ForwardContinuations(const torch::Tensor& x,
                                                  const torch::Tensor& cos,
                                                  const torch::Tensor& sin,
                                                  const ContinuationLayout& layout) {
  const int64_t b = layout.prompts, p = layout.prompt_length;
  const int64_t n = layout.rows, t = layout.row_length;
  const int64_t split = layout.prompt_tokens();
  auto q = Linear(q_proj, x), k = Linear(k_proj, x), v = Linear(v_proj, x);  // (M, *)
  // The first B * P tokens are the prompts, (B, P, ...); the rest the rows, (N, T, ...).
  auto part = [&](const torch::Tensor& flat, bool prompt, int64_t heads) {
    return prompt ? flat.narrow(0, 0, split).view({b, p, heads, head_dim_})
                  : flat.narrow(0, split, n * t).view({n, t, heads, head_dim_});
  };
  auto prompt_cos = cos.narrow(0, 0, split).view({b, p, head_dim_});
  auto prompt_sin = sin.narrow(0, 0, split).view({b, p, head_dim_});
  auto row_cos = cos.narrow(0, split, n * t).view({n, t, head_dim_});
  auto row_sin = sin.narrow(0, split, n * t).view({n, t, head_dim_});
  auto [prompt_q, prompt_k, prompt_v] =
      RotateQkv(part(q, true, num_heads_), part(k, true, num_kv_heads_),
                part(v, true, num_kv_heads_), prompt_cos, prompt_sin);
  auto [row_q, row_k, row_v] =
      RotateQkv(part(q, false, num_heads_), part(k, false, num_kv_heads_),
                part(v, false, num_kv_heads_), row_cos, row_sin);
  auto prompt_out = Attend(prompt_q, prompt_k, prompt_v, layout.prompt_allowed);  // (B, P, HD)
  // Each row reads its prompt's keys and values and then its own: (N, H, T, D) -> (N, T, H, D).
  auto row_out =
      GroupedAttention(row_q, {prompt_k, prompt_v, row_k, row_v, layout.prompt_of_row},
                       layout.row_allowed, scale_)
          .transpose(1, 2);
  const int64_t width = num_heads_ * head_dim_;
  return Linear(o_proj, torch::cat({prompt_out.reshape({split, width}),
                                    row_out.reshape({n * t, width})}));
}

torch::Tensor AttentionImpl::DecodeStep(const torch::Tensor& x, const torch::Tensor& cos,
                                        const torch::Tensor& sin, LayerKv& kv,
                                        const DecodeLayout& layout, int64_t step) {
  const int64_t n = x.size(0);
  const int64_t r = num_heads_ / num_kv_heads_;
  const int64_t b = layout.num_groups, slots = layout.group_slots;
  const int64_t kh = num_kv_heads_, d = head_dim_;
  auto [q, k, v] = ProjectQkv(x, cos, sin);  // q (N, H, 1, D); k, v (N, K, 1, D)

  kv.completion_k.select(2, step).copy_(k.squeeze(2));
  kv.completion_v.select(2, step).copy_(v.squeeze(2));
  auto completion_k = kv.completion_k.narrow(2, 0, step + 1);  // (N, K, s, D)
  auto completion_v = kv.completion_v.narrow(2, 0, step + 1);

  q = (q * scale_).view({n, kh, r, d});  // (N, K, R, D)

  // The prompt prefix is read once per group: the group's rows are stacked along the query
  // axis, (B, K, G_slots*R, D) x (B, K, D, P), instead of copying the prefix G times.
  const int64_t p = kv.prefix_k.size(2);
  auto q_slots = RowsToSlots(q, layout)                // (B*G_slots, K, R, D)
                     .view({b, slots, kh, r, d})
                     .permute({0, 2, 1, 3, 4})
                     .reshape({b, kh, slots * r, d});
  auto prefix_scores = BatchedMatmul(q_slots, kv.prefix_k.transpose(-1, -2))  // (B, K, S*R, P)
                           .masked_fill(layout.prefix_mask.logical_not().view({b, 1, 1, p}),
                                        -std::numeric_limits<float>::infinity())
                           .view({b, kh, slots, r, p})
                           .permute({0, 2, 1, 3, 4})
                           .reshape({b * slots, kh, r, p});
  prefix_scores = SlotsToRows(prefix_scores, layout);                           // (N, K, R, P)
  auto completion_scores = BatchedMatmul(q, completion_k.transpose(-1, -2));    // (N, K, R, s)

  auto probs = SoftmaxFloat32(torch::cat({prefix_scores, completion_scores}, -1),
                              q.scalar_type());
  auto prefix_probs = probs.narrow(-1, 0, p);
  auto completion_probs = probs.narrow(-1, p, step + 1);

  auto prefix_probs_slots = RowsToSlots(prefix_probs.contiguous(), layout)
                                .view({b, slots, kh, r, p})
                                .permute({0, 2, 1, 3, 4})
                                .reshape({b, kh, slots * r, p});
  auto prefix_out = BatchedMatmul(prefix_probs_slots, kv.prefix_v)  // (B, K, S*R, D)
                        .view({b, kh, slots, r, d})
                        .permute({0, 2, 1, 3, 4})
                        .reshape({b * slots, kh, r, d});
  auto out = SlotsToRows(prefix_out, layout) + BatchedMatmul(completion_probs, completion_v);
  return Linear(o_proj, out.reshape({n, 1, num_heads_ * d}));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& config) {
  input_layernorm = register_module("input_layernorm",
                                    RmsNorm(config.hidden_size, config.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(config));
  post_attention_layernorm = register_module(
      "post_attention_layernorm", RmsNorm(config.hidden_size, config.rms_norm_eps));
  mlp = register_module("mlp", Mlp(config));
}

torch::Tensor DecoderLayerImpl::Forward(const torch::Tensor& x, const torch::Tensor& cos,
                                        const torch::Tensor& sin, const torch::Tensor& allowed,
                                        LayerKv* kv_out) {
  auto h = x + self_attn->Forward(input_layernorm(x), cos, sin, allowed, kv_out);

  return h + mlp(post_attention_layernorm(h));
}

torch::Tensor DecoderLayerImpl::ForwardContinuations(const torch::Tensor& x,
                                                     const torch::Tensor& cos,
                                                     const torch::Tensor& sin,
                                                     const ContinuationLayout& layout) {
  auto h = x + self_attn->ForwardContinuations(input_layernorm(x), cos, sin, layout);

  return h + mlp(post_attention_layernorm(h));
}

torch::Tensor DecoderLayerImpl::DecodeStep(const torch::Tensor& x, const torch::Tensor& cos,
                                           const torch::Tensor& sin, LayerKv& kv,
                                           const DecodeLayout& layout, int64_t step) {
  auto h = x + self_attn->DecodeStep(input_layernorm(x), cos, sin, kv, layout, step);

  return h + mlp(post_attention_layernorm(h));
}

}  // namespace aha
