// The best `keep` candidates of one query: a min-heap on score held in the
// caller's vector, so a scan merges into what earlier calls found. The heap
// minimum is the admission threshold the kernels test whole blocks against.
#ifndef TURBOQUANT_SRC_SCAN_TOP_CANDIDATES_H_
#define TURBOQUANT_SRC_SCAN_TOP_CANDIDATES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "src/scan/scan.h"

namespace turboquant::internal {

class TopCandidates {
 public:
  // Takes over *out (any order, possibly more than keep entries).
  TopCandidates(std::vector<Candidate>* out, size_t keep) : heap_(*out), keep_(keep) {
    std::make_heap(heap_.begin(), heap_.end(), Greater());
    while (heap_.size() > keep_) {
      std::pop_heap(heap_.begin(), heap_.end(), Greater());
      heap_.pop_back();
    }
    UpdateThreshold();
  }

  // A candidate must score strictly above this to enter.
  float threshold() const { return threshold_; }

  void Push(float score, uint32_t row) {
    if (!(score > threshold_)) return;
    if (heap_.size() < keep_) {
      heap_.push_back({score, row});
      std::push_heap(heap_.begin(), heap_.end(), Greater());
    } else {
      std::pop_heap(heap_.begin(), heap_.end(), Greater());
      heap_.back() = {score, row};
      std::push_heap(heap_.begin(), heap_.end(), Greater());
    }
    UpdateThreshold();
  }

 private:
  // A function object, not a function: std::push_heap then inlines the
  // comparison instead of calling it through a pointer on every step.
  struct Greater {
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.score > b.score || (a.score == b.score && a.row < b.row);
    }
  };
  void UpdateThreshold() {
    if (keep_ == 0) {
      threshold_ = std::numeric_limits<float>::infinity();
    } else if (heap_.size() < keep_) {
      threshold_ = -std::numeric_limits<float>::infinity();
    } else {
      threshold_ = heap_.front().score;
    }
  }

  std::vector<Candidate>& heap_;
  size_t keep_;
  float threshold_;
};

inline bool RowAllowed(const uint64_t* allowed, size_t row) {
  return allowed == nullptr || ((allowed[row / 64] >> (row % 64)) & 1) != 0;
}

// The allowed bits of the 32 rows of block b (all ones without a bitmap).
inline uint32_t BlockAllowedBits(const uint64_t* allowed, size_t b) {
  if (allowed == nullptr) return 0xFFFFFFFFu;
  return static_cast<uint32_t>(allowed[b / 2] >> (32 * (b % 2)));
}

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_TOP_CANDIDATES_H_
