// VectorReader and the whole-file readers: one row reader for every format,
// driven by the Layout its header parser produced.
#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/io/bin.h"
#include "src/io/byte_source.h"
#include "src/io/element.h"
#include "src/io/file_error.h"
#include "src/io/format.h"
#include "src/io/hdf5.h"
#include "src/io/idx.h"
#include "src/io/layout.h"
#include "src/io/npy.h"
#include "src/io/texmex.h"
#include "turboquant/io.h"

namespace turboquant {
namespace {

using io::ByteSource;
using io::Layout;

StatusOr<Layout> ReadLayout(io::FileFormat format, ByteSource* source) {
  switch (format) {
    case io::FileFormat::kFvecs:
    case io::FileFormat::kIvecs:
    case io::FileFormat::kBvecs:
      return io::ReadTexmexLayout(source, *io::FixedElementType(format));
    case io::FileFormat::kFbin:
    case io::FileFormat::kU8bin:
    case io::FileFormat::kIbin:
      return io::ReadBinLayout(source, *io::FixedElementType(format));
    case io::FileFormat::kNpy:
      return io::ReadNpyLayout(source);
    case io::FileFormat::kIdx:
      return io::ReadIdxLayout(source);
    case io::FileFormat::kHdf5:
      break;  // not a byte stream: OpenHdf5Reader
  }
  return absl::InternalError("unhandled file format");
}

class RowReader final : public VectorReader {
 public:
  RowReader(std::unique_ptr<ByteSource> source, Layout layout, VectorReaderOptions options)
      : source_(std::move(source)), layout_(layout), options_(options) {}

  const std::string& path() const override { return source_->path(); }
  int dim() const override { return layout_.dim; }
  int64_t rows() const override { return layout_.rows; }
  ElementType element_type() const override { return layout_.element_type; }
  int64_t rows_read() const override { return next_row_; }
  bool rows_checked() const { return layout_.rows_checked; }

  StatusOr<int64_t> ReadRows(int64_t max_rows, std::vector<float>* out) override {
    return ReadConverted(max_rows, out);
  }

  StatusOr<int64_t> ReadRowsInt64(int64_t max_rows, std::vector<int64_t>* out) override {
    if (!IsIntegerType(layout_.element_type)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ": holds ", ElementTypeName(layout_.element_type),
                       " values, which cannot be read as integer ids"));
    }
    return ReadConverted(max_rows, out);
  }

 private:
  // Reads, converts and appends, restoring *out and failing for good on error.
  template <typename T>
  StatusOr<int64_t> ReadConverted(int64_t max_rows, std::vector<T>* out) {
    if (!failure_.ok()) return failure_;
    if (max_rows < 0) {
      return absl::InvalidArgumentError(absl::StrCat(path(), ": max_rows ", max_rows, " < 0"));
    }
    const size_t old_size = out->size();
    const int64_t wanted = std::min(max_rows, layout_.rows - next_row_);
    Status status = AppendRows(wanted, out);
    if (status.ok() && next_row_ == layout_.rows) status = CheckEndOfData();
    if (!status.ok()) {
      out->resize(old_size);
      failure_ = status;
      return status;
    }
    return wanted;
  }

  // Grows *out one chunk at a time, so a row count from an unchecked header
  // (gzip) costs memory only as far as the data really goes.
  template <typename T>
  Status AppendRows(int64_t wanted, std::vector<T>* out) {
    const size_t record_bytes = layout_.record_bytes();
    for (int64_t done = 0; done < wanted;) {
      const int64_t count = std::min(NextChunkRows(), wanted - done);
      Status status = ReadChunk(count);
      if (!status.ok()) return status;
      const size_t base = out->size();
      out->resize(base + count * layout_.dim);
      for (int64_t i = 0; i < count; ++i) {
        status = DecodeRecord(chunk_.data() + i * record_bytes, next_row_ + i,
                              out->data() + base + i * layout_.dim);
        if (!status.ok()) return status;
      }
      next_row_ += count;
      done += count;
    }
    return absl::OkStatus();
  }

  // Rows to read next. Chunks of an unchecked stream start small and double
  // up to the full size: a gzip file of 50 bytes whose header declares
  // billions of rows costs kilobytes, not a full chunk of kChunkBytes.
  int64_t NextChunkRows() {
    if (layout_.rows_checked) return layout_.chunk_rows();
    const int64_t rows = unchecked_chunk_rows_;
    unchecked_chunk_rows_ = std::min(2 * rows, layout_.chunk_rows());
    return rows;
  }

  // Reads `count` whole records into chunk_.
  Status ReadChunk(int64_t count) {
    const size_t record_bytes = layout_.record_bytes();
    const size_t bytes = count * record_bytes;
    if (chunk_.size() < bytes) chunk_.resize(bytes);
    StatusOr<size_t> got = source_->Read(chunk_.data(), bytes);
    if (!got.ok()) {
      return Status(got.status().code(),
                    absl::StrFormat("%s (reading rows %d..%d)", got.status().message(), next_row_,
                                    next_row_ + count - 1));
    }
    if (*got == bytes) return absl::OkStatus();
    return io::CorruptFile(
        path(), absl::StrFormat("truncated: the data ends inside row %d of the %d rows the header "
                                "declares (%d of its %d bytes present)",
                                next_row_ + *got / record_bytes, layout_.rows, *got % record_bytes,
                                record_bytes));
  }

  Status CheckDimPrefix(const char* record, int64_t row) const {
    int32_t dim;
    std::memcpy(&dim, record, sizeof(dim));
    if (dim == layout_.dim) return absl::OkStatus();
    return io::CorruptFile(path(), absl::StrFormat("row %d has dimension %d, but row 0 has "
                                                   "dimension %d",
                                                   row, dim, layout_.dim));
  }

  Status DecodeRecord(const char* record, int64_t row, float* dst) const {
    return DecodeRecordWith(record, row, [&](const char* values) {
      return io::DecodeToFloat(layout_.element_type, values, layout_.dim, options_.allow_non_finite,
                               dst);
    });
  }

  Status DecodeRecord(const char* record, int64_t row, int64_t* dst) const {
    return DecodeRecordWith(record, row, [&](const char* values) {
      return io::DecodeToInt64(layout_.element_type, values, layout_.dim, dst);
    });
  }

  // Checks the TEXMEX dimension, decodes, and names a value that failed.
  template <typename Decode>
  Status DecodeRecordWith(const char* record, int64_t row, Decode decode) const {
    if (layout_.dim_prefix) {
      Status status = CheckDimPrefix(record, row);
      if (!status.ok()) return status;
      record += sizeof(int32_t);
    }
    const int64_t column = decode(record);
    if (column < 0) return absl::OkStatus();
    const char* value = record + column * io::ElementSize(layout_.element_type);
    return io::InvalidFile(path(), absl::StrFormat("row %d, column %d: value %s %s", row, column,
                                                   io::StoredValueText(layout_.element_type, value),
                                                   io::DecodeProblem(layout_.element_type, value)));
  }

  // A gzip stream is checked against its header only as it is read: after the
  // last declared row it must end.
  Status CheckEndOfData() {
    if (layout_.rows_checked || end_checked_) return absl::OkStatus();
    end_checked_ = true;
    char extra;
    StatusOr<size_t> got = source_->Read(&extra, 1);
    if (!got.ok()) return got.status();
    if (*got == 0) return absl::OkStatus();
    return io::CorruptFile(path(), absl::StrFormat("data continues after the %d rows the header "
                                                   "declares",
                                                   layout_.rows));
  }

  const std::unique_ptr<ByteSource> source_;
  const Layout layout_;
  const VectorReaderOptions options_;
  int64_t next_row_ = 0;
  bool end_checked_ = false;
  int64_t unchecked_chunk_rows_ =
      std::max<int64_t>(1, static_cast<int64_t>(io::kFirstUncheckedChunkBytes /
                                                 layout_.record_bytes()));
  std::vector<char> chunk_;
  Status failure_;
};

StatusOr<std::unique_ptr<RowReader>> OpenRowReader(const std::string& path,
                                                   const VectorReaderOptions& options) {
  StatusOr<io::FileFormat> format = io::FileFormatFromPath(path);
  if (!format.ok()) return format.status();
  StatusOr<std::unique_ptr<ByteSource>> source =
      io::OpenByteSource(path, /*allow_gzip=*/*format == io::FileFormat::kIdx);
  if (!source.ok()) return source.status();
  StatusOr<Layout> layout = ReadLayout(*format, source->get());
  if (!layout.ok()) return layout.status();
  return std::make_unique<RowReader>(std::move(*source), *layout, options);
}

StatusOr<int64_t> ReadInto(RowReader* reader, int64_t max_rows, std::vector<float>* out) {
  return reader->ReadRows(max_rows, out);
}

StatusOr<int64_t> ReadInto(RowReader* reader, int64_t max_rows, std::vector<int64_t>* out) {
  return reader->ReadRowsInt64(max_rows, out);
}

// Reserves room for all rows when the file size vouches for the row count;
// a file too large for memory gets an error instead of std::bad_alloc.
template <typename T>
Status ReserveAll(const RowReader& reader, std::vector<T>* data) {
  if (!reader.rows_checked()) return absl::OkStatus();
  const int64_t values = reader.rows() * reader.dim();
  try {
    data->reserve(values);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s: %d x %d values do not fit in memory; stream them with VectorReader",
                        reader.path(), reader.rows(), reader.dim()));
  }
  return absl::OkStatus();
}

template <typename T>
StatusOr<RowMatrix<T>> ReadWholeFile(const std::string& path, const VectorReaderOptions& options) {
  StatusOr<std::unique_ptr<RowReader>> reader = OpenRowReader(path, options);
  if (!reader.ok()) return reader.status();
  RowMatrix<T> matrix;
  matrix.dim = (*reader)->dim();
  Status reserved = ReserveAll(**reader, &matrix.data);
  if (!reserved.ok()) return reserved;
  StatusOr<int64_t> rows = ReadInto(reader->get(), (*reader)->rows(), &matrix.data);
  if (!rows.ok()) return rows.status();
  matrix.rows = *rows;
  return matrix;
}

// HDF5 files are read through the HDF5 library, row chunk by row chunk.
// Reserving is safe: OpenHdf5Reader has checked the shape against the bytes
// the file stores, so only a real (compressed) dataset can be too large.
template <typename T>
StatusOr<RowMatrix<T>> ReadWholeHdf5(const std::string& path, const VectorReaderOptions& options) {
  StatusOr<std::unique_ptr<VectorReader>> reader = io::OpenHdf5Reader(path, options);
  if (!reader.ok()) return reader.status();
  RowMatrix<T> matrix;
  matrix.dim = (*reader)->dim();
  try {
    matrix.data.reserve((*reader)->rows() * matrix.dim);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s: %d x %d values do not fit in memory; stream them with VectorReader",
                        path, (*reader)->rows(), matrix.dim));
  }
  StatusOr<int64_t> rows;
  if constexpr (std::is_same_v<T, float>) {
    rows = (*reader)->ReadRows((*reader)->rows(), &matrix.data);
  } else {
    rows = (*reader)->ReadRowsInt64((*reader)->rows(), &matrix.data);
  }
  if (!rows.ok()) return rows.status();
  matrix.rows = *rows;
  return matrix;
}

bool IsHdf5(const std::string& path) {
  StatusOr<io::FileFormat> format = io::FileFormatFromPath(path);
  return format.ok() && *format == io::FileFormat::kHdf5;
}

}  // namespace

StatusOr<std::unique_ptr<VectorReader>> VectorReader::Open(const std::string& path,
                                                           const VectorReaderOptions& options) {
  if (IsHdf5(path)) return io::OpenHdf5Reader(path, options);
  StatusOr<std::unique_ptr<RowReader>> reader = OpenRowReader(path, options);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<VectorReader>(std::move(*reader));
}

StatusOr<Matrix> ReadVectors(const std::string& path, const VectorReaderOptions& options) {
  if (IsHdf5(path)) return ReadWholeHdf5<float>(path, options);
  return ReadWholeFile<float>(path, options);
}

StatusOr<IdMatrix> ReadIdRows(const std::string& path, const VectorReaderOptions& options) {
  if (IsHdf5(path)) return ReadWholeHdf5<int64_t>(path, options);
  return ReadWholeFile<int64_t>(path, options);
}

}  // namespace turboquant
