// A small seeded PRNG (SplitMix64) with its own integer and real draws, so that a seed gives
// the same data on every machine; std::uniform_int_distribution differs between libraries.
#ifndef AHA_DATA_RNG_H_
#define AHA_DATA_RNG_H_

#include <cstdint>

namespace aha::data {

// SplitMix64 (Steele, Lea and Flood 2014), the generator that seeds xoshiro.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next();
  // Returns an integer uniform in [lo, hi]; rejection sampling keeps it unbiased. lo <= hi.
  int64_t UniformInt(int64_t lo, int64_t hi);
  // Returns a double uniform in [0, 1) built from the top 53 bits.
  double UniformDouble();
  // Returns true with probability p.
  bool Bernoulli(double p) { return UniformDouble() < p; }

 private:
  uint64_t state_;
};

// Mixes a base seed with a stream number (a split, an epoch) into an independent seed.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

}  // namespace aha::data

#endif  // AHA_DATA_RNG_H_
