// Which ids a search may return.
//
// A filter means exactly what it says: AllowOnly({}) matches nothing (a
// tenant whose allow-list resolved to no ids sees no rows), Exclude({})
// matches every id, and the default Filter() does not filter at all. The
// same meaning holds in the Python module and the tqindex CLI.
#ifndef TURBOQUANT_FILTER_H_
#define TURBOQUANT_FILTER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"

namespace turboquant {
namespace internal {
struct FilterAccess;  // how searches turn a filter into rows (src/index/filter_rows.h)
}  // namespace internal

class Filter {
 public:
  // Matches every id.
  Filter();
  // Matches the listed ids only; an empty list matches nothing.
  static Filter AllowOnly(absl::Span<const int64_t> ids);
  // Matches every id except the listed ones.
  static Filter Exclude(absl::Span<const int64_t> ids);
  // A caller-built bitmap over ids: id i matches when bit i % 64 of
  // words[i / 64] is set; ids past the end of the bitmap do not match. The
  // bitmap is shared, not copied, so one can serve many searches.
  static Filter FromBitmap(std::shared_ptr<const std::vector<uint64_t>> words);

  bool Matches(int64_t id) const;
  // True for the default filter: searches skip filtering altogether.
  bool matches_all() const { return kind_ == Kind::kAll; }

 private:
  friend struct internal::FilterAccess;
  enum class Kind { kAll, kAllow, kExclude, kBitmap };
  class IdSet;
  Filter(Kind kind, std::shared_ptr<const IdSet> ids,
         std::shared_ptr<const std::vector<uint64_t>> bitmap);

  Kind kind_;
  std::shared_ptr<const IdSet> ids_;                     // kAllow, kExclude
  std::shared_ptr<const std::vector<uint64_t>> bitmap_;  // kBitmap
};

}  // namespace turboquant

#endif  // TURBOQUANT_FILTER_H_
