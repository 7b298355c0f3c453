#include "policy/transformer.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "policy/rope.h"
#include "tests/policy/test_models.h"

namespace aha {
namespace {

using testing::DropRows;
using testing::GroupLayout;
using testing::MakeRandomModel;
using testing::TinyQwen2Config;

// Plain reference attention: each query head h reads key/value head h / R, as transformers'
// repeat_kv lays them out. x (1, T, E) with causal masking only.
torch::Tensor ReferenceAttention(AttentionImpl& attn, const ModelConfig& c,
                                 const torch::Tensor& x) {
  const int64_t t = x.size(1), h = c.num_attention_heads, k = c.num_key_value_heads,
                d = c.head_dim;
  RopeTables rope(c);
  auto [cos, sin] = rope.Lookup(torch::arange(t).unsqueeze(0), torch::kFloat32);
  auto q = ApplyRotary(attn.q_proj(x).view({1, t, h, d}).transpose(1, 2), cos.unsqueeze(1),
                       sin.unsqueeze(1));
  auto key = ApplyRotary(attn.k_proj(x).view({1, t, k, d}).transpose(1, 2), cos.unsqueeze(1),
                         sin.unsqueeze(1));
  auto v = attn.v_proj(x).view({1, t, k, d}).transpose(1, 2);
  std::vector<torch::Tensor> heads;
  for (int64_t head = 0; head < h; ++head) {
    int64_t kv_head = head / (h / k);
    auto scores = torch::matmul(q.select(1, head), key.select(1, kv_head).transpose(-1, -2)) /
                  std::sqrt(static_cast<double>(d));
    auto causal = torch::ones({t, t}, torch::kBool).tril();
    scores = scores.masked_fill(causal.logical_not(), -INFINITY);
    heads.push_back(torch::matmul(scores.softmax(-1), v.select(1, kv_head)));
  }
  return attn.o_proj(torch::stack(heads, 1).transpose(1, 2).reshape({1, t, h * d}));
}

TEST(TransformerTest, GroupedQueryHeadsReadContiguousKvBlocks) {
  ModelConfig c = TinyQwen2Config();
  CausalLm model = MakeRandomModel(c, 1);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 7, c.hidden_size});
  auto& attn = *model->model->layer_list[0]->self_attn;
  RopeTables rope(c);
  auto [cos, sin] = rope.Lookup(torch::arange(7).unsqueeze(0), torch::kFloat32);
  auto allowed = BuildAttentionMask(torch::ones({1, 7}, torch::kBool));
  auto ours = attn.Forward(x, cos, sin, allowed, nullptr);
  auto reference = ReferenceAttention(attn, c, x);
  EXPECT_LT((ours - reference).abs().max().item<double>(), 1e-5);
}

TEST(TransformerTest, RopeMatchesFloat64AtLargePosition) {
  ModelConfig c = TinyQwen2Config();
  c.head_dim = 64;
  c.rope_theta = 1e6;
  RopeTables rope(c);
  auto [cos, sin] = rope.Lookup(torch::tensor({int64_t{15962}}), torch::kFloat32);
  for (int64_t i = 0; i < 32; ++i) {
    double inv_freq = 1.0 / std::pow(1e6, 2.0 * i / 64.0);
    double angle = 15962.0 * inv_freq;
    EXPECT_NEAR(cos[0][i].item<double>(), std::cos(angle), 1e-5) << "dim " << i;
    EXPECT_NEAR(sin[0][i].item<double>(), std::sin(angle), 1e-5) << "dim " << i;
    EXPECT_NEAR(cos[0][i + 32].item<double>(), std::cos(angle), 1e-5) << "dim " << i + 32;
  }
}

TEST(TransformerTest, Llama3ScalingKeepsHighFrequencies) {
  ModelConfig c = TinyQwen2Config();
  c.head_dim = 64;
  c.rope_theta = 500000.0;
  RopeScaling s;
  s.rope_type = "llama3";
  s.factor = 8.0;
  s.low_freq_factor = 1.0;
  s.high_freq_factor = 4.0;
  s.original_max_position_embeddings = 8192;
  auto plain = RopeInverseFrequencies(c);
  c.rope_scaling = s;
  auto scaled = RopeInverseFrequencies(c);
  // Wavelength 2*pi/inv_freq below 8192/4 is kept; above 8192 is divided by the factor.
  EXPECT_DOUBLE_EQ(scaled[0].item<double>(), plain[0].item<double>());
  EXPECT_NEAR(scaled[31].item<double>(), plain[31].item<double>() / 8.0, 1e-18);
}

TEST(TransformerTest, TiedModelHasNoLmHeadParameter) {
  ModelConfig c = TinyQwen2Config();
  CausalLm tied(c);
  EXPECT_EQ(tied->named_parameters().find("lm_head.weight"), nullptr);
  c.tie_word_embeddings = false;
  CausalLm untied(c);
  EXPECT_NE(untied->named_parameters().find("lm_head.weight"), nullptr);
  EXPECT_NE(untied->named_parameters().find("model.layers.1.self_attn.q_proj.bias"), nullptr);
  EXPECT_NE(untied->named_parameters().find("model.layers.0.mlp.gate_proj.weight"), nullptr);
  EXPECT_NE(untied->named_parameters().find("model.norm.weight"), nullptr);
}

TEST(TransformerTest, Qwen3HasPerHeadQkNorm) {
  ModelConfig c = TinyQwen2Config();
  c.qk_norm = true;
  c.attention_bias = false;
  CausalLm model(c);
  auto params = model->named_parameters();
  ASSERT_NE(params.find("model.layers.0.self_attn.q_norm.weight"), nullptr);
  EXPECT_EQ(params["model.layers.0.self_attn.k_norm.weight"].size(0), c.head_dim);
  EXPECT_EQ(params.find("model.layers.0.self_attn.q_proj.bias"), nullptr);
}

// Prefills left-padded prompts, then feeds each row's continuation one token at a time and
// compares every step's logits with one full forward over the whole sequence.
void ExpectDecodeMatchesFullForward(const ModelConfig& c, int64_t group_size,
                                    const std::vector<int64_t>& drop_rows_after_step0) {
  CausalLm model = MakeRandomModel(c, 7);
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> prompt_lengths = {5, 3};
  const int64_t b = 2, g = group_size, n = b * g, steps = 6;
  const int64_t p = 5;
  torch::manual_seed(3);
  auto prompt_tokens = torch::randint(1, c.vocab_size, {b, p});
  auto prompt_mask = torch::ones({b, p}, torch::kBool);
  prompt_mask[1].narrow(0, 0, 2).fill_(false);  // prompt 1 is left-padded by 2
  auto continuation = torch::randint(1, c.vocab_size, {n, steps});

  std::vector<LayerKv> kv;
  model->Hidden(prompt_tokens, PositionsFromMask(prompt_mask), BuildAttentionMask(prompt_mask),
                &kv);
  AllocateCompletionCaches(kv, n, steps);
  std::vector<int64_t> rows;
  DecodeLayout layout = GroupLayout(prompt_mask, b, g, rows);

  // Full forward of every row: (N, P + steps).
  auto full_ids = torch::cat({prompt_tokens.repeat_interleave(g, 0), continuation}, 1);
  auto full_mask = torch::cat(
      {prompt_mask.repeat_interleave(g, 0), torch::ones({n, steps}, torch::kBool)}, 1);
  auto full_logits = model->ForwardLogits(full_ids, full_mask);  // (N, P + steps, V)

  for (int64_t step = 0; step < steps; ++step) {
    if (step == 1 && !drop_rows_after_step0.empty()) {
      DropRows(drop_rows_after_step0, b, g, rows, layout, {&kv});
    }
    std::vector<int64_t> ids, positions;
    for (int64_t r : rows) {
      ids.push_back(continuation[r][step].item<int64_t>());
      positions.push_back(prompt_lengths[r / g] + step);
    }
    auto hidden = model->DecodeStep(torch::tensor(ids), torch::tensor(positions), kv, layout,
                                    step);
    auto logits = model->Logits(hidden);  // (rows, V)
    for (size_t i = 0; i < rows.size(); ++i) {
      auto expected = full_logits[rows[i]][p + step];
      double diff = (logits[i] - expected).abs().max().item<double>();
      EXPECT_LE(diff, 1e-4) << "row " << rows[i] << " step " << step;
    }
  }
}

TEST(TransformerTest, KvCacheDecodeMatchesFullForward) {
  ExpectDecodeMatchesFullForward(TinyQwen2Config(), 1, {});
}

TEST(TransformerTest, SharedPrefixDecodeMatchesFullForward) {
  ExpectDecodeMatchesFullForward(TinyQwen2Config(), 3, {});
}

TEST(TransformerTest, CompactedDecodeMatchesFullForward) {
  // Rows 1 and 2 of group 0 and row 3 of group 1 leave: groups keep 1 and 2 rows.
  ExpectDecodeMatchesFullForward(TinyQwen2Config(), 3, {1, 2, 3});
}

TEST(TransformerTest, Qwen3DecodeMatchesFullForward) {
  ModelConfig c = TinyQwen2Config();
  c.qk_norm = true;
  c.attention_bias = false;
  c.tie_word_embeddings = false;
  ExpectDecodeMatchesFullForward(c, 2, {});
}

TEST(TransformerTest, PackedSegmentsMatchSeparateRows) {
  ModelConfig c = TinyQwen2Config();
  CausalLm model = MakeRandomModel(c, 11);
  torch::NoGradGuard no_grad;
  auto a = torch::randint(1, c.vocab_size, {1, 4});
  auto b = torch::randint(1, c.vocab_size, {1, 5});
  auto alone_a = model->ForwardLogits(a, torch::ones({1, 4}, torch::kBool));
  auto alone_b = model->ForwardLogits(b, torch::ones({1, 5}, torch::kBool));

  auto packed = torch::cat({a, b}, 1);
  auto valid = torch::ones({1, 9}, torch::kBool);
  auto positions = torch::cat({torch::arange(4), torch::arange(5)}).unsqueeze(0);
  auto segments = torch::cat({torch::zeros({4}), torch::ones({5})}).unsqueeze(0);
  auto hidden = model->Hidden(packed, positions, BuildAttentionMask(valid, segments));
  auto logits = model->Logits(hidden);
  EXPECT_LT((logits.narrow(1, 0, 4) - alone_a).abs().max().item<double>(), 1e-5);
  EXPECT_LT((logits.narrow(1, 4, 5) - alone_b).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace aha
