#include "policy/fused_decode.h"

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "policy/skinny_linear.h"
#include "policy/transformer.h"
#include "tests/policy/tensor_checks.h"
#include "tests/policy/test_models.h"

namespace aha {
namespace {

using testing::DropRows;
using testing::GroupLayout;
using testing::MakeRandomModel;
using testing::MaxRelativeError;
using testing::TinyQwen2Config;

std::vector<LayerKv> CloneCaches(const std::vector<LayerKv>& kv) {
  std::vector<LayerKv> copy;
  for (const LayerKv& layer : kv) {
    copy.push_back({layer.prefix_k.clone(), layer.prefix_v.clone(), layer.completion_k.clone(),
                    layer.completion_v.clone()});
  }
  return copy;
}

// B random prompts of P tokens, prompt 0 left-padded by 3, drawn after seeding with 4.
struct TestPrompts {
  torch::Tensor ids;        // (B, P)
  torch::Tensor mask;       // (B, P)
  torch::Tensor positions;  // (B, P)
};

TestPrompts RandomPrompts(const ModelConfig& c, int64_t b, int64_t p) {
  torch::manual_seed(4);
  TestPrompts prompts;
  prompts.ids = torch::randint(1, c.vocab_size, {b, p});
  prompts.mask = torch::ones({b, p}, torch::kBool);
  prompts.mask[0].narrow(0, 0, 3).fill_(false);
  prompts.positions = PositionsFromMask(prompts.mask);
  return prompts;
}

// The positions (rows.size()) of decode step `step` for `rows` of groups of `g`.
torch::Tensor StepPositions(const TestPrompts& prompts, const std::vector<int64_t>& rows,
                            int64_t g, int64_t step) {
  const int64_t p = prompts.positions.size(1);
  std::vector<int64_t> positions;
  for (int64_t r : rows) {
    positions.push_back(prompts.positions[r / g][p - 1].item<int64_t>() + 1 + step);
  }
  return torch::tensor(positions);
}

// Prefills B left-padded prompts, then decodes `steps` random tokens per row twice: with the
// op-by-op layers (autograd on, which FusedDecodeStep declines) and with the fused step
// (autograd off). After step 0, the rows in `drop` leave, as the sampler's compaction removes
// them. Every step's hidden states and the caches must agree.
void ExpectFusedMatchesLayers(const ModelConfig& c, int64_t b, int64_t g,
                              const std::vector<int64_t>& drop, int64_t p = 6,
                              int64_t steps = 5) {
  CausalLm model = MakeRandomModel(c, 3);
  const int64_t n = b * g;
  const TestPrompts prompts = RandomPrompts(c, b, p);

  std::vector<LayerKv> fused_kv;
  {
    torch::NoGradGuard no_grad;
    model->Hidden(prompts.ids, prompts.positions, BuildAttentionMask(prompts.mask), &fused_kv);
  }
  AllocateCompletionCaches(fused_kv, n, steps);
  std::vector<LayerKv> layers_kv = CloneCaches(fused_kv);
  {
    torch::NoGradGuard no_grad;
    if (!FusedDecodeApplies(*model->model, fused_kv)) {
      GTEST_SKIP() << "AHA_FUSED_DECODE=torch turns the fused step off";
    }
  }

  std::vector<int64_t> rows;
  DecodeLayout layout = GroupLayout(prompts.mask, b, g, rows);
  const int64_t fused_before = FusedDecodeStepsSoFar();
  for (int64_t step = 0; step < steps; ++step) {
    if (step == 1 && !drop.empty()) DropRows(drop, b, g, rows, layout, {&fused_kv, &layers_kv});
    const int64_t active = static_cast<int64_t>(rows.size());
    auto ids = torch::randint(1, c.vocab_size, {active});
    const torch::Tensor positions_t = StepPositions(prompts, rows, g, step);
    torch::Tensor want;
    {
      torch::AutoGradMode grad(true);
      ASSERT_FALSE(FusedDecodeApplies(*model->model, layers_kv));
      want = model->DecodeStep(ids, positions_t, layers_kv, layout, step).detach();
    }
    torch::NoGradGuard no_grad;
    auto got = model->DecodeStep(ids, positions_t, fused_kv, layout, step);
    SCOPED_TRACE("step " + std::to_string(step));
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT(MaxRelativeError(got, want), 2e-5);
    for (size_t i = 0; i < fused_kv.size(); ++i) {
      auto written = [&](const torch::Tensor& cache) { return cache.narrow(2, 0, step + 1); };
      EXPECT_LT(MaxRelativeError(written(fused_kv[i].completion_k),
                                 written(layers_kv[i].completion_k)),
                1e-5);
      EXPECT_LT(MaxRelativeError(written(fused_kv[i].completion_v),
                                 written(layers_kv[i].completion_v)),
                1e-5);
    }
  }
  EXPECT_EQ(FusedDecodeStepsSoFar() - fused_before, steps);
}

// Head sizes 8 and 24 take the portable attention loop, multiples of 16 up to 128 the AVX-512
// one where the CPU has it. `heads` query heads share `kv_heads` key/value heads.
ModelConfig WideHeadConfig(int64_t head_dim = 32, int64_t heads = 4, int64_t kv_heads = 2) {
  ModelConfig c = TinyQwen2Config();
  c.hidden_size = 48;
  c.head_dim = head_dim;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  return c;
}

TEST(FusedDecodeTest, Qwen2StepMatchesLayers) {
  ExpectFusedMatchesLayers(TinyQwen2Config(), 2, 3, {});
  for (int64_t head_dim : {24, 32, 64}) {
    SCOPED_TRACE("head_dim " + std::to_string(head_dim));
    ExpectFusedMatchesLayers(WideHeadConfig(head_dim), 2, 3, {});
  }
}

TEST(FusedDecodeTest, Qwen3StepMatchesLayers) {
  ModelConfig c = WideHeadConfig(128);
  c.qk_norm = true;
  c.attention_bias = false;
  c.tie_word_embeddings = false;
  ExpectFusedMatchesLayers(c, 2, 2, {});
}

// 21 prompt keys and 18 steps: full and partial blocks of 16 keys in both parts of the cache.
TEST(FusedDecodeTest, LongPromptsAndStepsMatchLayers) {
  ExpectFusedMatchesLayers(WideHeadConfig(32), 2, 2, {}, 21, 18);
  ExpectFusedMatchesLayers(TinyQwen2Config(), 2, 2, {}, 21, 18);
}

TEST(FusedDecodeTest, HeadGroupingsMatchLayers) {
  for (auto [heads, kv_heads] : {std::pair<int64_t, int64_t>{2, 2}, {6, 2}, {9, 1}}) {
    SCOPED_TRACE(std::to_string(heads) + " heads on " + std::to_string(kv_heads));
    ExpectFusedMatchesLayers(WideHeadConfig(32, heads, kv_heads), 2, 2, {}, 18, 4);
  }
}

TEST(FusedDecodeTest, CompactedRowsMatchLayers) {
  // Group 0 keeps row 0, group 1 keeps rows 4 and 5: uneven slots.
  ExpectFusedMatchesLayers(WideHeadConfig(), 2, 3, {1, 2, 3});
}

TEST(FusedDecodeTest, ManyRowsTakeTorchProductsAndMatchLayers) {
  // 3 x 30 = 90 rows, beyond the AVX-512 projection loop's 64.
  ExpectFusedMatchesLayers(WideHeadConfig(), 3, 30, {});
}

// A bfloat16 model decoded three ways from the same prompts and tokens: the fused step, the
// op-by-op layers in bfloat16, and, as the reference, the layers in float32 with the same
// (bfloat16-rounded) weights. The fused step keeps float32 activations and rounds only the
// cached keys and values, where the layers round every operation's output. So it must stay
// within bfloat16 noise of the reference, and in sum at least as close as the layers.
void ExpectBf16FusedNearFloat32(const ModelConfig& c, int64_t b, int64_t g,
                                const std::vector<int64_t>& drop, int64_t p, int64_t steps) {
  CausalLm bf16 = MakeRandomModel(c, 3);
  bf16->to(torch::kBFloat16);
  CausalLm reference = MakeRandomModel(c, 3);
  reference->to(torch::kBFloat16);
  reference->to(torch::kFloat32);
  const int64_t n = b * g;
  const TestPrompts prompts = RandomPrompts(c, b, p);
  std::vector<LayerKv> fused_kv, reference_kv;
  {
    torch::NoGradGuard no_grad;
    const auto mask = BuildAttentionMask(prompts.mask);
    bf16->Hidden(prompts.ids, prompts.positions, mask, &fused_kv);
    reference->Hidden(prompts.ids, prompts.positions, mask, &reference_kv);
  }
  AllocateCompletionCaches(fused_kv, n, steps);
  AllocateCompletionCaches(reference_kv, n, steps);
  std::vector<LayerKv> layers_kv = CloneCaches(fused_kv);
  {
    torch::NoGradGuard no_grad;
    if (!FusedDecodeApplies(*bf16->model, fused_kv)) {
      GTEST_SKIP() << "AHA_FUSED_DECODE=torch turns the fused step off";
    }
  }
  std::vector<int64_t> rows;
  DecodeLayout layout = GroupLayout(prompts.mask, b, g, rows);
  double fused_error_sum = 0, layers_error_sum = 0;
  for (int64_t step = 0; step < steps; ++step) {
    if (step == 1 && !drop.empty()) {
      DropRows(drop, b, g, rows, layout, {&fused_kv, &layers_kv, &reference_kv});
    }
    auto ids = torch::randint(1, c.vocab_size, {static_cast<int64_t>(rows.size())});
    const torch::Tensor positions_t = StepPositions(prompts, rows, g, step);
    torch::Tensor want, layers;
    {
      torch::AutoGradMode grad(true);
      want = reference->DecodeStep(ids, positions_t, reference_kv, layout, step).detach();
      layers = bf16->DecodeStep(ids, positions_t, layers_kv, layout, step).detach();
    }
    torch::NoGradGuard no_grad;
    auto got = bf16->DecodeStep(ids, positions_t, fused_kv, layout, step);
    SCOPED_TRACE("step " + std::to_string(step));
    ASSERT_EQ(got.scalar_type(), torch::kBFloat16);
    const double fused_error = MaxRelativeError(got.to(torch::kFloat32), want);
    fused_error_sum += fused_error;
    layers_error_sum += MaxRelativeError(layers.to(torch::kFloat32), want);
    EXPECT_LT(fused_error, 0.08);
    for (size_t i = 0; i < fused_kv.size(); ++i) {
      auto written = [&](const torch::Tensor& cache) {
        return cache.narrow(2, 0, step + 1).to(torch::kFloat32);
      };
      EXPECT_LT(MaxRelativeError(written(fused_kv[i].completion_k),
                                 written(reference_kv[i].completion_k)),
                0.08);
      EXPECT_LT(MaxRelativeError(written(fused_kv[i].completion_v),
                                 written(reference_kv[i].completion_v)),
                0.08);
    }
  }
  EXPECT_LE(fused_error_sum, layers_error_sum);
}

TEST(FusedDecodeTest, Bf16StepStaysNearFloat32) {
  ExpectBf16FusedNearFloat32(TinyQwen2Config(), 2, 3, {}, 6, 5);
  // The portable attention loop, and 21 prompt keys over 18 steps.
  ExpectBf16FusedNearFloat32(WideHeadConfig(24), 2, 2, {}, 21, 18);
  ExpectBf16FusedNearFloat32(WideHeadConfig(), 2, 3, {1, 2, 3}, 6, 5);
  // 90 rows: torch's products in bfloat16.
  ExpectBf16FusedNearFloat32(WideHeadConfig(), 3, 30, {}, 6, 5);
  ModelConfig qwen3 = WideHeadConfig(128);
  qwen3.qk_norm = true;
  qwen3.attention_bias = false;
  qwen3.tie_word_embeddings = false;
  ExpectBf16FusedNearFloat32(qwen3, 2, 2, {}, 6, 5);
}

// Decodes the same tokens twice from the same caches, with one thread and with two. Each
// output element is the same sum in the same order whichever thread computes it, so every
// step's hidden states and caches must be equal.
void ExpectRowSplitEqualsOneThread(torch::ScalarType dtype, const std::vector<int64_t>& drop) {
  const ModelConfig c = WideHeadConfig();
  const int64_t b = 2, g = 6, steps = 4;
  CausalLm model = MakeRandomModel(c, 3);
  model->to(dtype);
  const TestPrompts prompts = RandomPrompts(c, b, 6);

  torch::NoGradGuard no_grad;
  std::vector<LayerKv> split_kv;
  model->Hidden(prompts.ids, prompts.positions, BuildAttentionMask(prompts.mask), &split_kv);
  AllocateCompletionCaches(split_kv, b * g, steps);
  if (!FusedDecodeApplies(*model->model, split_kv)) {
    GTEST_SKIP() << "AHA_FUSED_DECODE=torch turns the fused step off";
  }
  std::vector<LayerKv> single_kv = CloneCaches(split_kv);

  std::vector<int64_t> rows;
  DecodeLayout layout = GroupLayout(prompts.mask, b, g, rows);
  const int64_t threads = at::get_num_threads();
  const int64_t split_before = RowSplitDecodeStepsSoFar();
  for (int64_t step = 0; step < steps; ++step) {
    if (step == 1 && !drop.empty()) DropRows(drop, b, g, rows, layout, {&split_kv, &single_kv});
    auto ids = torch::randint(1, c.vocab_size, {static_cast<int64_t>(rows.size())});
    const torch::Tensor positions = StepPositions(prompts, rows, g, step);
    at::set_num_threads(1);
    auto want = model->DecodeStep(ids, positions, single_kv, layout, step);
    at::set_num_threads(2);
    auto got = model->DecodeStep(ids, positions, split_kv, layout, step);
    at::set_num_threads(threads);

    SCOPED_TRACE("step " + std::to_string(step));
    EXPECT_TRUE(torch::equal(got, want));
    // Slots past the step are uninitialized and may hold NaN, which equals nothing.
    auto written = [&](const torch::Tensor& cache) { return cache.narrow(2, 0, step + 1); };
    for (size_t i = 0; i < split_kv.size(); ++i) {
      EXPECT_TRUE(torch::equal(written(split_kv[i].completion_k),
                               written(single_kv[i].completion_k)));
      EXPECT_TRUE(torch::equal(written(split_kv[i].completion_v),
                               written(single_kv[i].completion_v)));
    }
  }

  // 12 rows, or 9 after the drop, give each of two threads at least 4.
  const char* row_split = std::getenv("AHA_DECODE_ROW_SPLIT");
  const bool switched_off = row_split != nullptr && std::string(row_split) == "torch";
  const int64_t want_split = SkinnyLinearAvailable() && !switched_off ? steps : 0;
  EXPECT_EQ(RowSplitDecodeStepsSoFar() - split_before, want_split);
}

TEST(FusedDecodeTest, RowSplitEqualsOneThread) {
  ExpectRowSplitEqualsOneThread(torch::kFloat32, {});
  ExpectRowSplitEqualsOneThread(torch::kBFloat16, {});
}

TEST(FusedDecodeTest, RowSplitOfCompactedRowsEqualsOneThread) {
  // Group 0 keeps rows 0, 4 and 5, group 1 all six: uneven slots.
  ExpectRowSplitEqualsOneThread(torch::kFloat32, {1, 2, 3});
}

TEST(FusedDecodeTest, DeclinesAutogradAndMixedDtypes) {
  CausalLm model = MakeRandomModel(TinyQwen2Config(), 1);
  std::vector<LayerKv> kv;
  {
    torch::NoGradGuard no_grad;
    auto mask = torch::ones({1, 3}, torch::kBool);
    model->Hidden(torch::ones({1, 3}, torch::kInt64), PositionsFromMask(mask),
                  BuildAttentionMask(mask), &kv);
  }
  AllocateCompletionCaches(kv, 2, 4);
  {
    torch::NoGradGuard no_grad;
    if (!FusedDecodeApplies(*model->model, kv)) {
      GTEST_SKIP() << "AHA_FUSED_DECODE=torch turns the fused step off";
    }
  }
  EXPECT_FALSE(FusedDecodeApplies(*model->model, kv));  // autograd on
  torch::NoGradGuard no_grad;
  // A non-contiguous weight in any layer, such as a transposed view, is not read raw.
  torch::nn::Linear& down = model->model->layer_list.back()->mlp->down_proj;
  const torch::Tensor contiguous = down->weight.detach().clone();
  down->weight.set_data(contiguous.t().contiguous().t());
  EXPECT_FALSE(FusedDecodeApplies(*model->model, kv));
  down->weight.set_data(contiguous);
  EXPECT_TRUE(FusedDecodeApplies(*model->model, kv));
  model->to(torch::kBFloat16);
  EXPECT_FALSE(FusedDecodeApplies(*model->model, kv));  // bfloat16 weights, float32 caches
  model->to(torch::kFloat16);
  for (LayerKv& layer : kv) {
    for (torch::Tensor* t : {&layer.prefix_k, &layer.prefix_v, &layer.completion_k,
                             &layer.completion_v}) {
      *t = t->to(torch::kFloat16);
    }
  }
  EXPECT_FALSE(FusedDecodeApplies(*model->model, kv));  // float16 is not taken
}

TEST(FusedDecodeTest, TokenOutsideTheVocabularyIsAnError) {
  const ModelConfig c = TinyQwen2Config();
  CausalLm model = MakeRandomModel(c, 1);
  torch::NoGradGuard no_grad;
  const TestPrompts prompts = RandomPrompts(c, 1, 4);
  std::vector<LayerKv> kv;
  model->Hidden(prompts.ids, prompts.positions, BuildAttentionMask(prompts.mask), &kv);
  AllocateCompletionCaches(kv, 2, 3);
  if (!FusedDecodeApplies(*model->model, kv)) {
    GTEST_SKIP() << "AHA_FUSED_DECODE=torch turns the fused step off";
  }
  std::vector<int64_t> rows;
  DecodeLayout layout = GroupLayout(prompts.mask, 1, 2, rows);
  const torch::Tensor positions = StepPositions(prompts, rows, 2, 0);
  for (int64_t id : {c.vocab_size, int64_t{-1}}) {
    try {
      model->DecodeStep(torch::tensor({int64_t{1}, id}), positions, kv, layout, 0);
      ADD_FAILURE() << "token " << id << " was decoded";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find("outside the embedding"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace aha
