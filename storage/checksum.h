// CRC32C (Castagnoli) of byte ranges: detects flipped bytes and truncation in
// segment files. Uses the SSE4.2 crc32 instruction when the CPU has it.
#ifndef TURBOQUANT_STORAGE_CHECKSUM_H_
#define TURBOQUANT_STORAGE_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace turboquant::storage {

// Continues a checksum: Crc32c(ab) == Crc32c(b, Crc32c(a)).
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

// The portable table-driven version, for tests.
uint32_t Crc32cPortable(const void* data, size_t size, uint32_t crc = 0);

}  // namespace turboquant::storage

#endif  // TURBOQUANT_STORAGE_CHECKSUM_H_
