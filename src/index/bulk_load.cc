// TurboQuantIndex::BulkLoad: rows streamed from a RowSource are encoded on
// several threads straight into the sections of a segment file (code blocks,
// per-vector scalars, ids, kept vectors), which is written, fsynced, renamed,
// opened and validated while the next segment fills. One catalog batch then
// names every new file and tombstones the rows whose ids they replace, so a
// crash before it leaves files that the next writer Open removes
// (RemoveUnnamedFiles), and a crash after it the whole load.
//
// Three things overlap: a helper thread reads and checks the next batch
// (RowSource::Next, ids), the calling thread and its helpers encode the
// current one, and a writer thread writes the previous segment.
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <new>
#include <utility>

#include "absl/strings/str_format.h"
#include "src/codec/encode_kernels.h"
#include "src/index/index_impl.h"
#include "src/index/parallel.h"
#include "src/index/search_request.h"

namespace turboquant {

using internal::ScanLayout;
using internal::Segment;
using internal::Snapshot;

namespace {

constexpr size_t kBlockRows = internal::kBlockVectors;
// Rows one encoding task takes: a multiple of the block size, large enough
// to amortize a task's set-up, small enough to balance the threads.
constexpr size_t kTaskRows = 64 * kBlockRows;

class SpanRowSource final : public RowSource {
 public:
  SpanRowSource(absl::Span<const int64_t> ids, absl::Span<const float> vectors, int dim,
                int64_t batch_rows)
      : ids_(ids),
        vectors_(vectors),
        dim_(static_cast<size_t>(std::max(dim, 1))),
        batch_rows_(static_cast<size_t>(std::max<int64_t>(batch_rows, 1))) {}

  Status Next(RowBatch* batch) override {
    if (vectors_.size() != ids_.size() * dim_) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the rows hold %d floats for %d ids; expected %d (ids x dimension %d)",
                          vectors_.size(), ids_.size(), ids_.size() * dim_, dim_));
    }
    const size_t take = std::min(ids_.size() - next_, batch_rows_);
    batch->ids = ids_.subspan(next_, take);
    batch->vectors = vectors_.subspan(next_ * dim_, take * dim_);
    next_ += take;
    return absl::OkStatus();
  }
  int64_t total_rows() const override { return static_cast<int64_t>(ids_.size()); }

 private:
  const absl::Span<const int64_t> ids_;
  const absl::Span<const float> vectors_;
  const size_t dim_;
  const size_t batch_rows_;
  size_t next_ = 0;
};

// Uninitialized memory for one section of a segment, from mmap so that the
// kernel can back it with huge pages: far fewer page faults for the hundreds
// of megabytes a segment may take.
template <typename T>
class Section {
 public:
  Section() = default;
  explicit Section(size_t count) : bytes_(std::max<size_t>(count * sizeof(T), 1)) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(p, bytes_, MADV_HUGEPAGE);  // a hint: failing costs only speed
#endif
    data_ = static_cast<T*>(p);
  }
  Section(Section&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(other.bytes_) {}
  Section& operator=(Section&& other) noexcept {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = other.bytes_;
    return *this;
  }
  ~Section() { Release(); }

  T* get() const { return data_; }
  T& operator[](size_t i) const { return data_[i]; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  void Release() {
    if (data_ != nullptr) munmap(data_, bytes_);
    data_ = nullptr;
  }
  T* data_ = nullptr;
  size_t bytes_ = 0;
};

// The sections of one segment, filled in place; every byte written out is
// first written here.
struct SegmentRows {
  size_t rows = 0;
  size_t capacity = 0;
  Section<uint8_t> blocks;
  Section<float> norms;
  Section<float> scalars;
  Section<int64_t> ids;
  Section<float> vectors;  // empty without keep_vectors

  size_t num_blocks() const { return (rows + kBlockRows - 1) / kBlockRows; }
};

// Codec::Encode's check, in a form that vectorizes: a float is NaN or
// infinite when its exponent bits are all ones. Bulk loads check gigabytes.
bool AllFinite(const float* values, size_t count) {
  uint32_t special = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof(bits));
    special |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return special == 0;
}

}  // namespace

std::unique_ptr<RowSource> RowSourceFromSpans(absl::Span<const int64_t> ids,
                                              absl::Span<const float> vectors, int dim,
                                              int64_t batch_rows) {
  return std::make_unique<SpanRowSource>(ids, vectors, dim, batch_rows);
}

class TurboQuantIndex::Impl::BulkLoader {
 public:
  BulkLoader(Impl& impl, RowSource& source, const BulkLoadOptions& options)
      : impl_(impl),
        source_(source),
        options_(options),
        dim_(static_cast<size_t>(impl.options_.dim)),
        block_bytes_(ScanLayout(*impl.codec_).block_bytes()),
        threads_(internal::ResolveThreads(options.threads)),
        segment_rows_(SegmentRowLimit()) {}

  // Encodes and writes every row; on success the caller commits segments().
  Status Run() {
    Status status = LoadAll();
    if (Status s = FinishWrite(); status.ok()) status = s;
    if (status.ok()) status = CheckUniqueIds();
    if (!status.ok()) Abandon();
    return status;
  }
  // Removes the files of the segments written (once nothing holds them).
  void Abandon() {
    for (const auto& segment : segments_) segment->MarkObsolete(impl_.fs_);
    segments_.clear();
  }
  const std::vector<std::shared_ptr<const Segment>>& segments() const { return segments_; }
  int64_t rows() const { return rows_taken_; }

 private:
  // Rows per segment: max_segment_rows, and what half the memory budget
  // holds (whole blocks, at least one).
  size_t SegmentRowLimit() const {
    const size_t row_bytes = block_bytes_ / kBlockRows + 2 * sizeof(float) + sizeof(int64_t) +
                             (impl_.options_.keep_vectors ? dim_ * sizeof(float) : 0);
    const int64_t budget = std::max<int64_t>(options_.memory_budget_bytes / 2, 0);
    const size_t by_memory =
        std::max(kBlockRows, static_cast<size_t>(budget) / row_bytes / kBlockRows * kBlockRows);
    return std::min(by_memory, static_cast<size_t>(impl_.tuning_.max_segment_rows));
  }

  Status LoadAll() {
    RowBatch batches[2];
    std::future<Status> fetch = std::async(std::launch::async, [&] { return Fetch(&batches[0]); });
    for (int current = 0;; current ^= 1) {
      if (Status s = fetch.get(); !s.ok()) return s;
      RowBatch& batch = batches[current];
      if (batch.ids.empty()) break;
      fetch = std::async(std::launch::async,
                         [&, other = current ^ 1] { return Fetch(&batches[other]); });
      if (Status s = Take(batch); !s.ok()) {
        fetch.wait();
        return s;
      }
      rows_taken_ += static_cast<int64_t>(batch.ids.size());
      if (options_.progress) options_.progress(rows_taken_);
    }
    return current_.rows > 0 ? StartWrite() : absl::OkStatus();
  }

  // The reading thread's part: the next batch, its shape and its ids.
  Status Fetch(RowBatch* batch) {
    batch->ids = {};
    batch->vectors = {};
    if (Status s = source_.Next(batch); !s.ok()) return s;
    const size_t n = batch->ids.size();
    if (batch->vectors.size() != n * dim_) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "rows %d..%d of the load: %d ids but %d floats; expected %d (ids x dimension %d)",
          rows_fetched_, rows_fetched_ + n - 1, n, batch->vectors.size(), n * dim_, dim_));
    }
    for (size_t i = 0; i < n; ++i) {
      const int64_t id = batch->ids[i];
      if (id < 0) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "id %d at row %d of the load is negative; ids must be >= 0", id, rows_fetched_ + i));
      }
      ascending_ &= id > last_id_;
      last_id_ = id;
    }
    rows_fetched_ += n;
    return absl::OkStatus();
  }

  // Ascending ids (the usual case: row numbers, sorted keys) are unique;
  // others are sorted once at the end, which costs less time and memory than
  // a hash set filled while loading.
  Status CheckUniqueIds() const {
    if (ascending_) return absl::OkStatus();
    std::vector<int64_t> ids;
    ids.reserve(static_cast<size_t>(rows_taken_));
    for (const auto& segment : segments_) {
      ids.insert(ids.end(), segment->ids().begin(), segment->ids().end());
    }
    std::sort(ids.begin(), ids.end());
    const auto twice = std::adjacent_find(ids.begin(), ids.end());
    if (twice == ids.end()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrFormat("id %d appears more than once in this bulk load", *twice));
  }

  // Appends a batch to the current segment, cutting segments as they fill.
  Status Take(const RowBatch& batch) {
    size_t done = 0;
    while (done < batch.ids.size()) {
      if (current_.capacity == 0) StartSegment(rows_taken_ + static_cast<int64_t>(done));
      const size_t take = std::min(batch.ids.size() - done, current_.capacity - current_.rows);
      if (Status s =
              Fill(batch.ids.subspan(done, take), batch.vectors.subspan(done * dim_, take * dim_),
                   static_cast<size_t>(rows_taken_) + done);
          !s.ok()) {
        return s;
      }
      done += take;
      if (current_.rows == current_.capacity) {
        if (Status s = StartWrite(); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  // With a row count from the source, the segments left share its rest
  // evenly (in whole blocks), rather than ending with a small one.
  void StartSegment(int64_t rows_before) {
    size_t capacity = segment_rows_;
    const int64_t hint = source_.total_rows();
    if (hint > rows_before) {
      const size_t rest = static_cast<size_t>(hint - rows_before);
      const size_t segments = (rest + segment_rows_ - 1) / segment_rows_;
      const size_t even = (rest + segments - 1) / segments;
      capacity = std::min(capacity, (even + kBlockRows - 1) / kBlockRows * kBlockRows);
    }
    // The sections of a segment already written are reused when they fit:
    // fresh memory costs a page fault and the kernel zeroing each page.
    if (spare_.capacity == capacity) {
      current_ = std::move(spare_);
      current_.rows = 0;
      return;
    }
    const size_t slots = (capacity + kBlockRows - 1) / kBlockRows * kBlockRows;
    current_.capacity = capacity;
    current_.blocks = Section<uint8_t>(slots / kBlockRows * block_bytes_);
    current_.norms = Section<float>(slots);
    current_.scalars = Section<float>(slots);
    current_.ids = Section<int64_t>(capacity);
    if (impl_.options_.keep_vectors) current_.vectors = Section<float>(capacity * dim_);
  }

  // Encodes rows into the current segment: the rows that complete its
  // partial last block here, the rest in block-aligned tasks on the threads.
  Status Fill(absl::Span<const int64_t> ids, absl::Span<const float> vectors, size_t first_row) {
    const size_t head =
        std::min(ids.size(), (kBlockRows - current_.rows % kBlockRows) % kBlockRows);
    if (head > 0) {
      if (Status s = EncodeRows(ids, vectors, first_row, 0, head); !s.ok()) return s;
    }
    const size_t tasks = (ids.size() - head + kTaskRows - 1) / kTaskRows;
    std::vector<Status> failed(tasks);
    internal::ParallelFor(tasks, threads_, [&](size_t task) {
      const size_t begin = head + task * kTaskRows;
      failed[task] =
          EncodeRows(ids, vectors, first_row, begin, std::min(ids.size(), begin + kTaskRows));
    });
    for (const Status& s : failed) {
      if (!s.ok()) return s;
    }
    current_.rows += ids.size();
    return absl::OkStatus();
  }

  // Rows [begin, end) of a Fill: they go to segment rows current_.rows +
  // begin..., which either start a block or complete the partial last one.
  Status EncodeRows(absl::Span<const int64_t> ids, absl::Span<const float> vectors,
                    size_t first_row, size_t begin, size_t end) {
    const size_t n = end - begin;
    const size_t row = current_.rows + begin;
    const float* input = vectors.data() + begin * dim_;
    std::memcpy(&current_.ids[row], &ids[begin], n * sizeof(int64_t));
    // Kept vectors are the caller's own, so that Get returns what was added.
    if (current_.vectors)
      std::memcpy(&current_.vectors[row * dim_], input, n * dim_ * sizeof(float));
    if (!AllFinite(input, n * dim_)) return NonFinite(ids, vectors, first_row, begin, end);
    if (impl_.options_.metric == Metric::kCosine) {
      thread_local std::vector<float> normalized;
      normalized.assign(input, input + n * dim_);
      internal::NormalizeRows(static_cast<int>(dim_), &normalized);
      input = normalized.data();
    }
    thread_local std::vector<uint8_t> codes;
    codes.resize(n * impl_.codec_->code_size());
    internal::EncodeRows(*impl_.codec_, input, n, codes.data());
    PlaceCodes(row, codes.data(), n);
    return absl::OkStatus();
  }

  // Puts n flat codes of rows row.. into the blocks through a ScanLayout, so
  // that the block format stays its business: a layout of the same rows
  // holds the same bytes wherever its first block is.
  void PlaceCodes(size_t row, const uint8_t* codes, size_t n) {
    const size_t block = row / kBlockRows;
    const size_t filled = row % kBlockRows;
    uint8_t* blocks = &current_.blocks[block * block_bytes_];
    float* norms = &current_.norms[block * kBlockRows];
    float* scalars = &current_.scalars[block * kBlockRows];
    ScanLayout layout = filled == 0
                            ? ScanLayout(*impl_.codec_)
                            : ScanLayout::View(*impl_.codec_, filled, blocks, norms, scalars);
    layout.Append(codes, n);
    const auto block_data = layout.block_data();
    std::memcpy(blocks, block_data.data(), block_data.size());
    std::memcpy(norms, layout.norm_data().data(), layout.norm_data().size() * sizeof(float));
    std::memcpy(scalars, layout.scalar_data().data(), layout.scalar_data().size() * sizeof(float));
  }

  Status NonFinite(absl::Span<const int64_t> ids, absl::Span<const float> vectors, size_t first_row,
                   size_t begin, size_t end) const {
    for (size_t i = begin; i < end; ++i) {
      for (size_t j = 0; j < dim_; ++j) {
        const float value = vectors[i * dim_ + j];
        if (std::isfinite(value)) continue;
        return absl::InvalidArgumentError(
            absl::StrFormat("id %d (row %d of the load) has a non-finite component %f at index %d",
                            ids[i], first_row + i, value, j));
      }
    }
    return absl::InternalError("the codec rejected finite vectors");
  }

  // Hands the full current segment to the writer thread, after the previous
  // write finished (so at most two segments are in memory).
  Status StartWrite() {
    if (Status s = FinishWrite(); !s.ok()) return s;
    writing_ = std::async(std::launch::async, [this, rows = std::move(current_)]() mutable {
      if (impl_.catalog_ == nullptr) return Written{BuildInMemory(rows), SegmentRows()};
      StatusOr<std::shared_ptr<const Segment>> segment = WriteFile(rows);
      return Written{std::move(segment), std::move(rows)};
    });
    current_ = SegmentRows();
    return absl::OkStatus();
  }

  Status FinishWrite() {
    if (!writing_.valid()) return absl::OkStatus();
    Written written = writing_.get();
    if (!written.segment.ok()) return written.segment.status();
    segments_.push_back(std::move(*written.segment));
    spare_ = std::move(written.rows);
    return absl::OkStatus();
  }

  storage::SegmentContents Contents(const SegmentRows& rows) const {
    storage::SegmentContents contents;
    contents.rows = rows.rows;
    contents.block_bytes = block_bytes_;
    contents.blocks = {rows.blocks.get(), rows.num_blocks() * block_bytes_};
    contents.norms = {rows.norms.get(), rows.num_blocks() * kBlockRows};
    contents.scalars = {rows.scalars.get(), rows.num_blocks() * kBlockRows};
    contents.ids = {rows.ids.get(), rows.rows};
    if (rows.vectors) contents.vectors = {{rows.vectors.get(), rows.rows * dim_}};
    return contents;
  }

  StatusOr<std::shared_ptr<const Segment>> WriteFile(const SegmentRows& rows) const {
    const uint64_t segment_id = impl_.ReserveSegmentId();
    const std::string path = internal::SegmentPath(impl_.dir_, segment_id);
    auto bytes = storage::WriteSegmentFile(impl_.fs_, path, impl_.options_,
                                           impl_.codec_->code_size(), Contents(rows));
    if (!bytes.ok()) return bytes.status();
    auto segment = impl_.OpenSealed(segment_id, rows.rows);
    if (!segment.ok()) storage::RemoveFile(*impl_.fs_, path).IgnoreError();
    return segment;
  }

  // The kept vectors stay in their section, which the segment then owns.
  StatusOr<std::shared_ptr<const Segment>> BuildInMemory(SegmentRows& rows) const {
    const storage::SegmentContents c = Contents(rows);
    ScanLayout layout =
        ScanLayout::View(*impl_.codec_, c.rows, c.blocks.data(), c.norms.data(), c.scalars.data())
            .Clone();
    internal::KeptVectors vectors;
    if (rows.vectors) {
      auto owner = std::make_shared<const Section<float>>(std::move(rows.vectors));
      vectors = internal::KeptVectors(owner->get(), rows.rows, dim_, owner);
    }
    return std::make_shared<const Segment>(std::move(layout),
                                           std::vector<int64_t>(c.ids.begin(), c.ids.end()),
                                           std::move(vectors), std::vector<uint64_t>());
  }

  Impl& impl_;
  RowSource& source_;
  const BulkLoadOptions& options_;
  const size_t dim_;
  const size_t block_bytes_;
  const int threads_;
  const size_t segment_rows_;

  // The reading thread's (one Fetch at a time).
  size_t rows_fetched_ = 0;
  bool ascending_ = true;  // every id so far larger than the one before
  int64_t last_id_ = -1;

  // The calling thread's.
  int64_t rows_taken_ = 0;
  SegmentRows current_;
  std::vector<std::shared_ptr<const Segment>> segments_;
  // Sections of the last segment written, for the next one to fill.
  SegmentRows spare_;
  // A segment handed to the writer thread, and its sections back for reuse
  // (none when they became the in-memory segment). Last, so that it is
  // waited for before the members it uses go.
  struct Written {
    StatusOr<std::shared_ptr<const Segment>> segment;
    SegmentRows rows;
  };
  std::future<Written> writing_;
};

uint64_t TurboQuantIndex::Impl::ReserveSegmentId() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  return next_segment_++;
}

StatusOr<BulkLoadResult> TurboQuantIndex::Impl::BulkLoad(RowSource& source,
                                                         const BulkLoadOptions& options) {
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (Status s = CheckWritable(); !s.ok()) return s;
  }
  BulkLoader loader(*this, source, options);
  if (Status s = loader.Run(); !s.ok()) return s;
  BulkLoadResult result;
  result.rows = loader.rows();
  result.segments = static_cast<int64_t>(loader.segments().size());
  if (result.rows == 0) return result;
  if (Status s = CommitBulkLoad(loader.segments(), &result.replaced); !s.ok()) return s;
  return result;
}

Status TurboQuantIndex::Impl::CommitBulkLoad(
    const std::vector<std::shared_ptr<const Segment>>& segments, int64_t* replaced) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (Status s = CheckWritable(); !s.ok()) {
    for (const auto& segment : segments) segment->MarkObsolete(fs_);
    return s;
  }
  const std::shared_ptr<const Snapshot> current = Current();
  // Into an empty index nothing is replaced, and the id map, which would
  // hold only the new rows, is left to be built on first need.
  const bool empty = current->live_count() == 0;
  if (empty) {
    locations_built_ = false;
    locations_.clear();
  }
  std::vector<Location> old_rows;
  if (!empty) {
    EnsureLocations();
    for (const auto& segment : segments) {
      for (int64_t id : segment->ids()) {
        if (auto it = locations_.find(id); it != locations_.end()) old_rows.push_back(it->second);
      }
    }
  }
  auto next = std::make_shared<Snapshot>(*current);
  rocksdb::WriteBatch batch;
  DeleteRows(old_rows, next.get(), &batch);
  for (const auto& segment : segments) {
    if (!segment->has_file()) continue;
    batch.Put(storage::Catalog::SegmentKey(segment->segment_id()),
              storage::Catalog::EncodeSegment(
                  {segment->segment_id(), segment->rows(), segment->file()->file_bytes()}));
  }
  if (catalog_ != nullptr) {
    batch.Put(storage::Catalog::kNextSegmentKey, storage::Catalog::EncodeCounter(next_segment_));
  }
  // A failed batch may still have reached the disk, so its files stay: the
  // next Open keeps them if the catalog names them, else removes them.
  if (Status s = WriteCatalog(&batch); !s.ok()) return s;
  auto at = next->segments.begin() + static_cast<std::ptrdiff_t>(SealedInsertPoint(*next));
  for (const auto& segment : segments) {
    at = next->segments.insert(at, {segment, nullptr, segment->rows()}) + 1;
    if (!locations_built_) continue;
    for (size_t row = 0; row < segment->rows(); ++row) {
      locations_[segment->id(row)] = {segment.get(), row};
      largest_id_ = std::max(largest_id_, segment->id(row));
    }
  }
  Publish(next);
  *replaced = static_cast<int64_t>(old_rows.size());
  return absl::OkStatus();
}

}  // namespace turboquant
