// VectorWriter and the whole-file writers.
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/io/bin.h"
#include "src/io/byte_sink.h"
#include "src/io/element.h"
#include "src/io/format.h"
#include "src/io/layout.h"
#include "src/io/npy.h"
#include "turboquant/io.h"

namespace turboquant {
namespace {

using io::FileFormat;
using io::Layout;

// The header of `format` for `rows` rows; its length must not depend on
// `rows`, because Close() rewrites it in place.
std::string Header(FileFormat format, const Layout& layout, int64_t rows) {
  switch (format) {
    case FileFormat::kFbin:
    case FileFormat::kU8bin:
    case FileFormat::kIbin:
      return io::EncodeBinHeader(rows, layout.dim);
    case FileFormat::kNpy:
      return io::EncodeNpyHeader(layout.element_type, rows, layout.dim);
    default:
      return "";
  }
}

int64_t MaxRows(FileFormat format) {
  switch (format) {
    case FileFormat::kFbin:
    case FileFormat::kU8bin:
    case FileFormat::kIbin:
      return io::kMaxBinRows;
    default:
      return std::numeric_limits<int64_t>::max();
  }
}

class RowWriter final : public VectorWriter {
 public:
  RowWriter(std::unique_ptr<io::ByteSink> sink, FileFormat format, Layout layout)
      : sink_(std::move(sink)), format_(format), layout_(layout) {}

  ~RowWriter() override {
    if (!closed_) Close().IgnoreError();
  }

  const std::string& path() const override { return sink_->path(); }
  int64_t rows_written() const override { return layout_.rows; }

  Status Append(absl::Span<const float> rows) override { return AppendConverted(rows); }
  Status AppendInt64(absl::Span<const int64_t> rows) override { return AppendConverted(rows); }

  Status Close() override {
    Status status = CheckWritable();
    if (!status.ok()) return status;
    closed_ = true;
    const std::string header = Header(format_, layout_, layout_.rows);
    if (!header.empty()) status = sink_->OverwriteStart(header);
    Status closed = sink_->Close();
    return status.ok() ? closed : status;
  }

 private:
  Status CheckWritable() const {
    if (closed_) return absl::FailedPreconditionError(absl::StrCat(path(), ": already closed"));
    return failure_;
  }

  template <typename T>
  Status AppendConverted(absl::Span<const T> values) {
    Status status = CheckWritable();
    if (!status.ok()) return status;
    if (values.size() % layout_.dim != 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: got %d values, which is not a whole number of rows of dimension %d",
                          path(), values.size(), layout_.dim));
    }
    const int64_t count = values.size() / layout_.dim;
    if (count > MaxRows(format_) - layout_.rows) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: this format holds at most %d rows", path(), MaxRows(format_)));
    }
    // Every value is checked before any is written, so that a bad one leaves
    // the file as it was.
    const int64_t bad = io::FirstUnfit(layout_.element_type, values.data(), values.size());
    if (bad >= 0) {
      return ValueError(layout_.rows + bad / layout_.dim, bad % layout_.dim, values[bad]);
    }
    for (int64_t row = 0; row < count; row += layout_.chunk_rows()) {
      const int64_t chunk_rows = std::min(layout_.chunk_rows(), count - row);
      status = sink_->Append(EncodeRows(values.data() + row * layout_.dim, chunk_rows));
      if (!status.ok()) {
        failure_ = status;  // part of the call may be on disk: the file is unusable
        return status;
      }
    }
    layout_.rows += count;
    return absl::OkStatus();
  }

  // Encodes checked rows into encoded_, with TEXMEX's dimension prefixes.
  template <typename T>
  absl::string_view EncodeRows(const T* values, int64_t rows) {
    const size_t record_bytes = layout_.record_bytes();
    encoded_.resize(rows * record_bytes);
    for (int64_t row = 0; row < rows; ++row) {
      char* record = encoded_.data() + row * record_bytes;
      if (layout_.dim_prefix) {
        std::memcpy(record, &layout_.dim, sizeof(int32_t));
        record += sizeof(int32_t);
      }
      io::Encode(layout_.element_type, values + row * layout_.dim, layout_.dim, record);
    }
    return absl::string_view(encoded_.data(), encoded_.size());
  }

  Status ValueError(int64_t row, int64_t column, float value) const {
    return ValueError(row, column, io::FloatText(value));
  }
  Status ValueError(int64_t row, int64_t column, int64_t value) const {
    return ValueError(row, column, absl::StrCat(value));
  }
  Status ValueError(int64_t row, int64_t column, const std::string& value) const {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: row %d, column %d: value %s does not fit %s (%s)", path(), row, column, value,
        ElementTypeName(layout_.element_type), io::ExactRange(layout_.element_type)));
  }

  const std::unique_ptr<io::ByteSink> sink_;
  const FileFormat format_;
  Layout layout_;  // rows counts the rows written so far
  std::vector<char> encoded_;
  bool closed_ = false;
  Status failure_;
};

// Checks that a whole matrix holds rows x dim values. It divides rather than
// multiplies, since rows * dim can wrap around to the number of values given.
// A bad dim is left to VectorWriter::Create, which names it.
Status CheckShape(const std::string& path, const char* what, int64_t rows, int dim,
                  size_t values) {
  if (dim < 1) return absl::OkStatus();
  const size_t width = static_cast<size_t>(dim);
  if (rows < 0 || values % width != 0 || values / width != static_cast<uint64_t>(rows)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %s has %d values, not rows x dim = %d x %d", path, what, values, rows, dim));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<VectorWriter>> VectorWriter::Create(const std::string& path, int dim,
                                                             ElementType type) {
  StatusOr<FileFormat> format = io::FileFormatFromPath(path);
  if (!format.ok()) return format.status();
  if (*format == FileFormat::kHdf5) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": writing HDF5 files is not supported; write .fbin or .npy instead"));
  }
  if (*format == FileFormat::kIdx) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": writing IDX files is not supported; write .u8bin or .npy instead"));
  }
  if (dim < 1 || dim > kMaxVectorDim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: dimension %d is out of range 1..%d", path, dim, kMaxVectorDim));
  }
  if (io::ElementSize(type) == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: unknown element type %d", path, static_cast<int>(type)));
  }
  const std::optional<ElementType> fixed = io::FixedElementType(*format);
  if (fixed.has_value() && *fixed != type) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: this format holds %s values, not %s",
                                                      path, ElementTypeName(*fixed),
                                                      ElementTypeName(type)));
  }
  Layout layout;
  layout.element_type = type;
  layout.dim = dim;
  layout.dim_prefix = *format == FileFormat::kFvecs || *format == FileFormat::kIvecs ||
                      *format == FileFormat::kBvecs;
  StatusOr<std::unique_ptr<io::ByteSink>> sink = io::ByteSink::Create(path);
  if (!sink.ok()) return sink.status();
  // A placeholder header; Close() writes the final row count into it.
  Status status = (*sink)->Append(Header(*format, layout, 0));
  if (!status.ok()) return status;
  return std::unique_ptr<VectorWriter>(new RowWriter(std::move(*sink), *format, layout));
}

Status WriteVectors(const std::string& path, const Matrix& matrix, ElementType type) {
  if (Status s = CheckShape(path, "matrix", matrix.rows, matrix.dim, matrix.data.size()); !s.ok()) {
    return s;
  }
  StatusOr<std::unique_ptr<VectorWriter>> writer = VectorWriter::Create(path, matrix.dim, type);
  if (!writer.ok()) return writer.status();
  Status status = (*writer)->Append(matrix.data);
  if (!status.ok()) return status;
  return (*writer)->Close();
}

Status WriteIdRows(const std::string& path, const IdMatrix& ids) {
  if (Status s = CheckShape(path, "id matrix", ids.rows, ids.dim, ids.data.size()); !s.ok()) {
    return s;
  }
  // .ivecs and .ibin fix int32; .npy could hold any type, and int32 is what
  // ground-truth consumers expect.
  StatusOr<io::FileFormat> format = io::FileFormatFromPath(path);
  const ElementType type = format.ok() ? io::FixedElementType(*format).value_or(ElementType::kInt32)
                                       : ElementType::kInt32;
  StatusOr<std::unique_ptr<VectorWriter>> writer = VectorWriter::Create(path, ids.dim, type);
  if (!writer.ok()) return writer.status();
  Status status = (*writer)->AppendInt64(ids.data);
  if (!status.ok()) return status;
  return (*writer)->Close();
}

}  // namespace turboquant
