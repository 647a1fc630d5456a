// Lloyd-Max scalar quantizer for one coordinate of a randomly rotated unit
// vector in R^dim. That coordinate has the exact density
//   f(x) ~ (1 - x^2)^((dim - 3) / 2)  on [-1, 1]
// (close to N(0, 1/dim) for large dim). The codebook minimizes the expected
// squared error under f; it depends only on (dim, bits), so it is computed
// once, deterministically, and shared.
#ifndef TURBOQUANT_SRC_CODEC_CODEBOOK_H_
#define TURBOQUANT_SRC_CODEC_CODEBOOK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace turboquant::internal {

class Codebook {
 public:
  static constexpr int kMaxBits = 8;

  // The cached codebook for (dim, bits); dim >= 2, 1 <= bits <= kMaxBits.
  static std::shared_ptr<const Codebook> Get(int dim, int bits);

  int dim() const { return dim_; }
  int bits() const { return bits_; }
  int levels() const { return static_cast<int>(centroids_.size()); }
  // Ascending reconstruction values, 2^bits of them.
  const std::vector<float>& centroids() const { return centroids_; }
  // Ascending decision thresholds between neighbouring centroids (levels - 1).
  const std::vector<float>& boundaries() const { return boundaries_; }
  // E||u - u_hat||^2 for a unit vector u: dim times the per-coordinate MSE.
  double expected_unit_mse() const { return expected_unit_mse_; }

  // Reference quantizer: index = number of boundaries strictly below y[i].
  void QuantizeScalar(const float* y, size_t n, uint8_t* indices) const;
  // The same result with Highway SIMD (dispatched to the best target).
  void Quantize(const float* y, size_t n, uint8_t* indices) const;

  Codebook(int dim, int bits);  // runs Lloyd-Max; prefer Get().

 private:
  int dim_;
  int bits_;
  std::vector<float> centroids_;
  std::vector<float> boundaries_;
  double expected_unit_mse_;
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_CODEBOOK_H_
