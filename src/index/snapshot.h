// A consistent, immutable view of the index that a search runs on: the
// segments and which of their rows are live. Writers publish a new snapshot
// after every change; readers keep whichever one they started with.
#ifndef TURBOQUANT_SRC_INDEX_SNAPSHOT_H_
#define TURBOQUANT_SRC_INDEX_SNAPSHOT_H_

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <thread>
#include <utility>
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

  // The segment and row where `id` is live, if it is: probes each segment's
  // id index, so Get and Contains need no lock and no id map.
  bool FindLive(int64_t id, const Segment** segment, size_t* row) const {
    for (auto s = segments.rbegin(); s != segments.rend(); ++s) {
      if (s->live_rows == 0) continue;
      bool found = false;
      s->segment->ForEachRowOf({&id, 1}, [&](size_t r) {
        if (!found && IsLive(s->live, r)) found = true, *row = r;
      });
      if (found) {
        *segment = s->segment.get();
        return true;
      }
    }
    return false;
  }
};

class SnapshotRef;

// The current snapshot, published through one atomic word so that readers
// take it without a mutex and never wait for a writer (ARCHITECTURE.md 6).
//
// Split reference counting (Williams, "C++ Concurrency in Action" 7.2.4):
// the word holds the current node's address in its low 48 bits and, in its
// high 16, the readers that took that node while it was current. A reader
// takes a node with one fetch_add on the word and gives it back with one
// compare-exchange while the node is still current. Store swaps the word and
// moves the readers counted in it into the old node's own count; readers that
// finish after that decrement the node's count, and whoever brings it to zero
// deletes the node (and so drops the snapshot's last reference held here).
// A node cannot be freed while a reader holds it, so its address cannot come
// back as a different node (no ABA). Plain std::atomic, so ThreadSanitizer
// sees every ordering.
class SnapshotHolder {
 public:
  explicit SnapshotHolder(std::shared_ptr<const Snapshot> snapshot) { Store(std::move(snapshot)); }
  ~SnapshotHolder() { Retire(word_.exchange(0, std::memory_order_acq_rel)); }
  SnapshotHolder(const SnapshotHolder&) = delete;
  SnapshotHolder& operator=(const SnapshotHolder&) = delete;

  // The current snapshot, held until the returned reference is destroyed.
  SnapshotRef Load() const;

  // Makes `snapshot` current; readers of the previous one keep it.
  void Store(std::shared_ptr<const Snapshot> snapshot) {
    Node* node = new Node{std::move(snapshot), {0}};
    const uint64_t address = reinterpret_cast<uintptr_t>(node);
    // Every 64-bit platform we build for gives user space at most 48 bits.
    if (address >> kAddressBits != 0) std::abort();
    Retire(word_.exchange(address, std::memory_order_acq_rel));
  }

 private:
  friend class SnapshotRef;
  struct Node {
    std::shared_ptr<const Snapshot> snapshot;
    // Releases after the node stopped being current, minus the readers
    // Retire moved in: it may go negative before Retire runs.
    std::atomic<int64_t> refs;
  };
  static constexpr int kAddressBits = 48;
  static constexpr uint64_t kOneReader = uint64_t{1} << kAddressBits;
  static constexpr uint64_t kAddressMask = kOneReader - 1;
  // Far below the 2^16 the word can count, so that readers racing past the
  // check cannot overflow it.
  static constexpr uint64_t kMaxReaders = uint64_t{1} << 15;

  static Node* NodeOf(uint64_t word) { return reinterpret_cast<Node*>(word & kAddressMask); }

  // The word a Store or the destructor replaced: its readers move into the
  // node's count.
  static void Retire(uint64_t word) {
    Node* node = NodeOf(word);
    if (node == nullptr) return;
    const int64_t readers = static_cast<int64_t>(word >> kAddressBits);
    if (node->refs.fetch_add(readers, std::memory_order_acq_rel) + readers == 0) delete node;
  }

  void Release(Node* node) const {
    uint64_t word = word_.load(std::memory_order_relaxed);
    while (NodeOf(word) == node) {
      if (word_.compare_exchange_weak(word, word - kOneReader, std::memory_order_release,
                                      std::memory_order_relaxed)) {
        return;
      }
    }
    // Retired meanwhile: this reader was counted in the node by Retire.
    if (node->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete node;
  }

  mutable std::atomic<uint64_t> word_{0};
};

// A reader's hold on one snapshot (move-only). Converts to a shared_ptr for
// callers that keep the snapshot past the reference.
class SnapshotRef {
 public:
  SnapshotRef(SnapshotRef&& other) noexcept
      : holder_(other.holder_), node_(std::exchange(other.node_, nullptr)) {}
  SnapshotRef& operator=(SnapshotRef&&) = delete;
  ~SnapshotRef() {
    if (node_ != nullptr) holder_->Release(node_);
  }

  const Snapshot& operator*() const { return *node_->snapshot; }
  const Snapshot* operator->() const { return node_->snapshot.get(); }
  operator std::shared_ptr<const Snapshot>() const { return node_->snapshot; }

 private:
  friend class SnapshotHolder;
  SnapshotRef(const SnapshotHolder* holder, SnapshotHolder::Node* node)
      : holder_(holder), node_(node) {}

  const SnapshotHolder* holder_;
  SnapshotHolder::Node* node_;
};

inline SnapshotRef SnapshotHolder::Load() const {
  for (;;) {
    const uint64_t word = word_.fetch_add(kOneReader, std::memory_order_acquire);
    SnapshotRef ref(this, NodeOf(word));
    if ((word >> kAddressBits) < kMaxReaders) return ref;
    // Tens of thousands of readers at once: give this place back and wait.
    std::this_thread::yield();
  }
}

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_SNAPSHOT_H_
