// TurboQuant codecs (Zandieh et al., arXiv 2504.19874).
//
// Both codecs are data-oblivious: a code depends only on (dim, bits, seed) and
// the vector itself, so there is nothing to train. A vector x is split into its
// norm and direction; the direction is rotated by a seeded random orthogonal
// transform, after which every coordinate follows the same known density, and
// each coordinate is quantized with the Lloyd-Max codebook of that density.
//
//   MseCodec(dim, b):  b-bit index per coordinate + ||x|| + an inner-product
//                      scale ||x|| / <x_hat_unit, x_unit> ("length
//                      renormalization"), which removes most of the shrinkage
//                      bias of the reconstruction.
//   ProdCodec(dim, b): (b-1)-bit MSE index per coordinate + 1 QJL sign bit per
//                      coordinate of the residual + ||x|| + the residual norm;
//                      its inner-product estimate is unbiased.
//
// Code layout (little endian, `code_size()` bytes per vector):
//   [MSE indices, bit-packed LSB first][prod only: sign bits][f32 norm][f32 scalar]
// The scalar is the renormalized inner-product scale (mse) or the residual
// norm of the unit vector (prod). Codes are bit-identical for equal
// (dim, bits, seed, rotation) on every machine, compiler and SIMD target.
#ifndef TURBOQUANT_CODEC_H_
#define TURBOQUANT_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "turboquant/status.h"

namespace turboquant {

enum class CodecKind { kMse, kProd };
enum class RotationKind {
  kHadamard,         // seeded randomized Hadamard, O(d log d); the default
  kDenseOrthogonal,  // QR of a seeded Gaussian matrix, O(d^2); a reference
};

const char* CodecKindName(CodecKind kind);  // "mse" or "prod"
StatusOr<CodecKind> ParseCodecKind(const std::string& name);

struct CodecOptions {
  int dim = 0;                // 2 .. 16384 (dense rotation: up to 4096)
  int bits = 4;               // mse: 1 .. 8, prod: 2 .. 8
  uint64_t seed = 0x7475726271756174ULL;
  RotationKind rotation = RotationKind::kHadamard;
};

class Codec {
 public:
  static constexpr int kMinDim = 2;
  static constexpr int kMaxDim = 16384;
  static constexpr int kMaxDenseDim = 4096;

  // Validates the options and builds the codec (rotation and codebook).
  static StatusOr<std::unique_ptr<Codec>> Create(CodecKind kind, const CodecOptions& options);

  virtual ~Codec() = default;

  virtual CodecKind kind() const = 0;
  const CodecOptions& options() const { return options_; }
  int dim() const { return options_.dim; }
  int bits() const { return options_.bits; }
  size_t code_size() const { return code_size_; }

  // Encodes vectors.size() / dim() vectors into as many code_size() codes.
  // Rejects NaN/Inf components (naming the row and column) and size mismatches.
  Status Encode(absl::Span<const float> vectors, absl::Span<uint8_t> codes) const;
  // Reconstructs vectors from codes (the estimate of x, not of its direction).
  Status Decode(absl::Span<const uint8_t> codes, absl::Span<float> vectors) const;
  // Float reference estimate of <query, x> for every code: scores[i] for codes[i].
  Status EstimateInnerProducts(absl::Span<const float> query, absl::Span<const uint8_t> codes,
                               absl::Span<float> scores) const;

  // Unchecked single-vector forms of the above, for callers that validated.
  virtual void EncodeOne(const float* vector, uint8_t* code) const = 0;
  virtual void DecodeOne(const uint8_t* code, float* vector) const = 0;
  float EstimateInnerProduct(const float* query, const uint8_t* code) const;

  // ||x|| as stored in a code.
  float StoredNorm(const uint8_t* code) const;

  // A query rotated once, then scored against many codes.
  struct PreparedQuery {
    std::vector<float> rotated;    // R q
    std::vector<float> projected;  // S R q (prod only)
  };
  virtual void PrepareQuery(const float* query, PreparedQuery* prepared) const = 0;
  virtual float EstimateInnerProduct(const PreparedQuery& prepared, const uint8_t* code) const = 0;

 protected:
  Codec(const CodecOptions& options, size_t code_size) : options_(options), code_size_(code_size) {}

 private:
  CodecOptions options_;
  size_t code_size_;
};

namespace internal {
class Codebook;
class Rotation;
}  // namespace internal

class MseCodec final : public Codec {
 public:
  static StatusOr<std::unique_ptr<MseCodec>> Create(int dim, int bits,
                                                    uint64_t seed = CodecOptions().seed);
  static StatusOr<std::unique_ptr<MseCodec>> Create(const CodecOptions& options);

  CodecKind kind() const override { return CodecKind::kMse; }
  void EncodeOne(const float* vector, uint8_t* code) const override;
  void DecodeOne(const uint8_t* code, float* vector) const override;
  using Codec::EstimateInnerProduct;
  void PrepareQuery(const float* query, PreparedQuery* prepared) const override;
  float EstimateInnerProduct(const PreparedQuery& prepared, const uint8_t* code) const override;

  const internal::Rotation& rotation() const { return *rotation_; }
  const internal::Codebook& codebook() const { return *codebook_; }

 private:
  MseCodec(const CodecOptions& options, std::shared_ptr<const internal::Rotation> rotation,
           std::shared_ptr<const internal::Codebook> codebook);

  std::shared_ptr<const internal::Rotation> rotation_;
  std::shared_ptr<const internal::Codebook> codebook_;
};

class ProdCodec final : public Codec {
 public:
  static StatusOr<std::unique_ptr<ProdCodec>> Create(int dim, int bits,
                                                     uint64_t seed = CodecOptions().seed);
  static StatusOr<std::unique_ptr<ProdCodec>> Create(const CodecOptions& options);

  CodecKind kind() const override { return CodecKind::kProd; }
  void EncodeOne(const float* vector, uint8_t* code) const override;
  void DecodeOne(const uint8_t* code, float* vector) const override;
  using Codec::EstimateInnerProduct;
  void PrepareQuery(const float* query, PreparedQuery* prepared) const override;
  float EstimateInnerProduct(const PreparedQuery& prepared, const uint8_t* code) const override;

  const internal::Rotation& rotation() const { return *rotation_; }
  // The second, independent rotation S whose signs form the QJL bits.
  const internal::Rotation& qjl_rotation() const { return *qjl_rotation_; }
  // (bits - 1)-bit codebook of the MSE stage.
  const internal::Codebook& codebook() const { return *codebook_; }
  // Constant c of the estimator <y, x_mse> + gamma * c * <S y, sign(S r)>.
  float qjl_scale() const { return qjl_scale_; }

 private:
  ProdCodec(const CodecOptions& options, std::shared_ptr<const internal::Rotation> rotation,
            std::shared_ptr<const internal::Rotation> qjl_rotation,
            std::shared_ptr<const internal::Codebook> codebook);

  std::shared_ptr<const internal::Rotation> rotation_;
  std::shared_ptr<const internal::Rotation> qjl_rotation_;
  std::shared_ptr<const internal::Codebook> codebook_;
  float qjl_scale_;
};

}  // namespace turboquant

#endif  // TURBOQUANT_CODEC_H_
