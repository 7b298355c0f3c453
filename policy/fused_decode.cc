#include "policy/fused_decode.h"

#include <algorithm>
#include <array>
#include <deque>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "policy/autocast.h"
#include "policy/fused_rms_norm.h"
#include "policy/kernel_switch.h"
#include "policy/rope.h"
#include "policy/skinny_linear.h"
#include "policy/transformer.h"
#include "policy/vector_math.h"

#if defined(__x86_64__)
#include "policy/avx512_math.h"
#endif

namespace aha {
namespace {

std::atomic<int64_t> fused_steps{0};
std::atomic<int64_t> row_split_steps{0};

bool IsCpuContiguous(const torch::Tensor& t, torch::ScalarType dtype) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == dtype && t.is_contiguous();
}

// Attention of R query heads over one key/value head: the prompt's keys where `mask` is true,
// then `keys` completion keys. The keys and values are of the cache type T (float or
// bfloat16). q, out: (R, D); prompt_k/v: (P, D); completion_k/v: (keys, D); scores: scratch
// of R * (P + keys).
template <typename T>
struct HeadsTask {
  const float* q;
  int64_t r, d;
  const T* prompt_k;
  const T* prompt_v;
  const bool* mask;
  int64_t p;
  const T* completion_k;
  const T* completion_v;
  int64_t keys;
  float* scores;
  float* out;

  int64_t length() const { return p + keys; }
  bool readable(int64_t j) const { return j >= p || mask[j]; }
  const T* key(int64_t j) const {
    return j < p ? prompt_k + j * d : completion_k + (j - p) * d;
  }
  const T* value(int64_t j) const {
    return j < p ? prompt_v + j * d : completion_v + (j - p) * d;
  }
};

// A step splits its rows over the threads for models whose decoder layers' weights take at
// most this many bytes, and when every thread gets at least kRowSplitMinRows rows.
constexpr int64_t kRowSplitWeightBytes = int64_t{8} << 20;
constexpr int64_t kRowSplitMinRows = 4;

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

template <typename T>
void AttendHeadsPortable(const HeadsTask<T>& t) {
  const int64_t s = t.length(), d = t.d;
  for (int64_t head = 0; head < t.r; ++head) {
    const float* q = t.q + head * d;
    float* row = t.scores + head * s;
    float max_score = kMinusInfinity;
    for (int64_t j = 0; j < s; ++j) {
      float dot = 0;
      const T* key = t.key(j);
      for (int64_t i = 0; i < d; ++i) dot += q[i] * static_cast<float>(key[i]);
      row[j] = t.readable(j) ? dot : kMinusInfinity;
      max_score = std::max(max_score, row[j]);
    }
    // The row's own key is always readable, so the maximum is finite.
    const float total = ExpShiftedSum(row, max_score, row, s);
    float* o = t.out + head * d;
    std::fill(o, o + d, 0.0f);
    for (int64_t j = 0; j < s; ++j) {
      const float weight = row[j] / total;
      const T* value = t.value(j);
      for (int64_t i = 0; i < d; ++i) o[i] += weight * static_cast<float>(value[i]);
    }
  }
}

#if defined(__x86_64__)

// Sets scores[j] = q . keys[j] for j < count: q (D), keys (count, D), D = 16 * kChunks. The
// chunk count is a template argument so that the 16 sums stay in registers. Head sizes up to
// 128 (8 chunks) are instantiated.
template <int kChunks, typename T>
__attribute__((target("avx512f"))) void ScoreKeysAvx512(const float* q, const T* keys,
                                                         int64_t count, float* scores) {
  constexpr int64_t d = kChunks * 16;
  __m512 query[kChunks];
  for (int c = 0; c < kChunks; ++c) query[c] = _mm512_loadu_ps(q + c * 16);
  for (int64_t j = 0; j < count; j += 16) {
    const int64_t block = std::min<int64_t>(16, count - j);
    __m512 acc[16];
    for (int k = 0; k < 16; ++k) {
      // Keys past the end read the last key again, and their lanes are not stored.
      const T* key = keys + (j + std::min<int64_t>(k, block - 1)) * d;
      acc[k] = _mm512_mul_ps(query[0], Load16(key));
      for (int c = 1; c < kChunks; ++c) {
        acc[k] = _mm512_fmadd_ps(query[c], Load16(key + c * 16), acc[k]);
      }
    }
    _mm512_mask_storeu_ps(scores + j, FirstLanes(block), SumEach(acc));
  }
}

// AttendHeadsPortable for D = 16 * kChunks: scores 16 keys at a time, and the exponentials and
// the weighted sum of values in vectors.
template <int kChunks, typename T>
__attribute__((target("avx512f"))) void AttendHeadsAvx512(const HeadsTask<T>& t) {
  constexpr int64_t d = kChunks * 16;
  const int64_t s = t.length();
  for (int64_t head = 0; head < t.r; ++head) {
    float* row = t.scores + head * s;
    ScoreKeysAvx512<kChunks>(t.q + head * d, t.prompt_k, t.p, row);
    ScoreKeysAvx512<kChunks>(t.q + head * d, t.completion_k, t.keys, row + t.p);
    for (int64_t j = 0; j < t.p; ++j) {
      if (!t.mask[j]) row[j] = kMinusInfinity;
    }
    // The row's own key is always readable, so the maximum is finite.
    const float total = ExpShiftedSum(row, *std::max_element(row, row + s), row, s);
    const float inverse = 1.0f / total;
    __m512 acc[kChunks];
    for (int c = 0; c < kChunks; ++c) acc[c] = _mm512_setzero_ps();
    for (int64_t j = 0; j < s; ++j) {
      const __m512 weight = _mm512_set1_ps(row[j] * inverse);
      const T* value = t.value(j);
      for (int c = 0; c < kChunks; ++c) {
        acc[c] = _mm512_fmadd_ps(weight, Load16(value + c * 16), acc[c]);
      }
    }
    for (int c = 0; c < kChunks; ++c) _mm512_storeu_ps(t.out + head * d + c * 16, acc[c]);
  }
}

// Runs AttendHeadsAvx512 for head sizes 16, 32, ..., 128 and returns true. Returns false for
// other sizes.
template <typename T>
bool AttendHeadsAvx512(const HeadsTask<T>& t) {
  switch (t.d) {
    case 16: AttendHeadsAvx512<1>(t); return true;
    case 32: AttendHeadsAvx512<2>(t); return true;
    case 48: AttendHeadsAvx512<3>(t); return true;
    case 64: AttendHeadsAvx512<4>(t); return true;
    case 80: AttendHeadsAvx512<5>(t); return true;
    case 96: AttendHeadsAvx512<6>(t); return true;
    case 112: AttendHeadsAvx512<7>(t); return true;
    case 128: AttendHeadsAvx512<8>(t); return true;
    default: return false;
  }
}

#else

template <typename T>
bool AttendHeadsAvx512(const HeadsTask<T>&) { return false; }

#endif

template <typename T>
void AttendHeads(const HeadsTask<T>& task) {
  if (!CpuHasAvx512() || !AttendHeadsAvx512(task)) AttendHeadsPortable(task);
}

// One product for Project: y (N, Out) = x @ module's weight^T + bias, in float32.
struct Projection {
  const torch::nn::Linear* module;
  float* y;
};

// Writes the products of the float32 x (N, K) to their float32 outputs, for weights of type T.
// Rows that fit the AVX-512 loop run all products in one parallel region. Other rows take
// aha::Linear per module, in the weights' dtype, and are copied out.
template <typename T>
void Project(const float* x, int64_t n, int64_t k, std::initializer_list<Projection> projections) {
  constexpr torch::ScalarType kType = c10::CppTypeToScalarType<T>::value;
  if (!SkinnyLinearAvailable() || n > kMaxSkinnyRows) {
    const torch::Tensor x_in_weight_type =
        torch::from_blob(const_cast<float*>(x), {n, k}, torch::kFloat32).to(kType);
    for (const Projection& projection : projections) {
      const torch::Tensor y =
          Linear(*projection.module, x_in_weight_type).to(torch::kFloat32).contiguous();
      std::copy_n(y.data_ptr<float>(), y.numel(), projection.y);
    }
    return;
  }
  std::vector<SkinnyProductOf<T>> products;
  for (const Projection& projection : projections) {
    const torch::Tensor& weight = (*projection.module)->weight;
    const torch::Tensor& bias = (*projection.module)->bias;
    TORCH_CHECK(IsCpuContiguous(weight, kType) && (!bias.defined() || IsCpuContiguous(bias, kType)),
                "FusedDecodeStep: a projection's weight is not contiguous ", kType);
    products.push_back({weight.data_ptr<T>(), bias.defined() ? bias.data_ptr<T>() : nullptr,
                        weight.size(0), projection.y});
  }
  SkinnyLinearMany(x, n, k, absl::Span<const SkinnyProductOf<T>>(products));
}

struct AttentionDims {
  int64_t rows, heads, kv_heads, head_dim, prompt, capacity, keys;  // keys: this step's s
};

// Attention of each row's new query over its group's prompt keys (where `prompt_mask` is
// true) and its own completion keys 0..step, as AttentionImpl::DecodeStep computes it.
// q: (N, H, D), already scaled; out: (N, H, D). prefix_k/v: (B, K, P, D); completion_k/v:
// (N, K, C_max, D), of the cache type T; group_of_row: (N); prompt_mask: (B, P).
template <typename T>
void Attend(const float* q, const T* prefix_k, const T* prefix_v,
            const T* completion_k, const T* completion_v,
            const int64_t* group_of_row, const bool* prompt_mask, const AttentionDims& dims,
            float* out) {
  const int64_t d = dims.head_dim, p = dims.prompt, kh = dims.kv_heads;
  const int64_t r = dims.heads / kh;
  // Tasks of at least ~32K multiply-adds, so small steps stay on one thread.
  const int64_t task_work = std::max<int64_t>(1, r * (p + dims.keys) * d * 2);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / task_work);
  at::parallel_for(0, dims.rows * kh, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(r * (p + dims.keys));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t n = task / kh, head_kv = task % kh;
      const int64_t group = group_of_row[n];
      const int64_t prompt_offset = (group * kh + head_kv) * p * d;
      const int64_t completion_offset = (n * kh + head_kv) * dims.capacity * d;
      const int64_t q_offset = (n * dims.heads + head_kv * r) * d;
      AttendHeads(HeadsTask<T>{q + q_offset, r, d, prefix_k + prompt_offset,
                               prefix_v + prompt_offset, prompt_mask + group * p, p,
                               completion_k + completion_offset,
                               completion_v + completion_offset, dims.keys, scores.data(),
                               out + q_offset});
    }
  });
}

// What every row range of one decode step shares: the model, the step's inputs and the float32
// norm weights, converted once per step for bfloat16.
template <typename T>
struct StepContext {
  DecoderImpl* decoder;
  std::vector<LayerKv>* kv;
  int64_t step;
  int64_t e, h, kh, d, intermediate;
  float eps, scale;
  const int64_t* ids;           // (N)
  const float* cos;             // (N, D)
  const float* sin;             // (N, D)
  const bool* prompt_mask;      // (B, P)
  const int64_t* group_of_row;  // (N)
  // Per layer: input norm, post-attention norm, and the q and k norms (null when absent).
  std::vector<std::array<const float*, 4>> norms;
  const float* final_norm;
  T* hidden;  // (N, E), the step's output
};

// Runs the decoder on rows [row_begin, row_end) of the step. Rows are independent, so ranges
// may run on different threads. Inside a parallel region the products and attention run on
// the calling thread, because at::parallel_for does not nest.
template <typename T>
void DecodeRows(const StepContext<T>& c, int64_t row_begin, int64_t row_end) {
  const int64_t n = row_end - row_begin;
  const int64_t e = c.e, h = c.h, kh = c.kh, d = c.d;
  // The range's float32 activations, in plain buffers so that the step allocates no tensors.
  // x and mid are the residual stream before and after attention, (n, E) each. Then normed
  // (n, E), q (n, H * D), k and v (n, K * D), attended (n, H * D), gate and up (n, I).
  std::vector<float> x(n * e), mid(n * e), normed(n * e), q(n * h * d), k(n * kh * d),
      v(n * kh * d), attended(n * h * d), gate(n * c.intermediate), up(n * c.intermediate);
  std::vector<float> rotated(d);

  const torch::Tensor& table = c.decoder->embed_tokens->weight;  // (V, E)
  for (int64_t row = 0; row < n; ++row) {
    const int64_t id = c.ids[row_begin + row];
    TORCH_CHECK(id >= 0 && id < table.size(0), "FusedDecodeStep: token id ", id,
                " outside the embedding's ", table.size(0), " rows");
    std::copy_n(table.data_ptr<T>() + id * e, e, x.data() + row * e);
  }

  for (size_t layer_index = 0; layer_index < c.decoder->layer_list.size(); ++layer_index) {
    DecoderLayerImpl& layer = *c.decoder->layer_list[layer_index];
    AttentionImpl& attention = *layer.self_attn;
    LayerKv& cache = (*c.kv)[layer_index];
    const std::array<const float*, 4>& norm = c.norms[layer_index];
    const int64_t capacity = cache.completion_k.size(2);

    RmsNormRows(x.data(), norm[0], normed.data(), n, e, c.eps);
    Project<T>(normed.data(), n, e,
               {{&attention.q_proj, q.data()}, {&attention.k_proj, k.data()},
                {&attention.v_proj, v.data()}});
    if (norm[2] != nullptr) {
      RmsNormRows(q.data(), norm[2], q.data(), n * h, d, c.eps);
      RmsNormRows(k.data(), norm[3], k.data(), n * kh, d, c.eps);
    }
    // The range's rows of the completion caches, (n, K, C_max, D).
    T* cache_k = cache.completion_k.data_ptr<T>() + row_begin * kh * capacity * d;
    T* cache_v = cache.completion_v.data_ptr<T>() + row_begin * kh * capacity * d;
    for (int64_t row = 0; row < n; ++row) {
      const float* row_cos = c.cos + (row_begin + row) * d;
      const float* row_sin = c.sin + (row_begin + row) * d;
      for (int64_t head = 0; head < h; ++head) {
        float* query = q.data() + (row * h + head) * d;
        RotateVector(query, row_cos, row_sin, query, d);
      }
      for (int64_t i = 0; i < h * d; ++i) q[row * h * d + i] *= c.scale;
      for (int64_t head = 0; head < kh; ++head) {
        const int64_t slot = ((row * kh + head) * capacity + c.step) * d;
        RotateVector(k.data() + (row * kh + head) * d, row_cos, row_sin, rotated.data(), d);
        std::copy_n(rotated.data(), d, cache_k + slot);
        std::copy_n(v.data() + (row * kh + head) * d, d, cache_v + slot);
      }
    }
    const AttentionDims dims{n, h, kh, d, cache.prefix_k.size(2), capacity, c.step + 1};
    Attend<T>(q.data(), cache.prefix_k.data_ptr<T>(), cache.prefix_v.data_ptr<T>(), cache_k,
              cache_v, c.group_of_row + row_begin, c.prompt_mask, dims, attended.data());

    Project<T>(attended.data(), n, h * d, {{&attention.o_proj, mid.data()}});
    for (int64_t i = 0; i < n * e; ++i) mid[i] += x[i];

    RmsNormRows(mid.data(), norm[1], normed.data(), n, e, c.eps);
    Project<T>(normed.data(), n, e,
               {{&layer.mlp->gate_proj, gate.data()}, {&layer.mlp->up_proj, up.data()}});
    SiluTimes(gate.data(), up.data(), n * c.intermediate);
    Project<T>(gate.data(), n, c.intermediate, {{&layer.mlp->down_proj, x.data()}});
    for (int64_t i = 0; i < n * e; ++i) x[i] += mid[i];
  }
  RmsNormRows(x.data(), c.final_norm, normed.data(), n, e, c.eps);
  std::copy_n(normed.data(), n * e, c.hidden + row_begin * e);
}

// Returns the float32 values of a norm's weight: its own data, or a float32 copy of bfloat16
// values appended to `copies`, whose elements do not move.
template <typename T>
const float* FloatValues(const torch::Tensor& t, std::deque<std::vector<float>>& copies) {
  if constexpr (std::is_same_v<T, float>) {
    return t.data_ptr<float>();
  } else {
    const T* data = t.data_ptr<T>();
    copies.emplace_back(data, data + t.numel());
    return copies.back().data();
  }
}

// Returns whether a step of `rows` rows splits its rows over the threads, each thread running
// every product on its own rows, instead of splitting every product's weight rows. A row split
// opens one parallel region a step where the weight split opens five a layer, but each thread
// reads all the weights. So it is taken for models whose layers' projection weights, counted
// from the config, take at most kRowSplitWeightBytes, with kRowSplitMinRows to kMaxSkinnyRows
// rows a thread.
bool SplitsRows(const ModelConfig& config, int64_t element_size, int64_t rows) {
  static const bool switched_off = KernelSwitchedToTorch("AHA_DECODE_ROW_SPLIT");
  const int64_t threads = at::get_num_threads();
  const int64_t rows_per_thread = (rows + threads - 1) / threads;
  if (switched_off || threads < 2 || rows_per_thread < kRowSplitMinRows ||
      rows_per_thread > kMaxSkinnyRows) {
    return false;
  }
  const int64_t e = config.hidden_size, attention = config.num_attention_heads * config.head_dim;
  const int64_t kv = config.num_key_value_heads * config.head_dim;
  const int64_t layer_weights = 2 * e * attention + 2 * e * kv + 3 * e * config.intermediate_size;
  return config.num_hidden_layers * layer_weights * element_size <= kRowSplitWeightBytes;
}

// Runs FusedDecodeStep for weights and caches of type T. Activations stay float32 within the
// step, and a bfloat16 key or value is rounded once, when the cache stores it.
template <typename T>
torch::Tensor FusedDecodeStepOf(DecoderImpl& decoder, const ModelConfig& config,
                                const torch::Tensor& ids, const torch::Tensor& cos_in,
                                const torch::Tensor& sin_in, std::vector<LayerKv>& kv,
                                const DecodeLayout& layout, int64_t step) {
  const int64_t n = ids.size(0);
  TORCH_CHECK(kv.size() == decoder.layer_list.size(), "FusedDecodeStep: ", kv.size(),
              " caches for ", decoder.layer_list.size(), " layers");
  for (const LayerKv& cache : kv) {
    TORCH_CHECK(step < cache.completion_k.size(2), "FusedDecodeStep: step ", step,
                " beyond the cache's ", cache.completion_k.size(2), " tokens");
  }
  const torch::Tensor cos = cos_in.to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor sin = sin_in.to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor prompt_mask = layout.prefix_mask.to(torch::kBool).contiguous();
  const int64_t groups = prompt_mask.size(0);
  TORCH_CHECK(layout.group_slots > 0, "FusedDecodeStep: the layout has no group slots");
  std::vector<int64_t> group_of_row(n);
  if (layout.identity_slots) {
    for (int64_t i = 0; i < n; ++i) group_of_row[i] = i / layout.group_slots;
  } else {
    const torch::Tensor slots = layout.slot_index.to(torch::kCPU).contiguous();
    TORCH_CHECK(slots.numel() == n, "FusedDecodeStep: ", slots.numel(), " slots for ", n,
                " rows");
    const int64_t* slot = slots.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) group_of_row[i] = slot[i] / layout.group_slots;
  }
  for (int64_t group : group_of_row) {
    TORCH_CHECK(group >= 0 && group < groups, "FusedDecodeStep: a row maps to group ", group,
                " of ", groups);
  }
  const torch::Tensor ids_cpu = ids.to(torch::kCPU, torch::kInt64).contiguous();
  torch::Tensor hidden = torch::empty({n, config.hidden_size},
                                      decoder.embed_tokens->weight.options());  // (N, E)

  StepContext<T> context;
  context.decoder = &decoder;
  context.kv = &kv;
  context.step = step;
  context.e = config.hidden_size;
  context.h = config.num_attention_heads;
  context.kh = config.num_key_value_heads;
  context.d = config.head_dim;
  context.intermediate = config.intermediate_size;
  context.eps = static_cast<float>(config.rms_norm_eps);
  context.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.head_dim)));
  context.ids = ids_cpu.data_ptr<int64_t>();
  context.cos = cos.data_ptr<float>();
  context.sin = sin.data_ptr<float>();
  context.prompt_mask = prompt_mask.data_ptr<bool>();
  context.group_of_row = group_of_row.data();
  std::deque<std::vector<float>> norm_copies;
  for (const DecoderLayer& layer : decoder.layer_list) {
    const AttentionImpl& attention = *layer->self_attn;
    const bool qk_norm = !attention.q_norm.is_empty();
    context.norms.push_back(
        {FloatValues<T>(layer->input_layernorm->weight, norm_copies),
         FloatValues<T>(layer->post_attention_layernorm->weight, norm_copies),
         qk_norm ? FloatValues<T>(attention.q_norm->weight, norm_copies) : nullptr,
         qk_norm ? FloatValues<T>(attention.k_norm->weight, norm_copies) : nullptr});
  }
  context.final_norm = FloatValues<T>(decoder.norm->weight, norm_copies);
  context.hidden = hidden.data_ptr<T>();

  if (SkinnyLinearAvailable() && SplitsRows(config, sizeof(T), n)) {
    const int64_t threads = at::get_num_threads();
    const int64_t grain = std::max(kRowSplitMinRows, (n + threads - 1) / threads);
    at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
      DecodeRows(context, begin, end);
    });
    row_split_steps.fetch_add(1, std::memory_order_relaxed);
  } else {
    DecodeRows(context, 0, n);
  }
  fused_steps.fetch_add(1, std::memory_order_relaxed);
  return hidden;
}

}  // namespace

bool FusedDecodeApplies(const DecoderImpl& decoder, const std::vector<LayerKv>& kv) {
  static const bool switched_off = KernelSwitchedToTorch("AHA_FUSED_DECODE");
  if (switched_off || torch::GradMode::is_enabled() || CpuAutocastEnabled()) return false;
  const torch::ScalarType dtype = decoder.embed_tokens->weight.scalar_type();
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16) return false;
  // The tensors the step reads, listed by hand: decoder.parameters() builds a name for every
  // parameter, and cost 40 microseconds a step for the tiny model, about a tenth of the step.
  const auto fits = [&](const torch::Tensor& t) { return IsCpuContiguous(t, dtype); };
  const auto linear_fits = [&](const torch::nn::Linear& linear) {
    return fits(linear->weight) && (!linear->bias.defined() || fits(linear->bias));
  };
  if (!fits(decoder.embed_tokens->weight) || !fits(decoder.norm->weight)) return false;
  for (const DecoderLayer& layer : decoder.layer_list) {
    const AttentionImpl& attention = *layer->self_attn;
    const MlpImpl& mlp = *layer->mlp;
    if (!fits(layer->input_layernorm->weight) || !fits(layer->post_attention_layernorm->weight) ||
        !linear_fits(attention.q_proj) || !linear_fits(attention.k_proj) ||
        !linear_fits(attention.v_proj) || !linear_fits(attention.o_proj) ||
        !linear_fits(mlp.gate_proj) || !linear_fits(mlp.up_proj) ||
        !linear_fits(mlp.down_proj)) {
      return false;
    }
    if (!attention.q_norm.is_empty() &&
        (!fits(attention.q_norm->weight) || !fits(attention.k_norm->weight))) {
      return false;
    }
  }
  for (const LayerKv& layer : kv) {
    if (!IsCpuContiguous(layer.prefix_k, dtype) || !IsCpuContiguous(layer.prefix_v, dtype) ||
        !IsCpuContiguous(layer.completion_k, dtype) ||
        !IsCpuContiguous(layer.completion_v, dtype)) {
      return false;
    }
  }
  return true;
}

torch::Tensor FusedDecodeStep(DecoderImpl& decoder, const ModelConfig& config,
                              const torch::Tensor& ids, const torch::Tensor& cos,
                              const torch::Tensor& sin, std::vector<LayerKv>& kv,
                              const DecodeLayout& layout, int64_t step) {
  if (decoder.embed_tokens->weight.scalar_type() == torch::kBFloat16) {
    return FusedDecodeStepOf<c10::BFloat16>(decoder, config, ids, cos, sin, kv, layout, step);
  }
  return FusedDecodeStepOf<float>(decoder, config, ids, cos, sin, kv, layout, step);
}

int64_t FusedDecodeStepsSoFar() { return fused_steps.load(std::memory_order_relaxed); }

int64_t RowSplitDecodeStepsSoFar() { return row_split_steps.load(std::memory_order_relaxed); }

}  // namespace aha
