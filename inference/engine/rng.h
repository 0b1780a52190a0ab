// A counter-based random number generator for sampling: SplitMix64 (Steele, Lea & Flood, "Fast splittable
// pseudorandom number generators", 2014). The state is one 64-bit counter owned by a sequence's SamplerState, so a
// request's draws depend only on its seed and on how many draws it made — never on what else shares the batch.
//
// Plain functions, no global state; thread-safe as long as each state is used by one thread.
//
//   uint64_t state = SeedRng(params.seed);
//   double u = NextUniform(&state);   // in [0, 1)
#pragma once

#include <cstdint>

namespace inference {

// 2^64 / golden ratio, the Weyl-sequence increment of SplitMix64.
inline constexpr uint64_t kSplitMixGamma = 0x9E3779B97F4A7C15ull;

// SplitMix64's output function: a bijective avalanche mix of one 64-bit word.
constexpr uint64_t SplitMixFinalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The starting counter for a seed (mixed so that seeds 0, 1, 2... give unrelated streams).
constexpr uint64_t SeedRng(uint64_t seed) { return SplitMixFinalize(seed ^ 0x5851F42D4C957F2Dull); }

// Advances the counter and returns the next 64 random bits.
inline uint64_t NextRandom(uint64_t* state) {
  *state += kSplitMixGamma;
  return SplitMixFinalize(*state);
}

// A double uniform in [0, 1): the top 53 bits scaled by 2^-53 (every value exactly representable).
inline double NextUniform(uint64_t* state) {
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  return static_cast<double>(NextRandom(state) >> 11) * kTwoToMinus53;
}

}  // namespace inference
