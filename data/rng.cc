// SplitMix64 and the draws built on it.
#include "data/rng.h"

namespace aha::data {
namespace {

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t SplitMix64::Next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return Mix(state_);
}

int64_t SplitMix64::UniformInt(int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (span == 0) return static_cast<int64_t>(Next());  // the whole int64 range
  // Values at or above `limit` would favour small remainders, so they are redrawn.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % span);
  uint64_t draw = Next();
  while (draw >= limit) draw = Next();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + draw % span);
}

double SplitMix64::UniformDouble() {
  return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  return Mix(Mix(seed) ^ Mix(stream + 0x632be59bd9b4e019ULL));
}

}  // namespace aha::data
