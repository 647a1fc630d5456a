// Bulk loading (TurboQuantIndex::BulkLoad): rows streamed from a RowSource,
// encoded on several threads straight into sealed segments, and committed
// at once. The input may be larger than memory: a few batches and the
// segments being filled and written are all that is held.
#ifndef TURBOQUANT_BULK_LOAD_H_
#define TURBOQUANT_BULK_LOAD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "turboquant/status.h"

namespace turboquant {

// One batch of rows: ids[i] is the id of row i, vectors holds ids.size() rows
// of the index's dimension, row-major. The spans point either into the
// source's own memory or into the storage below, which the source may fill
// (the load keeps two batches and hands each back to Next, so capacity is
// reused).
struct RowBatch {
  absl::Span<const int64_t> ids;
  absl::Span<const float> vectors;
  std::vector<int64_t> id_storage;
  std::vector<float> vector_storage;
};

// Where a bulk load reads its rows from.
class RowSource {
 public:
  virtual ~RowSource() = default;
  // Points `batch` at the next rows (any number of them), or at none at the
  // end. What it points to must stay valid until Next is called again with
  // the other batch object, because the load reads the next batch while it
  // encodes this one. Called from one thread at a time, but not necessarily
  // the thread that called BulkLoad. An error ends the load, which then
  // changes nothing.
  virtual Status Next(RowBatch* batch) = 0;
  // The rows the source will yield, or -1 when unknown; used for progress
  // and to size buffers, never trusted for correctness.
  virtual int64_t total_rows() const { return -1; }
};

// A source over arrays in memory, in batches of `batch_rows` rows, without
// copying them (they must outlive the load). `vectors` must hold ids.size()
// rows of `dim` floats; the load checks that.
std::unique_ptr<RowSource> RowSourceFromSpans(absl::Span<const int64_t> ids,
                                              absl::Span<const float> vectors, int dim,
                                              int64_t batch_rows = 16384);

struct BulkLoadOptions {
  // Encoding threads; 0 = every hardware thread.
  int threads = 0;
  // Bytes of encoded rows (codes, ids, kept vectors) held in memory: a
  // segment is cut at half of this, so that one segment fills while the
  // previous one is written. Segments are also cut at
  // OpenOptions::max_segment_rows. Smaller segments overlap more writing
  // with encoding (192 MiB loads Fashion-MNIST with kept vectors as three
  // segments, 256 MiB as two, measurably slower); larger ones are fewer to
  // search.
  int64_t memory_budget_bytes = int64_t{192} << 20;
  // Called on the thread that called BulkLoad with the rows taken so far,
  // after every batch.
  std::function<void(int64_t rows)> progress;
};

struct BulkLoadResult {
  int64_t rows = 0;      // rows loaded
  int64_t replaced = 0;  // of them, ids that were in the index before (upserts)
  int64_t segments = 0;  // segments written
};

}  // namespace turboquant

#endif  // TURBOQUANT_BULK_LOAD_H_
