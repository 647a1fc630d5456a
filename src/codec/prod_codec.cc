// ProdCodec: the (b-1)-bit MSE code of the rotated direction y plus one QJL
// sign bit per coordinate of the residual r = y - y_mse, projected by a second
// seeded rotation S, and gamma = ||r||. The estimate
//   <q, x> ~ ||x|| * (<R q, y_mse> + gamma * c * <S R q, sign(S r)>)
// is unbiased. S has orthonormal rows, so E[sign(<s_i, r>) <s_i, v>] =
// sqrt(2/pi) <v, r> / (||r|| sqrt(d)) for each of the d rows, and
// c = sqrt(pi/2) / sqrt(d) cancels it exactly (a test checks this).
#include <cmath>

#include "src/codec/bitpack.h"
#include "src/codec/encode_kernels.h"
#include "src/codec/encode_steps.h"
#include "src/util/fixed_order_sum.h"
#include "src/util/random.h"
#include "turboquant/codec.h"

namespace turboquant {

using internal::CodecScratch;

namespace {

size_t MseBytes(const CodecOptions& options) {
  return internal::PackedSize(options.dim, options.bits - 1);
}

// Sign bits as +-1 floats.
void UnpackSigns(const uint8_t* packed, int dim, CodecScratch& s, float* signs) {
  internal::UnpackBits(packed, dim, 1, s.indices.data());
  for (int i = 0; i < dim; ++i) signs[i] = s.indices[i] ? 1.0f : -1.0f;
}

}  // namespace

ProdCodec::ProdCodec(const CodecOptions& options,
                     std::shared_ptr<const internal::Rotation> rotation,
                     std::shared_ptr<const internal::Rotation> qjl_rotation,
                     std::shared_ptr<const internal::Codebook> codebook)
    : Codec(options, MseBytes(options) + internal::PackedSize(options.dim, 1) + 8),
      rotation_(std::move(rotation)),
      qjl_rotation_(std::move(qjl_rotation)),
      codebook_(std::move(codebook)),
      qjl_scale_(static_cast<float>(std::sqrt(M_PI / 2) / std::sqrt(double(options.dim)))) {}

StatusOr<std::unique_ptr<ProdCodec>> ProdCodec::Create(int dim, int bits, uint64_t seed) {
  CodecOptions options;
  options.dim = dim;
  options.bits = bits;
  options.seed = seed;
  return Create(options);
}

StatusOr<std::unique_ptr<ProdCodec>> ProdCodec::Create(const CodecOptions& options) {
  if (Status s = internal::ValidateCodecOptions(options, 2, "prod"); !s.ok()) return s;
  auto rotation = internal::Rotation::Create(options.rotation, options.dim,
                                             internal::DeriveSeed(options.seed, 0));
  if (!rotation.ok()) return rotation.status();
  auto qjl_rotation = internal::Rotation::Create(options.rotation, options.dim,
                                                 internal::DeriveSeed(options.seed, 1));
  if (!qjl_rotation.ok()) return qjl_rotation.status();
  return std::unique_ptr<ProdCodec>(
      new ProdCodec(options, std::move(*rotation), std::move(*qjl_rotation),
                    internal::Codebook::Get(options.dim, options.bits - 1)));
}

void ProdCodec::EncodeOne(const float* vector, uint8_t* code) const {
  internal::EncodeRows(*this, vector, 1, code);
}

void ProdCodec::DecodeOne(const uint8_t* code, float* vector) const {
  CodecScratch& s = CodecScratch::ForThread(dim());
  UnpackSigns(code + MseBytes(options()), dim(), s, s.projected.data());
  qjl_rotation_->ApplyTranspose(s.projected.data(), s.residual.data());
  internal::UnpackBits(code, dim(), bits() - 1, s.indices.data());
  internal::LookupCentroids(*codebook_, s.indices.data(), dim(), s.reconstructed.data());
  const float gamma = internal::LoadSecondScalar(code + code_size());
  const float residual_scale = gamma * qjl_scale_;
  for (int i = 0; i < dim(); ++i) {
    s.reconstructed[i] += residual_scale * s.residual[i];
  }
  rotation_->ApplyTranspose(s.reconstructed.data(), vector);
  const float norm = internal::LoadNorm(code + code_size());
  for (int i = 0; i < dim(); ++i) vector[i] *= norm;
}

void ProdCodec::PrepareQuery(const float* query, PreparedQuery* prepared) const {
  prepared->rotated.resize(dim());
  prepared->projected.resize(dim());
  rotation_->Apply(query, prepared->rotated.data());
  qjl_rotation_->Apply(prepared->rotated.data(), prepared->projected.data());
}

float ProdCodec::EstimateInnerProduct(const PreparedQuery& prepared, const uint8_t* code) const {
  CodecScratch& s = CodecScratch::ForThread(dim());
  internal::UnpackBits(code, dim(), bits() - 1, s.indices.data());
  internal::LookupCentroids(*codebook_, s.indices.data(), dim(), s.reconstructed.data());
  const float mse_part = internal::FixedOrderDot(prepared.rotated.data(), s.reconstructed.data(), dim());
  UnpackSigns(code + MseBytes(options()), dim(), s, s.residual.data());
  const float qjl_part = internal::FixedOrderDot(prepared.projected.data(), s.residual.data(), dim());
  const float gamma = internal::LoadSecondScalar(code + code_size());
  const float norm = internal::LoadNorm(code + code_size());
  return norm * (mse_part + gamma * qjl_scale_ * qjl_part);
}

}  // namespace turboquant
