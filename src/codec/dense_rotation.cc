#include "src/codec/dense_rotation.h"

#include <cmath>

#include "src/util/random.h"

namespace turboquant::internal {
namespace {

// Gaussian rows made orthonormal by modified Gram-Schmidt (in double); this is
// the Q of a QR decomposition with a positive diagonal, hence Haar-distributed.
std::vector<double> OrthonormalGaussianRows(int dim, uint64_t seed) {
  SeededRandom random(seed);
  const size_t n = static_cast<size_t>(dim);
  std::vector<double> rows(n * n);
  for (double& value : rows) value = random.Normal();
  for (size_t i = 0; i < n; ++i) {
    double* row = &rows[i * n];
    for (size_t k = 0; k < i; ++k) {
      const double* prev = &rows[k * n];
      double dot = 0;
      for (size_t j = 0; j < n; ++j) dot += row[j] * prev[j];
      for (size_t j = 0; j < n; ++j) row[j] -= dot * prev[j];
    }
    double norm = 0;
    for (size_t j = 0; j < n; ++j) norm += row[j] * row[j];
    const double inv = 1.0 / std::sqrt(norm);
    for (size_t j = 0; j < n; ++j) row[j] *= inv;
  }
  return rows;
}

}  // namespace

DenseRotation::DenseRotation(int dim, uint64_t seed) : Rotation(dim) {
  const std::vector<double> rows = OrthonormalGaussianRows(dim, seed);
  matrix_.assign(rows.begin(), rows.end());
}

void DenseRotation::Apply(const float* in, float* out) const {
  const size_t n = static_cast<size_t>(dim());
  for (size_t i = 0; i < n; ++i) {
    const float* row = &matrix_[i * n];
    float sum = 0;
    for (size_t j = 0; j < n; ++j) sum += row[j] * in[j];
    out[i] = sum;
  }
}

void DenseRotation::ApplyTranspose(const float* in, float* out) const {
  const size_t n = static_cast<size_t>(dim());
  for (size_t j = 0; j < n; ++j) out[j] = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* row = &matrix_[i * n];
    for (size_t j = 0; j < n; ++j) out[j] += row[j] * in[i];
  }
}

}  // namespace turboquant::internal
