// Inline AVX-512 helpers shared by aha's CPU kernels. Each is compiled for AVX-512 whatever the
// build's target, so callers must check CpuHasAvx512() (policy/vector_math.h) first.
#ifndef AHA_POLICY_AVX512_MATH_H_
#define AHA_POLICY_AVX512_MATH_H_

#if defined(__x86_64__)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include <c10/util/BFloat16.h>

namespace aha {

// Returns a mask of the first min(count, 16) lanes.
__attribute__((target("avx512f"), always_inline)) inline __mmask16 FirstLanes(int64_t count) {
  return count >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << count) - 1);
}

// Loads 16 elements as float32. A bfloat16 is the top half of a float32's bits.
__attribute__((target("avx512f"), always_inline)) inline __m512 Load16(const float* p) {
  return _mm512_loadu_ps(p);
}

__attribute__((target("avx512f"), always_inline)) inline __m512 Load16(const c10::BFloat16* p) {
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(raw), 16));
}

// Loads the first `count` (below 16) elements as float32, zero beyond them.
template <typename T>
__attribute__((target("avx512f"), always_inline)) inline __m512 LoadTail(const T* p,
                                                                         int64_t count) {
  T buffer[16];
  std::memset(static_cast<void*>(buffer), 0, sizeof(buffer));
  std::memcpy(static_cast<void*>(buffer), p, count * sizeof(T));
  return Load16(buffer);
}

// Returns the 16 horizontal sums of v[0..15] in one vector: lane j is the sum of v[j]'s
// lanes. The tree of shuffles costs about 3 instructions per sum, where a reduction per
// vector costs about 8.
__attribute__((target("avx512f"), always_inline)) inline __m512 SumEach(const __m512 (&v)[16]) {
  // Each 128-bit lane of pairs[k] has partial sums of v[2k] and v[2k + 1], interleaved.
  __m512 pairs[8];
  for (int k = 0; k < 8; ++k) {
    pairs[k] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]),
                             _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]));
  }
  // Each 128-bit lane of quads[k] has the partial sums of v[4k .. 4k + 3], in order.
  __m512 quads[4];
  for (int k = 0; k < 4; ++k) {
    const __m512d a = _mm512_castps_pd(pairs[2 * k]);
    const __m512d b = _mm512_castps_pd(pairs[2 * k + 1]);
    quads[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // Sums the four 128-bit lanes of each quad: two rounds of pairing lanes 0 + 1 and 2 + 3.
  __m512 halves[2];
  for (int k = 0; k < 2; ++k) {
    halves[k] = _mm512_add_ps(
        _mm512_shuffle_f32x4(quads[2 * k], quads[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
        _mm512_shuffle_f32x4(quads[2 * k], quads[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  return _mm512_add_ps(_mm512_shuffle_f32x4(halves[0], halves[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(halves[0], halves[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// Returns e^x on 16 lanes: 2^n * p(r) with x = n ln 2 + r and a degree-6 polynomial for e^r on
// |r| <= ln2 / 2. Within 4e-7 relative error of std::exp where the tests check it (x in
// [-87.3, 84]). Below -87.3, where e^x is within 4% of the smallest normal float 2^-126, it
// gives 0, and above 88 it gives e^88. NaN stays NaN.
__attribute__((target("avx512f"), always_inline)) inline __m512 Exp16(__m512 x) {
  const __mmask16 normal = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_NLT_UQ);
  x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  for (float c : {1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f}) {
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  }
  return _mm512_maskz_mov_ps(normal, _mm512_scalef_ps(p, n));
}

}  // namespace aha

#endif  // defined(__x86_64__)

#endif  // AHA_POLICY_AVX512_MATH_H_
