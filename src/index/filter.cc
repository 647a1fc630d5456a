#include "turboquant/filter.h"

#include <algorithm>
#include <utility>

#include "src/index/filter_rows.h"

namespace turboquant {

// The listed ids, sorted and unique: Matches is a binary search, and a
// search finds the rows of the ids by merging them with a segment's sorted
// ids (Segment::ForEachRowOf) instead of testing every row.
class Filter::IdSet {
 public:
  explicit IdSet(absl::Span<const int64_t> ids) : ids_(ids.begin(), ids.end()) {
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
  }
  bool contains(int64_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  absl::Span<const int64_t> ids() const { return ids_; }

 private:
  std::vector<int64_t> ids_;
};

Filter::Filter() : Filter(Kind::kAll, nullptr, nullptr) {}

Filter::Filter(Kind kind, std::shared_ptr<const IdSet> ids,
               std::shared_ptr<const std::vector<uint64_t>> bitmap)
    : kind_(kind), ids_(std::move(ids)), bitmap_(std::move(bitmap)) {}

Filter Filter::AllowOnly(absl::Span<const int64_t> ids) {
  return Filter(Kind::kAllow, std::make_shared<const IdSet>(ids), nullptr);
}

Filter Filter::Exclude(absl::Span<const int64_t> ids) {
  return Filter(Kind::kExclude, std::make_shared<const IdSet>(ids), nullptr);
}

Filter Filter::FromBitmap(std::shared_ptr<const std::vector<uint64_t>> words) {
  if (words == nullptr) words = std::make_shared<const std::vector<uint64_t>>();
  return Filter(Kind::kBitmap, nullptr, std::move(words));
}

bool Filter::Matches(int64_t id) const {
  switch (kind_) {
    case Kind::kAll:
      return true;
    case Kind::kAllow:
      return ids_->contains(id);
    case Kind::kExclude:
      return !ids_->contains(id);
    case Kind::kBitmap: {
      const uint64_t bit = static_cast<uint64_t>(id);
      return id >= 0 && bit / 64 < bitmap_->size() && ((*bitmap_)[bit / 64] >> (bit % 64) & 1) != 0;
    }
  }
  return false;
}

namespace internal {
namespace {

using Bitmap = std::vector<uint64_t>;

void SetRow(Bitmap* rows, size_t row) { (*rows)[row / 64] |= uint64_t{1} << (row % 64); }
void ClearRow(Bitmap* rows, size_t row) { (*rows)[row / 64] &= ~(uint64_t{1} << (row % 64)); }

// Calls fn(row) for every row of `segment` whose id `ids` (sorted, unique)
// lists: by probing the segment's id index with each listed id, or, when the
// segment has fewer rows than the list has ids, by looking each row's id up
// in the list.
template <typename Fn>
void ForEachListedRow(const Segment& segment, absl::Span<const int64_t> ids, Fn fn) {
  if (ids.size() < segment.rows()) {
    segment.ForEachRowOf(ids, fn);
    return;
  }
  for (size_t row = 0; row < segment.rows(); ++row) {
    if (std::binary_search(ids.begin(), ids.end(), segment.id(row))) fn(row);
  }
}

}  // namespace

LiveRows FilterAccess::SearchableRows(const Filter& filter, const SnapshotSegment& segment) {
  const Segment& rows = *segment.segment;
  const size_t words = (rows.rows() + 63) / 64;
  switch (filter.kind_) {
    case Filter::Kind::kAll:
      return segment.live;
    case Filter::Kind::kAllow: {
      auto allowed = std::make_shared<Bitmap>(words, 0);
      ForEachListedRow(rows, filter.ids_->ids(), [&](size_t row) {
        if (IsLive(segment.live, row)) SetRow(allowed.get(), row);
      });
      return allowed;
    }
    case Filter::Kind::kExclude: {
      auto allowed = segment.live ? std::make_shared<Bitmap>(*segment.live)
                                  : std::make_shared<Bitmap>(words, ~uint64_t{0});
      ForEachListedRow(rows, filter.ids_->ids(), [&](size_t row) { ClearRow(allowed.get(), row); });
      return allowed;
    }
    case Filter::Kind::kBitmap: {
      auto allowed = std::make_shared<Bitmap>(words, 0);
      for (size_t row = 0; row < rows.rows(); ++row) {
        if (IsLive(segment.live, row) && filter.Matches(rows.id(row))) SetRow(allowed.get(), row);
      }
      return allowed;
    }
  }
  return nullptr;
}

}  // namespace internal
}  // namespace turboquant
