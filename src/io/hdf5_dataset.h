// One HDF5 dataset of vectors: its shape, element type and storage, checked
// against the file before any value is read, and its rows read on demand.
//
// Read: 1-D (dim 1) and 2-D datasets of float32, float64, uint8, int32 or
// int64 in either byte order, stored contiguous, compact or chunked (version 1 B-tree, or the
// single-chunk, implicit and fixed-array indexes of libver='latest'), with
// the deflate, shuffle and fletcher32 filters. Refused with a message that
// says why: values kept in other files (external storage, virtual datasets),
// chunks never written, other filters, partial edge chunks stored unfiltered,
// and the extensible-array and version 2 B-tree chunk indexes (datasets with
// unlimited dimensions under libver='latest').
#ifndef TURBOQUANT_SRC_IO_HDF5_DATASET_H_
#define TURBOQUANT_SRC_IO_HDF5_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/io/element.h"
#include "src/io/hdf5_file.h"
#include "src/io/hdf5_objects.h"
#include "turboquant/status.h"

namespace turboquant::io::hdf5 {

struct Filter {
  uint16_t id = 0;
  uint32_t element_bytes = 0;  // shuffle's client data
};

// Where a chunk's stored bytes are, and which filters its writer skipped.
struct Chunk {
  uint64_t index = 0;  // in row-major order of the grid of chunks
  uint64_t address = 0;
  uint64_t bytes = 0;
  uint32_t skipped_filters = 0;
};

class Dataset {
 public:
  // The dataset whose object header holds `header` (it has a layout
  // message). `where` starts every message ("file.hdf5 dataset 'train'").
  static StatusOr<Dataset> Open(File file, const std::vector<Message>& header, std::string where);

  ElementType element_type() const { return type_; }
  int64_t rows() const { return static_cast<int64_t>(rows_); }
  int dim() const { return dim_; }
  size_t row_bytes() const { return static_cast<size_t>(dim_) * ElementSize(type_); }

  // Reads rows [first, first + count) into `out` (count * row_bytes()) as
  // little-endian values of element_type().
  Status ReadRows(uint64_t first, uint64_t count, char* out);

 private:
  enum class Layout { kCompact, kContiguous, kChunked };

  explicit Dataset(File file) : file_(std::move(file)) {}
  Status ParseShape(const std::vector<uint8_t>& body);
  Status ParseType(const std::vector<uint8_t>& body);
  Status ParseLayout(const std::vector<uint8_t>& body);
  Status ParseFilters(const std::vector<uint8_t>& body);
  uint64_t chunk_bytes() const {
    return uint64_t{chunk_rows_} * chunk_columns_ * ElementSize(type_);
  }
  uint64_t column_chunks() const { return (dim_ + chunk_columns_ - 1) / chunk_columns_; }
  StatusOr<uint64_t> ChunkCount() const;
  Status ReadChunkIndex();
  Status ReadChunkTree(BTreeWalk* tree, uint64_t address, int expected_level);
  Status ReadFixedArray(uint64_t count);
  Status AddChunk(const Chunk& chunk);
  Status CheckStorage();
  Status CheckChunks(uint64_t capacity);
  Status ReadBand(uint64_t band);
  Status DecodeChunk(const Chunk& chunk, std::vector<uint8_t>* out);

  File file_;
  std::string where_;
  int rank_ = 2;
  uint64_t rows_ = 0;
  int dim_ = 1;
  ElementType type_ = ElementType::kFloat32;
  bool big_endian_ = false;
  Layout layout_ = Layout::kContiguous;
  uint64_t address_ = 0;          // contiguous: the values; chunked: the index
  uint64_t stored_bytes_ = 0;     // contiguous: what the layout declares
  std::vector<uint8_t> compact_;  // compact: the values
  uint32_t chunk_rows_ = 0, chunk_columns_ = 0;
  int chunk_index_type_ = 0;  // 0: version 1 B-tree; 1, 2, 3: single, implicit, fixed array
  bool single_chunk_filtered_ = false;
  Chunk single_chunk_;
  std::vector<Filter> filters_;
  std::vector<Chunk> chunks_;     // all of them, sorted by index
  uint64_t band_ = ~uint64_t{0};  // the row band of chunks held decoded in band_bytes_
  std::vector<uint8_t> band_bytes_;
  std::vector<uint8_t> stored_;  // a chunk's bytes as read
};

}  // namespace turboquant::io::hdf5

#endif  // TURBOQUANT_SRC_IO_HDF5_DATASET_H_
