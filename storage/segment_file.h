// Sealed segment files (*.tqs): an immutable, mmap'd run of code blocks with
// their per-vector floats, external ids and optional float vectors. See
// storage/segment.fbs for the byte layout.
#ifndef TURBOQUANT_STORAGE_SEGMENT_FILE_H_
#define TURBOQUANT_STORAGE_SEGMENT_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "storage/file_util.h"
#include "turboquant/index.h"

namespace turboquant::storage {

// What a segment holds, as views into memory owned by the caller (writing) or
// by the mapping (reading).
struct SegmentContents {
  uint64_t rows = 0;
  size_t block_bytes = 0;               // bytes of one 32-vector block
  absl::Span<const uint8_t> blocks;     // ceil(rows / 32) * block_bytes
  absl::Span<const float> norms;        // ceil(rows / 32) * 32
  absl::Span<const float> scalars;      // ceil(rows / 32) * 32
  absl::Span<const int64_t> ids;        // rows
  // rows * dim floats in row order, in one or more runs (a merged segment
  // shares the runs of the segments it was built from); none without kept
  // vectors. A file read back holds one run.
  std::vector<absl::Span<const float>> vectors;
};

// Writes a segment durably (temp file, fsync, rename, fsync dir) and returns
// the file size.
StatusOr<uint64_t> WriteSegmentFile(FileSystemPtr fs, const std::string& path,
                                    const IndexOptions& options,
                                    size_t code_size, const SegmentContents& contents);

class SegmentFile {
 public:
  // Maps the file and checks its header against `options` and the file size:
  // every section must lie inside the file with the length its row count
  // implies. Reads only the header, not the data.
  static StatusOr<std::unique_ptr<SegmentFile>> Open(const std::string& path,
                                                     const IndexOptions& options,
                                                     size_t code_size, size_t block_bytes);

  const std::string& path() const { return file_->path(); }
  uint64_t file_bytes() const { return file_->size(); }
  // The whole file as mapped (a backup copies it when it cannot link it).
  absl::Span<const uint8_t> bytes() const { return {file_->data(), file_->size()}; }
  const SegmentContents& contents() const { return contents_; }
  // Recomputes every section's CRC32C; DataLoss naming the file and section.
  Status VerifyChecksums() const;

 private:
  SegmentFile() = default;
  std::unique_ptr<MappedFile> file_;
  SegmentContents contents_;
  uint32_t crc_[5] = {};  // blocks, norms, scalars, ids, vectors
};

}  // namespace turboquant::storage

#endif  // TURBOQUANT_STORAGE_SEGMENT_FILE_H_
