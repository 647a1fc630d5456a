// A seeded pseudo-random generator whose output is the same on every machine
// and compiler. Codes depend on it (rotation signs and permutations), so the
// std:: distributions, whose algorithms are implementation-defined, are not
// used anywhere a code depends on randomness.
#ifndef TURBOQUANT_SRC_UTIL_RANDOM_H_
#define TURBOQUANT_SRC_UTIL_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace turboquant::internal {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, full period 2^64, and good
// enough statistically for signs, permutations and Gaussian samples.
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound) without modulo bias (rejection sampling).
  uint64_t Below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t value;
    do {
      value = Next();
    } while (value >= limit);
    return value % bound;
  }

  // Uniform in (0, 1): 53 random bits, never exactly 0.
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }

  // Standard normal by the Box-Muller transform.
  double Normal() {
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    const double radius = std::sqrt(-2.0 * std::log(Uniform()));
    return radius * std::cos(kTwoPi * Uniform());
  }

 private:
  uint64_t state_;
};

// Derives independent seeds for the parts of a codec from one user seed.
inline uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  SeededRandom random(seed ^ (0xD1B54A32D192ED03ULL * (stream + 1)));
  return random.Next();
}

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_UTIL_RANDOM_H_
