#include "turboquant/filter.h"

#include <utility>

#include "absl/container/flat_hash_set.h"

namespace turboquant {

// Defined here so that the public header does not pull in Abseil's hash set.
class Filter::IdSet : public absl::flat_hash_set<int64_t> {
 public:
  explicit IdSet(absl::Span<const int64_t> ids)
      : absl::flat_hash_set<int64_t>(ids.begin(), ids.end()) {}
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

}  // namespace turboquant
