// Elementwise float32 loops for aha's fused CPU kernels, in AVX-512 where the CPU has it and in
// plain C++ with std::exp elsewhere.
#ifndef AHA_POLICY_VECTOR_MATH_H_
#define AHA_POLICY_VECTOR_MATH_H_

#include <cstdint>

namespace aha {

// Returns whether this CPU runs AVX-512F instructions.
bool CpuHasAvx512();

// Sets y[j] = exp(x[j] - shift) for j < count and returns their sum. Entries of x that are
// minus infinity give exactly 0. y may be x. The AVX-512 exponential is within 4e-7 relative
// error of std::exp, except that it gives 0 below -87.3, where e^x is about 1.2e-38.
float ExpShiftedSum(const float* x, float shift, float* y, int64_t count);

// Sets x[j] = allowed[j] ? x[j] * scale : minus infinity for j < count and returns the largest
// result (minus infinity when none is allowed or all are NaN).
float ScaleMaskMax(float* x, const bool* allowed, float scale, int64_t count);

// Sets gate[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i].
void SiluTimes(float* gate, const float* up, int64_t count);

// The plain C++ versions, which the functions above take on CPUs without AVX-512. Declared for
// tests, so that AVX-512 machines check them too.
namespace portable {
float ExpShiftedSum(const float* x, float shift, float* y, int64_t count);
float ScaleMaskMax(float* x, const bool* allowed, float scale, int64_t count);
void SiluTimes(float* gate, const float* up, int64_t count);
}  // namespace portable

}  // namespace aha

#endif  // AHA_POLICY_VECTOR_MATH_H_
