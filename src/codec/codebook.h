// Lloyd-Max scalar quantizer for one coordinate of a randomly rotated unit
// vector in R^dim. That coordinate has the exact density
//   f(x) ~ (1 - x^2)^((dim - 3) / 2)  on [-1, 1]
// (close to N(0, 1/dim) for large dim). The codebook minimizes the expected
// squared error under f; it depends only on (dim, bits), so it is computed
// once, deterministically, and shared.
#ifndef TURBOQUANT_SRC_CODEC_CODEBOOK_H_
#define TURBOQUANT_SRC_CODEC_CODEBOOK_H_

#include <array>
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

  // Lookup tables of the SIMD quantizer (quantize-inl.h), for levels <= 16:
  // search_table(s)[k] = boundaries[min(k + 2^s - 1, levels - 2)] is the
  // threshold a binary search at index k compares with when its step is 2^s,
  // and padded_centroids() holds the centroids in 16 entries.
  static constexpr int kTableSize = 16;
  const float* search_table(int log2_step) const { return search_tables_[log2_step].data(); }
  const float* padded_centroids() const { return padded_centroids_.data(); }

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
  std::array<std::array<float, kTableSize>, 4> search_tables_{};
  std::array<float, kTableSize> padded_centroids_{};
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_CODEBOOK_H_
