// A consistent, immutable view of the index that a search runs on: the
// segments and which of their rows are live. Writers publish a new snapshot
// after every change; readers keep whichever one they started with.
#ifndef TURBOQUANT_SRC_INDEX_SNAPSHOT_H_
#define TURBOQUANT_SRC_INDEX_SNAPSHOT_H_

#include <memory>
#include <vector>

#include "src/index/segment.h"

namespace turboquant::internal {

struct SnapshotSegment {
  std::shared_ptr<const Segment> segment;
  LiveRows live;         // null = every row live
  size_t live_rows = 0;
};

struct Snapshot {
  std::vector<SnapshotSegment> segments;  // sealed first, then unsealed chunks

  int64_t live_count() const {
    int64_t count = 0;
    for (const SnapshotSegment& s : segments) count += static_cast<int64_t>(s.live_rows);
    return count;
  }
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_SNAPSHOT_H_
