#include "policy/fused_decode.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

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

float* Data(const torch::Tensor& t) { return t.data_ptr<float>(); }

// Returns `t` as float32: itself, or a float32 copy of bfloat16 norm weights.
torch::Tensor AsFloat(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat32 ? t : t.to(torch::kFloat32);
}

// Returns the modules' products of the float32 x (N, In), one new float32 (N, Out_i) tensor
// each, for weights of type T. Rows that fit the AVX-512 loop run all products in one parallel
// region. Other rows take aha::Linear per module, in the weights' dtype.
template <typename T>
std::vector<torch::Tensor> Project(const torch::Tensor& x,
                                   std::initializer_list<const torch::nn::Linear*> modules) {
  constexpr torch::ScalarType kType = c10::CppTypeToScalarType<T>::value;
  const int64_t n = x.size(0), k = x.size(1);
  std::vector<torch::Tensor> outputs;
  if (!SkinnyLinearAvailable() || n > kMaxSkinnyRows) {
    const torch::Tensor x_in_weight_type = x.to(kType);
    for (const torch::nn::Linear* module : modules) {
      outputs.push_back(Linear(*module, x_in_weight_type).to(torch::kFloat32).contiguous());
    }
    return outputs;
  }
  std::vector<SkinnyProductOf<T>> products;
  for (const torch::nn::Linear* module : modules) {
    const torch::Tensor& weight = (*module)->weight;
    const torch::Tensor& bias = (*module)->bias;
    TORCH_CHECK(IsCpuContiguous(weight, kType) && (!bias.defined() || IsCpuContiguous(bias, kType)),
                "FusedDecodeStep: a projection's weight is not contiguous ", kType);
    outputs.push_back(torch::empty({n, weight.size(0)}, x.options()));
    products.push_back({weight.data_ptr<T>(), bias.defined() ? bias.data_ptr<T>() : nullptr,
                        weight.size(0), Data(outputs.back())});
  }
  SkinnyLinearMany(Data(x), n, k, absl::Span<const SkinnyProductOf<T>>(products));
  return outputs;
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
            const std::vector<int64_t>& group_of_row, const bool* prompt_mask,
            const AttentionDims& dims, float* out) {
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

// Runs FusedDecodeStep for weights and caches of type T. Activations stay float32 within the
// step, and a bfloat16 key or value is rounded once, when the cache stores it.
template <typename T>
torch::Tensor FusedDecodeStepOf(DecoderImpl& decoder, const ModelConfig& config,
                                const torch::Tensor& ids, const torch::Tensor& cos_in,
                                const torch::Tensor& sin_in, std::vector<LayerKv>& kv,
                                const DecodeLayout& layout, int64_t step) {
  const int64_t n = ids.size(0), e = config.hidden_size;
  const int64_t h = config.num_attention_heads, kh = config.num_key_value_heads;
  const int64_t d = config.head_dim;
  const float eps = static_cast<float>(config.rms_norm_eps);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  TORCH_CHECK(kv.size() == decoder.layer_list.size(), "FusedDecodeStep: ", kv.size(),
              " caches for ", decoder.layer_list.size(), " layers");
  const torch::Tensor cos = cos_in.to(torch::kFloat32).contiguous();
  const torch::Tensor sin = sin_in.to(torch::kFloat32).contiguous();
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

  // (N, E) float32
  torch::Tensor x =
      decoder.embed_tokens->weight.index_select(0, ids).to(torch::kFloat32).contiguous();
  torch::Tensor normed = torch::empty({n, e}, x.options());
  torch::Tensor attended = torch::empty({n, h * d}, x.options());
  std::vector<float> rotated(d);
  for (size_t layer_index = 0; layer_index < decoder.layer_list.size(); ++layer_index) {
    DecoderLayerImpl& layer = *decoder.layer_list[layer_index];
    AttentionImpl& attention = *layer.self_attn;
    LayerKv& cache = kv[layer_index];
    const int64_t capacity = cache.completion_k.size(2);
    TORCH_CHECK(step < capacity, "FusedDecodeStep: step ", step, " beyond the cache's ",
                capacity, " tokens");

    RmsNormRows(Data(x), Data(AsFloat(layer.input_layernorm->weight)), Data(normed), n, e, eps);
    auto qkv = Project<T>(normed, {&attention.q_proj, &attention.k_proj, &attention.v_proj});
    const torch::Tensor& q = qkv[0];  // (N, H * D)
    const torch::Tensor& k = qkv[1];  // (N, K * D)
    const torch::Tensor& v = qkv[2];
    if (!attention.q_norm.is_empty()) {
      RmsNormRows(Data(q), Data(AsFloat(attention.q_norm->weight)), Data(q), n * h, d, eps);
      RmsNormRows(Data(k), Data(AsFloat(attention.k_norm->weight)), Data(k), n * kh, d, eps);
    }
    float* q_data = Data(q);
    const float* k_data = Data(k);
    const float* v_data = Data(v);
    T* cache_k = cache.completion_k.data_ptr<T>();
    T* cache_v = cache.completion_v.data_ptr<T>();
    for (int64_t row = 0; row < n; ++row) {
      const float* row_cos = Data(cos) + row * d;
      const float* row_sin = Data(sin) + row * d;
      for (int64_t head = 0; head < h; ++head) {
        float* query = q_data + (row * h + head) * d;
        RotateVector(query, row_cos, row_sin, query, d);
      }
      for (int64_t i = 0; i < h * d; ++i) q_data[row * h * d + i] *= scale;
      for (int64_t head = 0; head < kh; ++head) {
        const int64_t slot = ((row * kh + head) * capacity + step) * d;
        RotateVector(k_data + (row * kh + head) * d, row_cos, row_sin, rotated.data(), d);
        std::copy_n(rotated.data(), d, cache_k + slot);
        std::copy_n(v_data + (row * kh + head) * d, d, cache_v + slot);
      }
    }
    const AttentionDims dims{n, h, kh, d, cache.prefix_k.size(2), capacity, step + 1};
    Attend<T>(q_data, cache.prefix_k.data_ptr<T>(), cache.prefix_v.data_ptr<T>(), cache_k,
              cache_v, group_of_row, prompt_mask.data_ptr<bool>(), dims, Data(attended));

    torch::Tensor residual = Project<T>(attended, {&attention.o_proj})[0];  // (N, E)
    float* mid = Data(residual);
    const float* in = Data(x);
    for (int64_t i = 0; i < n * e; ++i) mid[i] += in[i];

    RmsNormRows(mid, Data(AsFloat(layer.post_attention_layernorm->weight)), Data(normed), n, e,
                eps);
    auto gate_up = Project<T>(normed, {&layer.mlp->gate_proj, &layer.mlp->up_proj});  // (N, I)
    SiluTimes(Data(gate_up[0]), Data(gate_up[1]), gate_up[0].numel());
    x = Project<T>(gate_up[0], {&layer.mlp->down_proj})[0];  // (N, E)
    float* out = Data(x);
    for (int64_t i = 0; i < n * e; ++i) out[i] += mid[i];
  }
  torch::Tensor hidden = torch::empty({n, e}, x.options());
  RmsNormRows(Data(x), Data(AsFloat(decoder.norm->weight)), Data(hidden), n, e, eps);
  fused_steps.fetch_add(1, std::memory_order_relaxed);
  return hidden.to(c10::CppTypeToScalarType<T>::value);
}

}  // namespace

bool FusedDecodeApplies(const DecoderImpl& decoder, const std::vector<LayerKv>& kv) {
  static const bool switched_off = KernelSwitchedToTorch("AHA_FUSED_DECODE");
  if (switched_off || torch::GradMode::is_enabled() || CpuAutocastEnabled()) return false;
  const torch::ScalarType dtype = decoder.embed_tokens->weight.scalar_type();
  if (dtype != torch::kFloat32 && dtype != torch::kBFloat16) return false;
  for (const torch::Tensor& parameter : decoder.parameters()) {
    if (!IsCpuContiguous(parameter, dtype)) return false;
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

}  // namespace aha
