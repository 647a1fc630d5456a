// Converting stored values (float32, uint8, int32, int64, float64; little
// endian) to and from the float and int64 values callers use. Every
// conversion is exact or reported (float64 to float rounds, see below): a
// value that would be clamped or is not a number must never slip into an
// index or a dataset silently.
#ifndef TURBOQUANT_SRC_IO_ELEMENT_H_
#define TURBOQUANT_SRC_IO_ELEMENT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "turboquant/io.h"

namespace turboquant::io {

size_t ElementSize(ElementType type);

// Decoding: each converts `count` stored values at `src` and returns the
// index of the first that does not convert exactly, or -1 when all did.
// float64 is the exception: it is rounded to the nearest float, and only
// values beyond float's range (and non-finite ones, unless allowed) fail.
int64_t DecodeToFloat(ElementType type, const char* src, int64_t count, bool allow_non_finite,
                      float* dst);
// `type` must be an integer type.
int64_t DecodeToInt64(ElementType type, const char* src, int64_t count, int64_t* dst);

// Encoding is split in a check and a conversion, so that a writer can reject
// a whole call before any of it reaches the file. FirstUnfit returns the
// index of the first value `type` cannot hold exactly, or -1.
int64_t FirstUnfit(ElementType type, const float* src, int64_t count);
int64_t FirstUnfit(ElementType type, const int64_t* src, int64_t count);
// Converts values FirstUnfit accepted.
void Encode(ElementType type, const float* src, int64_t count, char* dst);
void Encode(ElementType type, const int64_t* src, int64_t count, char* dst);

// For error messages: a float as text, integers in full ("2147483648", "1.5",
// "nan", "-inf").
std::string FloatText(float value);
// For error messages: a stored value as text.
std::string StoredValueText(ElementType type, const char* src);
// For error messages: why the stored value at `src` did not decode to float
// ("is not finite (...)", "is beyond 2^24 in magnitude, ...").
std::string DecodeProblem(ElementType type, const char* src);
// For error messages: which values `type` holds exactly ("integers 0..255").
const char* ExactRange(ElementType type);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_ELEMENT_H_
