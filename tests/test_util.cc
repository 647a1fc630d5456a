#include "tests/test_util.h"

#include <cmath>
#include <filesystem>
#include <random>

#include "gtest/gtest.h"

namespace turboquant::testing {

std::vector<float> GaussianVectors(int n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(static_cast<size_t>(n) * dim);
  for (float& v : out) v = normal(rng);
  return out;
}

std::vector<float> UnitVectors(int n, int dim, uint64_t seed) {
  std::vector<float> out = GaussianVectors(n, dim, seed);
  for (int i = 0; i < n; ++i) {
    float* row = out.data() + static_cast<size_t>(i) * dim;
    double sum = 0;
    for (int j = 0; j < dim; ++j) sum += double(row[j]) * row[j];
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (int j = 0; j < dim; ++j) row[j] *= inv;
  }
  return out;
}

std::string SharedDataPath(const std::string& relative) {
  const std::filesystem::path path = std::filesystem::path(TQ_SHARED_DATA_DIR) / relative;
  return std::filesystem::exists(path) ? path.string() : "";
}

std::string MakeTempDir(const std::string& name) {
  const std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) /
      (name + "." + std::to_string(::getpid()) + "." + std::to_string(std::rand()));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

}  // namespace turboquant::testing
