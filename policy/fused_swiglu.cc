#include "policy/fused_swiglu.h"

#include <algorithm>
#include <atomic>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include "policy/autocast.h"
#include "policy/graph_gradients.h"
#include "policy/kernel_switch.h"
#include "policy/vector_math.h"

#if defined(__x86_64__)
#include "policy/avx512_math.h"
#endif

namespace aha {
namespace {

std::atomic<int64_t> fused_calls{0};

// Elements per parallel task: enough to pay for the task.
constexpr int64_t kGrain = int64_t{1} << 14;

#if defined(__x86_64__)

// Loads up to 16 elements as float32, zero beyond `count`.
template <typename T>
__attribute__((target("avx512f"), always_inline)) inline __m512 LoadUpTo16(const T* p,
                                                                           int64_t count) {
  return count >= 16 ? Load16(p) : LoadTail(p, count);
}

// Stores the first min(count, 16) lanes of v.
__attribute__((target("avx512f"), always_inline)) inline void StoreUpTo16(float* p, __m512 v,
                                                                          int64_t count) {
  _mm512_mask_storeu_ps(p, FirstLanes(count), v);
}

// Rounds to bfloat16 to nearest even, as c10::BFloat16 does, with NaN kept a quiet NaN.
__attribute__((target("avx512f"), always_inline)) inline void StoreUpTo16(c10::BFloat16* p,
                                                                          __m512 v,
                                                                          int64_t count) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded =
      _mm512_add_epi32(bits, _mm512_add_epi32(lowest_kept, _mm512_set1_epi32(0x7FFF)));
  rounded = _mm512_mask_mov_epi32(rounded, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
                                  _mm512_set1_epi32(0x7FC00000));
  const __m256i halves = _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16));
  if (count >= 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), halves);
  } else {
    alignas(32) c10::BFloat16 buffer[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(buffer), halves);
    std::copy(buffer, buffer + count, p);
  }
}

// Returns 1 / (1 + e^-g) on 16 lanes.
__attribute__((target("avx512f"), always_inline)) inline __m512 Sigmoid16(__m512 g) {
  return _mm512_div_ps(_mm512_set1_ps(1.0f),
                       _mm512_add_ps(_mm512_set1_ps(1.0f),
                                     Exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}

// Sets out[i] = silu(gate[i]) * up[i] for i in [begin, end).
template <typename T>
__attribute__((target("avx512f"))) void ForwardRange(const T* gate, const T* up, T* out,
                                                     int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i += 16) {
    const int64_t count = std::min<int64_t>(16, end - i);
    const __m512 g = LoadUpTo16(gate + i, count);
    // g / (1 + e^-g), as LibTorch's silu and SiluTimes compute it.
    const __m512 silu = _mm512_div_ps(
        g, _mm512_add_ps(_mm512_set1_ps(1.0f), Exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    StoreUpTo16(out + i, _mm512_mul_ps(silu, LoadUpTo16(up + i, count)), count);
  }
}

// Sets the gradients for i in [begin, end). With s = sigmoid(g), d up = dy * g * s and
// d gate = dy * up * s * (1 + g * (1 - s)).
template <typename T>
__attribute__((target("avx512f"))) void BackwardRange(const T* gate, const T* up,
                                                      const T* grad_out, T* grad_gate,
                                                      T* grad_up, int64_t begin, int64_t end) {
  const __m512 ones = _mm512_set1_ps(1.0f);
  for (int64_t i = begin; i < end; i += 16) {
    const int64_t count = std::min<int64_t>(16, end - i);
    const __m512 g = LoadUpTo16(gate + i, count);
    const __m512 u = LoadUpTo16(up + i, count);
    const __m512 dy = LoadUpTo16(grad_out + i, count);
    const __m512 s = Sigmoid16(g);
    StoreUpTo16(grad_up + i, _mm512_mul_ps(dy, _mm512_mul_ps(g, s)), count);
    const __m512 slope = _mm512_fmadd_ps(g, _mm512_sub_ps(ones, s), ones);
    StoreUpTo16(grad_gate + i, _mm512_mul_ps(_mm512_mul_ps(dy, u), _mm512_mul_ps(s, slope)),
                count);
  }
}

#else

template <typename T>
void ForwardRange(const T*, const T*, T*, int64_t, int64_t) {}
template <typename T>
void BackwardRange(const T*, const T*, const T*, T*, T*, int64_t, int64_t) {}

#endif

template <typename T>
void Forward(const torch::Tensor& gate, const torch::Tensor& up, torch::Tensor& out) {
  const T* g = gate.data_ptr<T>();
  const T* u = up.data_ptr<T>();
  T* y = out.data_ptr<T>();
  at::parallel_for(0, gate.numel(), kGrain, [&](int64_t begin, int64_t end) {
    ForwardRange(g, u, y, begin, end);
  });
}

template <typename T>
void Backward(const torch::Tensor& gate, const torch::Tensor& up, const torch::Tensor& grad_out,
              torch::Tensor& grad_gate, torch::Tensor& grad_up) {
  const T* g = gate.data_ptr<T>();
  const T* u = up.data_ptr<T>();
  const T* dy = grad_out.data_ptr<T>();
  T* dg = grad_gate.data_ptr<T>();
  T* du = grad_up.data_ptr<T>();
  at::parallel_for(0, gate.numel(), kGrain, [&](int64_t begin, int64_t end) {
    BackwardRange(g, u, dy, dg, du, begin, end);
  });
}

class SwiGluFunction : public torch::autograd::Function<SwiGluFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& gate_in, const torch::Tensor& up_in) {
    const torch::Tensor gate = gate_in.contiguous(), up = up_in.contiguous();
    auto out = torch::empty_like(gate, torch::MemoryFormat::Contiguous);
    if (gate.scalar_type() == torch::kBFloat16) {
      Forward<c10::BFloat16>(gate, up, out);
    } else {
      Forward<float>(gate, up, out);
    }
    // The inputs as given, so that a backward pass with create_graph can differentiate them.
    ctx->save_for_backward({gate_in, up_in});
    fused_calls.fetch_add(1, std::memory_order_relaxed);
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    if (torch::GradMode::is_enabled()) {
      return GradientsWithGraph(ctx, {saved[0], saved[1]}, grads[0], 2,
                                [&] { return SwiGluByOps(saved[0], saved[1]); });
    }
    const torch::Tensor gate = saved[0].contiguous(), up = saved[1].contiguous();
    const torch::Tensor grad_out = grads[0].to(gate.scalar_type()).contiguous();
    auto grad_gate = torch::empty_like(gate, torch::MemoryFormat::Contiguous);
    auto grad_up = torch::empty_like(up, torch::MemoryFormat::Contiguous);
    if (gate.scalar_type() == torch::kBFloat16) {
      Backward<c10::BFloat16>(gate, up, grad_out, grad_gate, grad_up);
    } else {
      Backward<float>(gate, up, grad_out, grad_gate, grad_up);
    }
    return {grad_gate, grad_up};
  }
};

}  // namespace

torch::Tensor SwiGluByOps(const torch::Tensor& gate, const torch::Tensor& up) {
  return torch::silu(gate) * up;
}

int64_t FusedSwiGluCallsSoFar() { return fused_calls.load(std::memory_order_relaxed); }

torch::Tensor SwiGlu(const torch::Tensor& gate, const torch::Tensor& up) {
  static const bool switched_off = KernelSwitchedToTorch("AHA_FUSED_SWIGLU");
  const torch::ScalarType dtype = gate.scalar_type();
  const bool fits = !switched_off && CpuHasAvx512() && !CpuAutocastEnabled() &&
                    gate.device().is_cpu() && up.device().is_cpu() &&
                    (dtype == torch::kFloat32 || dtype == torch::kBFloat16) &&
                    up.scalar_type() == dtype && gate.sizes() == up.sizes();
  if (!fits) return SwiGluByOps(gate, up);
  return SwiGluFunction::apply(gate, up);
}

}  // namespace aha
