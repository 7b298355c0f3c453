#include "policy/vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "policy/avx512_math.h"

namespace aha {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

#if defined(__x86_64__)

__attribute__((target("avx512f"))) float ExpShiftedSumAvx512(const float* x, float shift,
                                                              float* y, int64_t count) {
  const __m512 shift16 = _mm512_set1_ps(shift);
  __m512 total = _mm512_setzero_ps();
  for (int64_t j = 0; j < count; j += 16) {
    const __mmask16 lanes = FirstLanes(count - j);
    const __m512 v = _mm512_maskz_loadu_ps(lanes, x + j);
    // Minus infinity and the lanes past the end give exactly 0. NaN compares unequal, so it
    // stays live and comes out NaN.
    const __mmask16 live =
        _mm512_mask_cmp_ps_mask(lanes, v, _mm512_set1_ps(kMinusInfinity), _CMP_NEQ_UQ);
    const __m512 e = _mm512_maskz_mov_ps(live, Exp16(_mm512_sub_ps(v, shift16)));
    _mm512_mask_storeu_ps(y + j, lanes, e);
    total = _mm512_add_ps(total, e);
  }
  return _mm512_reduce_add_ps(total);
}

__attribute__((target("avx512f"))) float ScaleMaskMaxAvx512(float* x, const bool* allowed,
                                                             float scale, int64_t count) {
  static_assert(sizeof(bool) == 1, "the mask is read as bytes");
  const __m512 scale16 = _mm512_set1_ps(scale);
  const __m512 minus_infinity = _mm512_set1_ps(kMinusInfinity);
  __m512 max16 = minus_infinity;
  for (int64_t j = 0; j < count; j += 16) {
    const __mmask16 lanes = FirstLanes(count - j);
    __m128i bytes;
    if (count - j >= 16) {
      bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(allowed + j));
    } else {
      alignas(16) uint8_t tail[16] = {};
      std::memcpy(tail, allowed + j, count - j);
      bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
    }
    const __m512i flags = _mm512_cvtepu8_epi32(bytes);
    const __mmask16 keep = _mm512_test_epi32_mask(flags, flags);
    const __m512 v = _mm512_mask_mul_ps(minus_infinity, keep, _mm512_maskz_loadu_ps(lanes, x + j),
                                        scale16);
    _mm512_mask_storeu_ps(x + j, lanes, v);
    // NaN lanes leave the maximum as it was, as std::max does.
    max16 = _mm512_mask_max_ps(max16, lanes, v, max16);
  }
  return _mm512_reduce_max_ps(max16);
}

__attribute__((target("avx512f"))) void SiluTimesAvx512(float* gate, const float* up,
                                                         int64_t count) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 lanes = FirstLanes(count - i);
    const __m512 g = _mm512_maskz_loadu_ps(lanes, gate + i);
    const __m512 denominator =
        _mm512_add_ps(_mm512_set1_ps(1.0f), Exp16(_mm512_sub_ps(_mm512_setzero_ps(), g)));
    const __m512 y = _mm512_mul_ps(_mm512_div_ps(g, denominator),
                                   _mm512_maskz_loadu_ps(lanes, up + i));
    _mm512_mask_storeu_ps(gate + i, lanes, y);
  }
}

#else

float ExpShiftedSumAvx512(const float* x, float shift, float* y, int64_t count) {
  return portable::ExpShiftedSum(x, shift, y, count);
}
void SiluTimesAvx512(float* gate, const float* up, int64_t count) {
  portable::SiluTimes(gate, up, count);
}
float ScaleMaskMaxAvx512(float* x, const bool* allowed, float scale, int64_t count) {
  return portable::ScaleMaskMax(x, allowed, scale, count);
}

#endif

}  // namespace

namespace portable {

float ExpShiftedSum(const float* x, float shift, float* y, int64_t count) {
  float total = 0;
  for (int64_t j = 0; j < count; ++j) {
    y[j] = x[j] == kMinusInfinity ? 0.0f : std::exp(x[j] - shift);
    total += y[j];
  }
  return total;
}

float ScaleMaskMax(float* x, const bool* allowed, float scale, int64_t count) {
  float max_value = kMinusInfinity;
  for (int64_t j = 0; j < count; ++j) {
    x[j] = allowed[j] ? x[j] * scale : kMinusInfinity;
    max_value = std::max(max_value, x[j]);
  }
  return max_value;
}

void SiluTimes(float* gate, const float* up, int64_t count) {
  for (int64_t i = 0; i < count; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace portable

bool CpuHasAvx512() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
#else
  return false;
#endif
}

float ExpShiftedSum(const float* x, float shift, float* y, int64_t count) {
  if (CpuHasAvx512()) return ExpShiftedSumAvx512(x, shift, y, count);
  return portable::ExpShiftedSum(x, shift, y, count);
}

float ScaleMaskMax(float* x, const bool* allowed, float scale, int64_t count) {
  if (CpuHasAvx512()) return ScaleMaskMaxAvx512(x, allowed, scale, count);
  return portable::ScaleMaskMax(x, allowed, scale, count);
}

void SiluTimes(float* gate, const float* up, int64_t count) {
  if (CpuHasAvx512()) {
    SiluTimesAvx512(gate, up, count);
  } else {
    portable::SiluTimes(gate, up, count);
  }
}

}  // namespace aha
