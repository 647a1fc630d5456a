// Byte-level helpers for the io tests: they build files by hand, so that the
// readers are checked against the formats' specifications rather than only
// against our own writers.
#ifndef TURBOQUANT_TESTS_IO_TEST_FILES_H_
#define TURBOQUANT_TESTS_IO_TEST_FILES_H_

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace turboquant::testing {

// A Status's message as std::string, which gmock prints readably (Debian's
// absl::string_view prints as a list of chars).
inline std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

inline std::string LittleEndian32(uint32_t value) {
  std::string bytes(4, '\0');
  std::memcpy(bytes.data(), &value, 4);
  return bytes;
}

inline std::string Int32Bytes(int32_t value) {
  return LittleEndian32(static_cast<uint32_t>(value));
}

inline std::string FloatBytes(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return LittleEndian32(bits);
}

inline std::string BigEndian32(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Gzip-compresses `bytes` into `path` with zlib, as gzip(1) would.
inline void WriteGzipFile(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

// An unsigned-byte IDX file of `rows` images of height x width (or, with
// height == 0, of `rows` labels), pixel (r, i) = (r * 7 + i) % 256.
inline std::string IdxBytes(uint32_t rows, uint32_t height, uint32_t width) {
  const bool labels = height == 0;
  std::string bytes = BigEndian32(labels ? 0x00000801 : 0x00000803) + BigEndian32(rows);
  if (!labels) bytes += BigEndian32(height) + BigEndian32(width);
  const uint32_t dim = labels ? 1 : height * width;
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t i = 0; i < dim; ++i) bytes.push_back(static_cast<char>((r * 7 + i) % 256));
  }
  return bytes;
}

}  // namespace turboquant::testing

#endif  // TURBOQUANT_TESTS_IO_TEST_FILES_H_
