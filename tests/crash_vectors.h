// The vector the crash test writes for an id, so that the checker can tell a
// row's stored vector is the one that was acknowledged.
#ifndef TURBOQUANT_TESTS_CRASH_VECTORS_H_
#define TURBOQUANT_TESTS_CRASH_VECTORS_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace turboquant::testing {

constexpr int kCrashDim = 16;

inline std::vector<float> CrashVector(int64_t id) {
  std::vector<float> v(kCrashDim);
  for (int j = 0; j < kCrashDim; ++j) v[j] = static_cast<float>(std::sin(0.37 * id + 1.3 * j));
  return v;
}

// The vectors of ids [first, first + count), row after row.
inline std::vector<float> CrashVectors(int64_t first, int64_t count) {
  std::vector<float> vectors;
  for (int64_t id = first; id < first + count; ++id) {
    const std::vector<float> v = CrashVector(id);
    vectors.insert(vectors.end(), v.begin(), v.end());
  }
  return vectors;
}

inline std::vector<int64_t> ConsecutiveIds(int64_t first, int64_t count) {
  std::vector<int64_t> ids(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) ids[i] = first + i;
  return ids;
}

}  // namespace turboquant::testing

#endif  // TURBOQUANT_TESTS_CRASH_VECTORS_H_
