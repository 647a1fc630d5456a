// Reading and writing the vector file formats that ANN datasets ship in.
//
// The format is chosen by the file name's extension (case-insensitive):
//   .fvecs .ivecs .bvecs   TEXMEX: every row is an int32 dimension, then the
//                          row's float32 / int32 / uint8 values; no header.
//   .fbin .u8bin .ibin     big-ann-benchmarks: int32 rows, int32 dim, then the
//                          float32 / uint8 / int32 rows.
//   .npy                   NumPy v1/v2/v3, dtype '<f4', '|u1' or '<i4', C order,
//                          shape (rows, dim) or (rows,) for dim 1.
//   idx1-ubyte idx3-ubyte  MNIST IDX, unsigned bytes (read only); a row is
//   (+ optional .gz)       everything after the first axis, so 28x28 images
//                          are rows of 784. Gzip is also detected by magic.
//   .hdf5 .h5              HDF5 (read only), as ann-benchmarks ships datasets:
//                          one named 2-D (or 1-D) dataset of float32, uint8 or
//                          int32 (VectorReaderOptions::hdf5_dataset), read in
//                          row chunks.
// All multi-byte values are little endian except the IDX header.
//
// Everything the index ingests passes through here, so malformed input never
// crashes or reads out of bounds: it becomes a Status whose message starts
// with the file name and names the problem, the row, the column and the value.
#ifndef TURBOQUANT_IO_H_
#define TURBOQUANT_IO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "turboquant/status.h"

namespace turboquant {

// How the values of a file are stored; reads convert them to float (vectors)
// or int64 (ids), checking that the conversion is exact.
enum class ElementType { kFloat32, kUint8, kInt32, kInt64, kFloat64 };

// "float32", "uint8", "int32", "int64", "float64".
const char* ElementTypeName(ElementType type);
// Whether a type's values can be ids: the integer types.
bool IsIntegerType(ElementType type);

// Larger dimensions are rejected as corrupt headers rather than allocated.
constexpr int kMaxVectorDim = 1 << 20;

struct VectorReaderOptions {
  // NaN or Inf components are rejected by default because the index must never
  // ingest them; set this to read such files anyway (e.g. to inspect them).
  bool allow_non_finite = false;
  // HDF5 files hold several arrays: the dataset to read ("train", "test",
  // "neighbors" in ann-benchmarks files; a path such as "group/name" works).
  // Ignored by the other formats.
  std::string hdf5_dataset = "train";
};

// Streams the rows of a vector file in chunks, so files larger than memory can
// be processed. Not thread-safe. After an error the reader stays failed and
// returns that error again.
class VectorReader {
 public:
  // Opens `path` and validates its header against the file size (gzip IDX
  // streams are checked as they are read, since their size is unknown).
  static StatusOr<std::unique_ptr<VectorReader>> Open(const std::string& path,
                                                      const VectorReaderOptions& options = {});

  virtual ~VectorReader() = default;

  virtual const std::string& path() const = 0;
  virtual int dim() const = 0;
  virtual int64_t rows() const = 0;  // as declared by the header or file size
  virtual ElementType element_type() const = 0;
  virtual int64_t rows_read() const = 0;  // index of the next row to read

  // Appends up to `max_rows` rows (rows * dim() values) to *out, converted to
  // float, and returns how many rows were read: 0 at the end of the file.
  // int32 values beyond 2^24 in magnitude are rejected, as float would round
  // them. On error *out is left as it was.
  virtual StatusOr<int64_t> ReadRows(int64_t max_rows, std::vector<float>* out) = 0;
  // The same for integer files (ground truth, ids, labels), widened to the
  // index's 64-bit ids. float32 files are rejected: their values are not ids.
  virtual StatusOr<int64_t> ReadRowsInt64(int64_t max_rows, std::vector<int64_t>* out) = 0;
};

// Creates (truncating) a vector file of `dim`-dimensional rows stored as
// `type`, which must be the type the extension implies (any type for .npy).
// Headers that hold the row count are written on Close(). Not thread-safe.
class VectorWriter {
 public:
  static StatusOr<std::unique_ptr<VectorWriter>> Create(const std::string& path, int dim,
                                                        ElementType type);

  // Closes the file if Close() was not called, ignoring errors.
  virtual ~VectorWriter() = default;

  virtual const std::string& path() const = 0;
  virtual int64_t rows_written() const = 0;

  // Appends rows.size() / dim rows. A value the element type cannot hold
  // exactly (300, -1 or 1.5 as uint8; NaN as anything) fails, naming its row,
  // column and value, and nothing of that call is written.
  virtual Status Append(absl::Span<const float> rows) = 0;
  // The same for integer values, e.g. ground-truth ids into .ivecs.
  virtual Status AppendInt64(absl::Span<const int64_t> rows) = 0;

  // Writes the final header and closes the file; the file is complete only if
  // this returns OK.
  virtual Status Close() = 0;
};

// A whole file in memory, row-major.
template <typename T>
struct RowMatrix {
  int64_t rows = 0;
  int dim = 0;
  std::vector<T> data;  // rows * dim values

  absl::Span<const T> row(int64_t i) const {
    return absl::Span<const T>(data.data() + i * dim, static_cast<size_t>(dim));
  }
};
using Matrix = RowMatrix<float>;
using IdMatrix = RowMatrix<int64_t>;

// Reads a whole vector file as float (base vectors, queries).
StatusOr<Matrix> ReadVectors(const std::string& path, const VectorReaderOptions& options = {});
// Reads a whole integer file (ground truth, ids, labels); for HDF5, name the
// dataset in options (e.g. "neighbors").
StatusOr<IdMatrix> ReadIdRows(const std::string& path, const VectorReaderOptions& options = {});

// Writes a whole matrix in one call; see VectorWriter for the rules.
Status WriteVectors(const std::string& path, const Matrix& matrix, ElementType type);
// Writes ids as int32 (.ivecs, .ibin, .npy); ids beyond int32 are rejected.
Status WriteIdRows(const std::string& path, const IdMatrix& ids);

}  // namespace turboquant

#endif  // TURBOQUANT_IO_H_
