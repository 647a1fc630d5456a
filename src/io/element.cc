#include "src/io/element.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

// The formats are little endian and values are copied as raw bytes.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "turboquant io assumes little endian");

namespace turboquant {

const char* ElementTypeName(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
      return "float32";
    case ElementType::kUint8:
      return "uint8";
    case ElementType::kInt32:
      return "int32";
    case ElementType::kInt64:
      return "int64";
    case ElementType::kFloat64:
      return "float64";
  }
  return "unknown";
}

bool IsIntegerType(ElementType type) {
  return type != ElementType::kFloat32 && type != ElementType::kFloat64;
}

namespace io {
namespace {

// float holds every integer up to 2^24 in magnitude, and not all beyond.
constexpr int64_t kMaxExactFloatInteger = int64_t{1} << 24;

template <typename T>
T Load(const char* src) {
  T value;
  std::memcpy(&value, src, sizeof(value));
  return value;
}

bool IsFiniteBits(uint32_t bits) { return (bits & 0x7f800000u) != 0x7f800000u; }

// Rows are almost always clean, so a branch-free pass that vectorizes comes
// first and the exact position is searched only on failure.
int64_t FirstNonFinite(const float* values, int64_t count) {
  bool all_finite = true;
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof(bits));
    all_finite &= IsFiniteBits(bits);
  }
  if (all_finite) return -1;
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) return i;
  }
  return -1;
}

bool FitsUint8(float v) { return v >= 0.0f && v <= 255.0f && v == std::trunc(v); }
// 2^31 is exactly representable as float, and is the first value too large.
bool FitsInt32(float v) { return v >= -2147483648.0f && v < 2147483648.0f && v == std::trunc(v); }
bool FitsUint8(int64_t v) { return v >= 0 && v <= 255; }
bool FitsInt32(int64_t v) {
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}
bool FitsFloat(int64_t v) { return v >= -kMaxExactFloatInteger && v <= kMaxExactFloatInteger; }
// 2^63 is exactly representable as float, and is the first value too large.
bool FitsInt64(float v) {
  return v >= -9223372036854775808.0f && v < 9223372036854775808.0f && v == std::trunc(v);
}
// double holds every integer up to 2^53 in magnitude.
bool FitsDouble(int64_t v) { return v >= -(int64_t{1} << 53) && v <= (int64_t{1} << 53); }
// A finite double that float's range holds (it is rounded to the nearest).
bool FitsFloatRange(double v) {
  return std::isfinite(v) && std::fabs(v) <= std::numeric_limits<float>::max();
}

template <typename From, typename Fits>
int64_t FirstUnfitBy(const From* src, int64_t count, Fits fits) {
  for (int64_t i = 0; i < count; ++i) {
    if (!fits(src[i])) return i;
  }
  return -1;
}

template <typename To, typename From>
void StoreAs(const From* src, int64_t count, char* dst) {
  for (int64_t i = 0; i < count; ++i) {
    const To value = static_cast<To>(src[i]);
    std::memcpy(dst + i * sizeof(To), &value, sizeof(To));
  }
}

template <typename From>
void EncodeAny(ElementType type, const From* src, int64_t count, char* dst) {
  switch (type) {
    case ElementType::kFloat32:
      return StoreAs<float>(src, count, dst);
    case ElementType::kUint8:
      return StoreAs<uint8_t>(src, count, dst);
    case ElementType::kInt32:
      return StoreAs<int32_t>(src, count, dst);
    case ElementType::kInt64:
      return StoreAs<int64_t>(src, count, dst);
    case ElementType::kFloat64:
      return StoreAs<double>(src, count, dst);
  }
}

// Integers convert to float exactly up to 2^24 in magnitude.
template <typename T>
int64_t DecodeIntegers(const char* src, int64_t count, float* dst) {
  for (int64_t i = 0; i < count; ++i) {
    const T value = Load<T>(src + sizeof(T) * i);
    if (!FitsFloat(value)) return i;
    dst[i] = static_cast<float>(value);
  }
  return -1;
}

}  // namespace

size_t ElementSize(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
      return 4;
    case ElementType::kUint8:
      return 1;
    case ElementType::kInt32:
      return 4;
    case ElementType::kInt64:
    case ElementType::kFloat64:
      return 8;
  }
  return 0;
}

int64_t DecodeToFloat(ElementType type, const char* src, int64_t count, bool allow_non_finite,
                      float* dst) {
  switch (type) {
    case ElementType::kFloat32:
      std::memcpy(dst, src, count * sizeof(float));
      return allow_non_finite ? -1 : FirstNonFinite(dst, count);
    case ElementType::kUint8:
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<uint8_t>(src[i]);
      return -1;
    case ElementType::kInt32:
      return DecodeIntegers<int32_t>(src, count, dst);
    case ElementType::kInt64:
      return DecodeIntegers<int64_t>(src, count, dst);
    case ElementType::kFloat64:
      for (int64_t i = 0; i < count; ++i) {
        const double value = Load<double>(src + 8 * i);
        const bool non_finite_allowed = allow_non_finite && !std::isfinite(value);
        if (!non_finite_allowed && !FitsFloatRange(value)) return i;
        dst[i] = static_cast<float>(value);
      }
      return -1;
  }
  return 0;
}

int64_t DecodeToInt64(ElementType type, const char* src, int64_t count, int64_t* dst) {
  switch (type) {
    case ElementType::kUint8:
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<uint8_t>(src[i]);
      return -1;
    case ElementType::kInt32:
      for (int64_t i = 0; i < count; ++i) dst[i] = Load<int32_t>(src + 4 * i);
      return -1;
    case ElementType::kInt64:
      std::memcpy(dst, src, count * sizeof(int64_t));
      return -1;
    case ElementType::kFloat32:
    case ElementType::kFloat64:
      break;
  }
  return 0;
}

int64_t FirstUnfit(ElementType type, const float* src, int64_t count) {
  switch (type) {
    case ElementType::kFloat32:
      return FirstNonFinite(src, count);
    case ElementType::kUint8:
      return FirstUnfitBy(src, count, [](float v) { return FitsUint8(v); });
    case ElementType::kInt32:
      return FirstUnfitBy(src, count, [](float v) { return FitsInt32(v); });
    case ElementType::kInt64:
      return FirstUnfitBy(src, count, [](float v) { return FitsInt64(v); });
    case ElementType::kFloat64:
      return FirstNonFinite(src, count);
  }
  return 0;
}

int64_t FirstUnfit(ElementType type, const int64_t* src, int64_t count) {
  switch (type) {
    case ElementType::kFloat32:
      return FirstUnfitBy(src, count, [](int64_t v) { return FitsFloat(v); });
    case ElementType::kUint8:
      return FirstUnfitBy(src, count, [](int64_t v) { return FitsUint8(v); });
    case ElementType::kInt32:
      return FirstUnfitBy(src, count, [](int64_t v) { return FitsInt32(v); });
    case ElementType::kInt64:
      return -1;
    case ElementType::kFloat64:
      return FirstUnfitBy(src, count, [](int64_t v) { return FitsDouble(v); });
  }
  return 0;
}

void Encode(ElementType type, const float* src, int64_t count, char* dst) {
  EncodeAny(type, src, count, dst);
}

void Encode(ElementType type, const int64_t* src, int64_t count, char* dst) {
  EncodeAny(type, src, count, dst);
}

std::string FloatText(float value) {
  // %.9g round-trips any float but shows 2147483648 as 2.14748365e+09.
  if (std::trunc(value) == value && std::fabs(value) < 1e18f) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrFormat("%.9g", value);
}

std::string StoredValueText(ElementType type, const char* src) {
  switch (type) {
    case ElementType::kFloat32:
      return FloatText(Load<float>(src));
    case ElementType::kUint8:
      return absl::StrCat(static_cast<uint8_t>(*src));
    case ElementType::kInt32:
      return absl::StrCat(Load<int32_t>(src));
    case ElementType::kInt64:
      return absl::StrCat(Load<int64_t>(src));
    case ElementType::kFloat64:
      return absl::StrFormat("%.17g", Load<double>(src));
  }
  return "?";
}

std::string DecodeProblem(ElementType type, const char* src) {
  const bool finite = type == ElementType::kFloat64   ? std::isfinite(Load<double>(src))
                      : type == ElementType::kFloat32 ? std::isfinite(Load<float>(src))
                                                      : true;
  if (!finite) return "is not finite (set VectorReaderOptions::allow_non_finite to read it)";
  if (type == ElementType::kFloat64) return "is beyond float32's range";
  return "is beyond 2^24 in magnitude, so float cannot hold it exactly";
}

const char* ExactRange(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
      return "finite values; integers up to 2^24 in magnitude";
    case ElementType::kUint8:
      return "integers 0..255";
    case ElementType::kInt32:
      return "integers -2147483648..2147483647";
    case ElementType::kInt64:
      return "integers -2^63..2^63-1";
    case ElementType::kFloat64:
      return "finite values; integers up to 2^53 in magnitude";
  }
  return "?";
}

}  // namespace io
}  // namespace turboquant
