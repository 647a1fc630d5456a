// Which rows of a segment a filtered search may return, as the bitmap the
// scan skips blocks by.
#ifndef TURBOQUANT_SRC_INDEX_FILTER_ROWS_H_
#define TURBOQUANT_SRC_INDEX_FILTER_ROWS_H_

#include "src/index/snapshot.h"
#include "turboquant/filter.h"

namespace turboquant::internal {

struct FilterAccess {
  // The rows of `segment` that are live and match `filter`; null when every
  // row may be returned. AllowOnly and Exclude look their ids up in the
  // segment's id index (O(listed ids) probes, not a pass over the rows) on
  // the filter's first search of the segment, and keep the rows found for
  // later searches; FromBitmap tests the id of every row.
  static LiveRows SearchableRows(const Filter& filter, const SnapshotSegment& segment);
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_FILTER_ROWS_H_
