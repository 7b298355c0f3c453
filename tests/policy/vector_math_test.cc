#include "policy/vector_math.h"

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

namespace aha {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// The dispatching functions (AVX-512 where the CPU has it) and the plain C++ versions.
struct Implementation {
  const char* name;
  float (*exp_shifted_sum)(const float*, float, float*, int64_t);
  float (*scale_mask_max)(float*, const bool*, float, int64_t);
  void (*silu_times)(float*, const float*, int64_t);
};

class VectorMathTest : public ::testing::TestWithParam<Implementation> {};

// Lengths that leave every tail size of a 16-lane vector.
std::vector<int64_t> Lengths() {
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= 40; ++n) lengths.push_back(n);
  return lengths;
}

TEST_P(VectorMathTest, ExpShiftedSumMatchesStdExp) {
  for (int64_t n : Lengths()) {
    std::vector<float> x(n), y(n);
    for (int64_t j = 0; j < n; ++j) {
      x[j] = -90.0f + 180.0f * static_cast<float>(j) / static_cast<float>(n);
      if (j % 7 == 3) x[j] = -kInfinity;
    }
    const float shift = 1.5f;
    const float total = GetParam().exp_shifted_sum(x.data(), shift, y.data(), n);
    double want_total = 0;
    for (int64_t j = 0; j < n; ++j) {
      const float want = x[j] == -kInfinity ? 0.0f : std::exp(x[j] - shift);
      want_total += want;
      if (x[j] == -kInfinity) {
        EXPECT_EQ(y[j], 0.0f) << "n " << n << " j " << j;
      } else if (want > 1e-37f) {
        EXPECT_NEAR(y[j], want, 4e-7 * want) << "n " << n << " j " << j;
      }
    }
    // Terms below about 1.2e-38 may count as 0.
    EXPECT_NEAR(total, want_total, 1e-6 * want_total + 1e-37) << "n " << n;
  }
}

TEST_P(VectorMathTest, ExpShiftedSumKeepsNan) {
  std::vector<float> x = {0.0f, kNan, -kInfinity};
  std::vector<float> y(3);
  EXPECT_TRUE(std::isnan(GetParam().exp_shifted_sum(x.data(), 0.0f, y.data(), 3)));
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(y[2], 0.0f);
}

TEST_P(VectorMathTest, ScaleMaskMaxMasksAndScales) {
  for (int64_t n : Lengths()) {
    std::vector<float> x(n);
    std::unique_ptr<bool[]> allowed(new bool[n]);
    float want_max = -kInfinity;
    for (int64_t j = 0; j < n; ++j) {
      x[j] = static_cast<float>((j * 37) % 11) - 5.0f;
      allowed[j] = j % 3 != 1;
      if (allowed[j]) want_max = std::max(want_max, x[j] * 0.5f);
    }
    const std::vector<float> original = x;
    EXPECT_EQ(GetParam().scale_mask_max(x.data(), allowed.get(), 0.5f, n), want_max)
        << "n " << n;
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_EQ(x[j], allowed[j] ? original[j] * 0.5f : -kInfinity) << "n " << n << " j " << j;
    }
  }
}

TEST_P(VectorMathTest, ScaleMaskMaxOfNothingIsMinusInfinity) {
  std::vector<float> x = {1.0f, 2.0f, kNan};
  bool allowed[3] = {false, false, true};
  EXPECT_EQ(GetParam().scale_mask_max(x.data(), allowed, 1.0f, 3), -kInfinity);
  EXPECT_TRUE(std::isnan(x[2]));
}

TEST_P(VectorMathTest, SiluTimesMatchesFormula) {
  for (int64_t n : Lengths()) {
    std::vector<float> gate(n), up(n);
    for (int64_t i = 0; i < n; ++i) {
      gate[i] = -12.0f + 24.0f * static_cast<float>(i) / static_cast<float>(n);
      up[i] = 0.5f + static_cast<float>(i % 5);
    }
    const std::vector<float> original = gate;
    GetParam().silu_times(gate.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const float g = original[i];
      const float want = g / (1.0f + std::exp(-g)) * up[i];
      EXPECT_NEAR(gate[i], want, 1e-6f * std::max(1.0f, std::abs(want)))
          << "n " << n << " i " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Implementations, VectorMathTest,
    ::testing::Values(
        Implementation{"dispatching", ExpShiftedSum, ScaleMaskMax, SiluTimes},
        Implementation{"portable", portable::ExpShiftedSum, portable::ScaleMaskMax,
                       portable::SiluTimes}),
    [](const ::testing::TestParamInfo<Implementation>& info) { return info.param.name; });

}  // namespace
}  // namespace aha
