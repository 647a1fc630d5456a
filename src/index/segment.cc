#include "src/index/segment.h"

#include <algorithm>
#include <numeric>

namespace turboquant::internal {

Segment::Segment(ScanLayout layout, std::vector<int64_t> ids, KeptVectors vectors,
                 std::vector<uint64_t> sequences)
    : layout_(std::move(layout)),
      owned_ids_(std::move(ids)),
      sequences_(std::move(sequences)),
      ids_(owned_ids_.data()),
      vectors_(std::move(vectors)) {}

Segment::Segment(uint64_t segment_id, const Codec& codec, std::unique_ptr<storage::SegmentFile> file)
    : segment_id_(segment_id),
      file_(std::move(file)),
      layout_(ScanLayout::View(codec, file_->contents().rows, file_->contents().blocks.data(),
                               file_->contents().norms.data(), file_->contents().scalars.data())),
      ids_(file_->contents().ids.data()) {
  const storage::SegmentContents& c = file_->contents();
  if (!c.vectors.empty() && c.rows > 0) {
    vectors_ = KeptVectors(c.vectors[0].data(), c.rows, c.vectors[0].size() / c.rows, nullptr);
  }
}

Segment::~Segment() {
  if (obsolete_in_ != nullptr && file_ != nullptr) {
    storage::RemoveFile(*obsolete_in_, file_->path()).IgnoreError();
  }
}

const Segment::IdIndex& Segment::id_index() const {
  std::call_once(id_index_once_, [this] {
    const absl::Span<const int64_t> stored = ids();
    if (std::is_sorted(stored.begin(), stored.end())) return;
    id_index_.rows.resize(rows());
    std::iota(id_index_.rows.begin(), id_index_.rows.end(), uint32_t{0});
    std::sort(id_index_.rows.begin(), id_index_.rows.end(),
              [&](uint32_t a, uint32_t b) { return stored[a] < stored[b]; });
    id_index_.sorted_ids.resize(rows());
    for (size_t i = 0; i < rows(); ++i) id_index_.sorted_ids[i] = stored[id_index_.rows[i]];
  });
  return id_index_;
}

void Segment::MarkObsolete(storage::FileSystemPtr fs) const { obsolete_in_ = std::move(fs); }

storage::SegmentContents Segment::Contents() const {
  storage::SegmentContents contents;
  contents.rows = rows();
  contents.block_bytes = layout_.block_bytes();
  contents.blocks = layout_.block_data();
  contents.norms = layout_.norm_data();
  contents.scalars = layout_.scalar_data();
  contents.ids = ids();
  contents.vectors = vectors_.Spans();
  return contents;
}

}  // namespace turboquant::internal
