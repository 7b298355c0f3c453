#include "policy/fused_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "policy/autocast.h"
#include "policy/batched_matmul.h"
#include "policy/graph_gradients.h"
#include "policy/kernel_switch.h"
#include "policy/vector_math.h"

namespace aha {
namespace {

std::atomic<int64_t> fused_calls{0};

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

float* Data(const torch::Tensor& t) { return t.data_ptr<float>(); }

// The sizes of one call and the float32 buffers of one (row, key/value head) block.
struct Dims {
  int64_t n, h, k, r, t, d, p;
  int64_t s() const { return p + t; }
  int64_t block_rows() const { return r * t; }  // R * T query rows per block
};

// Pointers to the block of row `n` and key/value head `head` in contiguous inputs.
struct Block {
  const float* q;            // (R * T, D): the R query heads of this key/value head
  const float* prompt_keys;  // (P, D)
  const float* prompt_values;
  const float* row_keys;  // (T, D)
  const float* row_values;
  const bool* allowed;  // (T, S)
};

Block BlockAt(const Dims& dims, const torch::Tensor& q, const AttentionKeys& keys,
              const int64_t* prompt_of_row, const bool* allowed, int64_t n, int64_t head) {
  const int64_t prompt = dims.p > 0 ? prompt_of_row[n] : 0;
  const int64_t prompt_offset = (prompt * dims.k + head) * dims.p * dims.d;
  const int64_t row_offset = (n * dims.k + head) * dims.t * dims.d;
  return {Data(q) + (n * dims.h + head * dims.r) * dims.t * dims.d,
          Data(keys.prompt_keys) + prompt_offset,
          Data(keys.prompt_values) + prompt_offset,
          Data(keys.row_keys) + row_offset,
          Data(keys.row_values) + row_offset,
          allowed + n * dims.t * dims.s()};
}

// Sets scores (R * T, S) = q_block @ [prompt_keys; row_keys]^T, unscaled.
void ScoreBlock(const Dims& dims, const Block& block, float* scores) {
  const int64_t m = dims.block_rows(), s = dims.s();
  RowMajorSgemm(false, true, m, dims.p, dims.d, block.q, dims.d, block.prompt_keys, dims.d, 0.0f,
                scores, s);
  RowMajorSgemm(false, true, m, dims.t, dims.d, block.q, dims.d, block.row_keys, dims.d, 0.0f,
                scores + dims.p, s);
}

// Sets out (R * T, D) = weights (R * T, S) @ [prompt_values; row_values].
void WeighValues(const Dims& dims, const Block& block, const float* weights, float* out) {
  const int64_t m = dims.block_rows(), s = dims.s();
  RowMajorSgemm(false, false, m, dims.d, dims.p, weights, s, block.prompt_values, dims.d, 0.0f,
                out, dims.d);
  RowMajorSgemm(false, false, m, dims.d, dims.t, weights + dims.p, s, block.row_values, dims.d,
                1.0f, out, dims.d);
}

// Turns raw scores into probabilities in place: scale, mask, softmax. Without `saved`, each
// query row's log sum of exp(scaled scores) is written to `log_sum_exp`. With `saved`, the
// sums are read from it instead, and the probabilities are exp(x - saved).
void Normalize(const Dims& dims, const Block& block, float scale, float* scores,
               float* log_sum_exp, const float* saved) {
  const int64_t s = dims.s();
  for (int64_t i = 0; i < dims.block_rows(); ++i) {
    float* row = scores + i * s;
    const bool* allowed = block.allowed + (i % dims.t) * s;
    const float max_score = ScaleMaskMax(row, allowed, scale, s);
    if (saved != nullptr) {
      ExpShiftedSum(row, saved[i], row, s);
      continue;
    }
    if (max_score == kMinusInfinity) {
      // No readable key, or only NaN scores: NaN, as the op-by-op softmax gives, so that the
      // trainer's loss check reports it.
      std::fill(row, row + s, std::numeric_limits<float>::quiet_NaN());
      log_sum_exp[i] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const float total = ExpShiftedSum(row, max_score, row, s);
    const float inverse = 1.0f / total;
    for (int64_t j = 0; j < s; ++j) row[j] *= inverse;
    log_sum_exp[i] = max_score + std::log(total);
  }
}

struct Contiguous {
  torch::Tensor q;
  AttentionKeys keys;
  torch::Tensor allowed;
};

Contiguous MakeContiguous(const torch::Tensor& q, const AttentionKeys& keys,
                          const torch::Tensor& allowed) {
  return {q.contiguous(),
          {keys.prompt_keys.contiguous(), keys.prompt_values.contiguous(),
           keys.row_keys.contiguous(), keys.row_values.contiguous(),
           keys.prompt_of_row.to(torch::kInt64).contiguous()},
          allowed.to(torch::kBool).contiguous()};
}

// Returns the sizes of a call, after checking that the inputs agree with each other, because
// the blockwise loops read raw memory where the op-by-op version would raise.
Dims DimsOf(const torch::Tensor& q, const AttentionKeys& keys, const torch::Tensor& allowed) {
  TORCH_CHECK(q.dim() == 4 && keys.row_keys.dim() == 4 && keys.prompt_keys.dim() == 4,
              "Attention: q, row keys and prompt keys must be 4-D");
  const int64_t n = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3);
  const int64_t k = keys.row_keys.size(1), b = keys.prompt_keys.size(0);
  const int64_t p = keys.prompt_keys.size(2);
  TORCH_CHECK(k > 0 && h % k == 0, "Attention: ", h, " query heads on ", k, " key/value heads");
  for (const torch::Tensor& rows : {keys.row_keys, keys.row_values}) {
    TORCH_CHECK(rows.sizes() == torch::IntArrayRef({n, k, t, d}), "Attention: row keys or values ",
                rows.sizes(), " do not match q ", q.sizes());
  }
  TORCH_CHECK(keys.prompt_values.sizes() == keys.prompt_keys.sizes() &&
                  keys.prompt_keys.size(1) == k && keys.prompt_keys.size(3) == d,
              "Attention: prompt keys ", keys.prompt_keys.sizes(), " and values ",
              keys.prompt_values.sizes(), " do not match q ", q.sizes());
  TORCH_CHECK(allowed.numel() == n * t * (p + t), "Attention: the mask has ", allowed.numel(),
              " entries for ", n, " rows of ", t, " queries and ", p + t, " keys");
  if (p > 0) {
    TORCH_CHECK(b > 0 && keys.prompt_of_row.numel() == n, "Attention: prompt_of_row has ",
                keys.prompt_of_row.numel(), " entries for ", n, " rows");
    const int64_t* prompt = keys.prompt_of_row.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      TORCH_CHECK(prompt[i] >= 0 && prompt[i] < b, "Attention: row ", i, " reads prompt ",
                  prompt[i], " of ", b);
    }
  }
  return {n, h, k, h / k, t, d, p};
}

// The largest per-thread scratch kept between calls: 32 MiB.
constexpr int64_t kMaxKeptScratchFloats = int64_t{8} << 20;

// Runs body(n, head, scratch) for every block, split over LibTorch's threads. Each thread's
// scratch has room for `floats` floats. Up to kMaxKeptScratchFloats it is kept between calls,
// because a fresh buffer of megabytes would be new pages that the kernel zeroes on every call.
template <typename Body>
void ForEachBlock(const Dims& dims, int64_t floats, const Body& body) {
  at::parallel_for(0, dims.n * dims.k, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scratch;
    if (static_cast<int64_t>(scratch.size()) < floats) scratch.resize(floats);
    for (int64_t task = begin; task < end; ++task) {
      body(task / dims.k, task % dims.k, scratch.data());
    }
    if (static_cast<int64_t>(scratch.size()) > kMaxKeptScratchFloats) {
      std::vector<float>().swap(scratch);
    }
  });
}

class FusedAttentionFunction : public torch::autograd::Function<FusedAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& prompt_keys, const torch::Tensor& prompt_values,
                               const torch::Tensor& row_keys, const torch::Tensor& row_values,
                               const torch::Tensor& prompt_of_row, const torch::Tensor& allowed_in,
                               double scale) {
    const Contiguous in = MakeContiguous(
        q_in, {prompt_keys, prompt_values, row_keys, row_values, prompt_of_row}, allowed_in);
    const Dims dims = DimsOf(in.q, in.keys, in.allowed);
    auto out = torch::empty_like(in.q);                                    // (N, H, T, D)
    auto log_sum_exp = torch::empty({dims.n, dims.h, dims.t}, in.q.options());  // (N, H, T)
    const int64_t* prompt_of = in.keys.prompt_of_row.data_ptr<int64_t>();
    const bool* allowed = in.allowed.data_ptr<bool>();
    ForEachBlock(dims, dims.block_rows() * dims.s(), [&](int64_t n, int64_t head, float* scores) {
      const Block block = BlockAt(dims, in.q, in.keys, prompt_of, allowed, n, head);
      const int64_t first_row = (n * dims.h + head * dims.r) * dims.t;
      ScoreBlock(dims, block, scores);
      Normalize(dims, block, static_cast<float>(scale), scores, Data(log_sum_exp) + first_row,
                nullptr);
      WeighValues(dims, block, scores, Data(out) + first_row * dims.d);
    });
    ctx->save_for_backward({q_in, prompt_keys, prompt_values, row_keys, row_values,
                            prompt_of_row, allowed_in, out, log_sum_exp});
    ctx->saved_data["scale"] = scale;
    fused_calls.fetch_add(1, std::memory_order_relaxed);
    return out;
  }

  // With P = softmax(scale * S) and dO the output gradient, per block:
  //   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)) * scale,
  //   dQ = dS K,    dK = dS^T Q.
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const double scale = ctx->saved_data["scale"].toDouble();
    const AttentionKeys keys_in{saved[1], saved[2], saved[3], saved[4], saved[5]};
    if (torch::GradMode::is_enabled()) {
      // create_graph: the op-by-op version's gradients, which carry a graph of their own.
      return GradientsWithGraph(
          ctx, {saved[0], saved[1], saved[2], saved[3], saved[4]}, grads[0], 8, [&] {
            return GroupedAttentionByOps(saved[0], keys_in, saved[6], scale);
          });
    }

    const Contiguous in = MakeContiguous(saved[0], keys_in, saved[6]);
    const torch::Tensor out = saved[7].contiguous();
    const torch::Tensor log_sum_exp = saved[8].contiguous();
    const torch::Tensor grad_out = grads[0].contiguous();
    const Dims dims = DimsOf(in.q, in.keys, in.allowed);
    auto grad_q = torch::empty_like(in.q);
    auto grad_row_keys = torch::empty_like(in.keys.row_keys);
    auto grad_row_values = torch::empty_like(in.keys.row_values);
    // Each row's share of its prompt's gradients, (N, K, P, D), summed per prompt afterwards.
    auto grad_prompt_keys_of_row =
        torch::empty({dims.n, dims.k, dims.p, dims.d}, in.q.options());
    auto grad_prompt_values_of_row = torch::empty_like(grad_prompt_keys_of_row);
    const int64_t* prompt_of = in.keys.prompt_of_row.data_ptr<int64_t>();
    const bool* allowed = in.allowed.data_ptr<bool>();
    const int64_t m = dims.block_rows(), s = dims.s(), d = dims.d;
    ForEachBlock(dims, 2 * m * s + m, [&](int64_t n, int64_t head, float* scratch) {
      const Block block = BlockAt(dims, in.q, in.keys, prompt_of, allowed, n, head);
      const int64_t first_row = (n * dims.h + head * dims.r) * dims.t;
      float* probs = scratch;                // (R * T, S)
      float* grad_scores = scratch + m * s;  // (R * T, S)
      float* row_dot = scratch + 2 * m * s;  // (R * T)
      const float* go = Data(grad_out) + first_row * d;
      const float* o = Data(out) + first_row * d;
      ScoreBlock(dims, block, probs);
      Normalize(dims, block, static_cast<float>(scale), probs, nullptr,
                Data(log_sum_exp) + first_row);

      const int64_t kv_offset = (n * dims.k + head);
      float* grad_pv = Data(grad_prompt_values_of_row) + kv_offset * dims.p * d;
      float* grad_rv = Data(grad_row_values) + kv_offset * dims.t * d;
      RowMajorSgemm(true, false, dims.p, d, m, probs, s, go, d, 0.0f, grad_pv, d);
      RowMajorSgemm(true, false, dims.t, d, m, probs + dims.p, s, go, d, 0.0f, grad_rv, d);

      RowMajorSgemm(false, true, m, dims.p, d, go, d, block.prompt_values, d, 0.0f, grad_scores,
                    s);
      RowMajorSgemm(false, true, m, dims.t, d, go, d, block.row_values, d, 0.0f,
                    grad_scores + dims.p, s);
      for (int64_t i = 0; i < m; ++i) {
        float dot = 0;
        for (int64_t e = 0; e < d; ++e) dot += go[i * d + e] * o[i * d + e];
        row_dot[i] = dot;
      }
      const float scale_f = static_cast<float>(scale);
      for (int64_t i = 0; i < m; ++i) {
        float* g = grad_scores + i * s;
        const float* p = probs + i * s;
        for (int64_t j = 0; j < s; ++j) g[j] = p[j] * (g[j] - row_dot[i]) * scale_f;
      }

      float* gq = Data(grad_q) + first_row * d;
      RowMajorSgemm(false, false, m, d, dims.p, grad_scores, s, block.prompt_keys, d, 0.0f, gq, d);
      RowMajorSgemm(false, false, m, d, dims.t, grad_scores + dims.p, s, block.row_keys, d, 1.0f,
                    gq, d);
      float* grad_pk = Data(grad_prompt_keys_of_row) + kv_offset * dims.p * d;
      float* grad_rk = Data(grad_row_keys) + kv_offset * dims.t * d;
      RowMajorSgemm(true, false, dims.p, d, m, grad_scores, s, block.q, d, 0.0f, grad_pk, d);
      RowMajorSgemm(true, false, dims.t, d, m, grad_scores + dims.p, s, block.q, d, 0.0f, grad_rk,
                    d);
    });

    torch::Tensor grad_prompt_keys, grad_prompt_values;
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      grad_prompt_keys = torch::zeros_like(in.keys.prompt_keys)
                             .index_add_(0, in.keys.prompt_of_row, grad_prompt_keys_of_row);
      grad_prompt_values = torch::zeros_like(in.keys.prompt_values)
                               .index_add_(0, in.keys.prompt_of_row, grad_prompt_values_of_row);
    }
    return {grad_q,          grad_prompt_keys, grad_prompt_values, grad_row_keys,
            grad_row_values, torch::Tensor(),  torch::Tensor(),    torch::Tensor()};
  }
};

}  // namespace

bool FusedAttentionApplies(const torch::Tensor& q) {
  static const bool switched_off = KernelSwitchedToTorch("AHA_FUSED_ATTENTION");
  return !switched_off && q.device().is_cpu() &&
         (q.scalar_type() == torch::kFloat32 || q.scalar_type() == torch::kBFloat16) &&
         !CpuAutocastEnabled() && RowMajorSgemmAvailable();
}

int64_t FusedAttentionCallsSoFar() { return fused_calls.load(std::memory_order_relaxed); }

torch::Tensor GroupedAttentionByOps(const torch::Tensor& q, const AttentionKeys& keys,
                                    const torch::Tensor& allowed, double scale) {
  const int64_t n = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3);
  const int64_t kv_heads = keys.row_keys.size(1);
  const int64_t r = h / kv_heads;
  torch::Tensor k = keys.row_keys, v = keys.row_values;
  if (keys.prompt_keys.size(0) > 0 && keys.prompt_keys.size(2) > 0) {
    // Each row reads its own copy of its prompt's keys: (N, K, P + T, D). index_select's
    // backward sums the rows' gradients.
    k = torch::cat({keys.prompt_keys.index_select(0, keys.prompt_of_row), k}, 2);
    v = torch::cat({keys.prompt_values.index_select(0, keys.prompt_of_row), v}, 2);
  }
  const int64_t s = k.size(2);
  // Query heads that share a key/value head are stacked along the query axis, so one matmul
  // per key/value head covers them without copying keys: (N, K, R*T, D) x (N, K, D, S).
  auto q_grouped = (q * scale).contiguous().view({n, kv_heads, r * t, d});
  auto scores = BatchedMatmul(q_grouped, k.transpose(-1, -2)).view({n, kv_heads, r, t, s});
  scores = scores.masked_fill(allowed.logical_not().unsqueeze(2), kMinusInfinity);
  // Softmax in float32, as transformers' eager attention does, so that bf16 models keep their
  // attention weights normalized.
  auto probs = torch::softmax(scores, -1, torch::kFloat32)
                   .to(q.scalar_type())
                   .view({n, kv_heads, r * t, s});
  return BatchedMatmul(probs, v).view({n, h, t, d});
}

torch::Tensor GroupedAttention(const torch::Tensor& q, const AttentionKeys& keys,
                               const torch::Tensor& allowed, double scale) {
  if (!FusedAttentionApplies(q)) return GroupedAttentionByOps(q, keys, allowed, scale);
  // bfloat16 runs the float32 loops on float32 copies, and the copies' backward passes round
  // the gradients back to bfloat16. For float32 the conversions return the tensors themselves.
  auto wide = [](const torch::Tensor& t) { return t.to(torch::kFloat32); };
  return FusedAttentionFunction::apply(wide(q), wide(keys.prompt_keys),
                                       wide(keys.prompt_values), wide(keys.row_keys),
                                       wide(keys.row_values), keys.prompt_of_row, allowed, scale)
      .to(q.scalar_type());
}

}  // namespace aha
