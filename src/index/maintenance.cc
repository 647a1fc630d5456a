// Verify and Stats of a TurboQuantIndex.
#include "src/index/index_impl.h"

namespace turboquant {

using internal::Segment;
using internal::Snapshot;
using internal::SnapshotSegment;
namespace fs = std::filesystem;

Status TurboQuantIndex::Impl::Verify() const {
  const std::shared_ptr<const Snapshot> current = Current();
  for (const SnapshotSegment& s : current->segments) {
    if (!s.segment->has_file()) continue;
    const storage::SegmentFile& file = *s.segment->file();
    std::error_code error;
    const uintmax_t size = fs::file_size(file.path(), error);
    // A reader's mapping outlives the file when the writer compacts it away.
    const bool removed_by_writer = error == std::errc::no_such_file_or_directory &&
                                   catalog_ != nullptr && catalog_->read_only();
    if (!removed_by_writer && (error || size != file.file_bytes())) {
      return absl::DataLossError(absl::StrFormat(
          "%s: segment file is missing or was changed (%d bytes mapped, %s on disk)", file.path(),
          file.file_bytes(), error ? error.message() : std::to_string(size) + " bytes"));
    }
    if (Status status = file.VerifyChecksums(); !status.ok()) return status;
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  return catalog_ ? catalog_->VerifyChecksums() : absl::OkStatus();
}

IndexStats TurboQuantIndex::Impl::Stats() const {
  const std::shared_ptr<const Snapshot> current = Current();
  IndexStats stats;
  // What a vector holds in the scan blocks (codes + norm + scalar), which is
  // what memory and segment files hold per row, not the codec's flat code.
  stats.bytes_per_vector = internal::ScanLayout(*codec_).bytes_per_vector();
  for (const SnapshotSegment& s : current->segments) {
    stats.count += static_cast<int64_t>(s.live_rows);
    stats.deleted += static_cast<int64_t>(s.segment->rows() - s.live_rows);
    stats.segments += 1;
    stats.code_bytes += s.segment->layout().memory_bytes();
    if (!s.segment->kept_vectors().empty()) {
      stats.vector_bytes += s.segment->rows() * options_.dim * sizeof(float);
    }
    if (s.segment->has_file()) stats.bytes_on_disk += s.segment->file()->file_bytes();
    if (s.live != nullptr) stats.live_bitmap_bytes += s.live->HeldBytes();
    if (s.segment->unsealed()) {
      stats.unsealed += static_cast<int64_t>(s.segment->rows());
      stats.unsealed_bytes += s.segment->layout().memory_bytes() +
                              s.segment->rows() * (sizeof(int64_t) + sizeof(uint64_t));
      if (!s.segment->kept_vectors().empty()) {
        stats.unsealed_bytes += s.segment->rows() * options_.dim * sizeof(float);
      }
    }
  }
  stats.seals = seals_;
  stats.compactions = compactions_;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    // A flat_hash_map slot per bucket plus one control byte.
    stats.id_map_bytes = locations_.capacity() * (sizeof(*locations_.begin()) + 1);
  }
  if (!dir_.empty()) {
    std::error_code error;
    // Advanced with increment(error): a range-for would throw on a file
    // that RocksDB removes meanwhile.
    fs::recursive_directory_iterator entry(fs::path(dir_) / "catalog", error);
    for (; !error && entry != fs::recursive_directory_iterator(); entry.increment(error)) {
      std::error_code file_error;
      const uintmax_t bytes = entry->is_regular_file(file_error) ? entry->file_size(file_error) : 0;
      if (!file_error) stats.bytes_on_disk += bytes;
    }
  }
  return stats;
}

}  // namespace turboquant
