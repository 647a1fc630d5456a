// The best `keep` candidates of one query, held in the caller's vector, so a
// scan merges into what earlier calls found. Not a heap: a candidate that
// beats the threshold is appended, and only when 2 * keep have gathered are
// they cut back to the best keep (nth_element), which raises the threshold.
// A push is then one compare and one store instead of a heap sift, and the
// cut costs O(keep) per keep pushes. The threshold is what the kernels test
// whole blocks against; between cuts it may lag below the true keep-th best,
// which only admits a few more candidates. Ties go to the smaller row.
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
  // Takes over *out (any order, possibly more than keep entries); on
  // destruction *out holds the best keep of everything pushed.
  TopCandidates(std::vector<Candidate>* out, size_t keep) : kept_(*out), keep_(keep) {
    kept_.reserve(2 * keep_);
    Cut();
  }
  ~TopCandidates() { Cut(); }
  TopCandidates(const TopCandidates&) = delete;
  TopCandidates& operator=(const TopCandidates&) = delete;
  TopCandidates(TopCandidates&&) = default;

  // A candidate must score strictly above this to enter.
  float threshold() const { return threshold_; }

  void Push(float score, uint32_t row) {
    if (!(score > threshold_)) return;
    kept_.push_back({score, row});
    if (kept_.size() >= 2 * keep_) Cut();
  }

 private:
  // A function object, not a function, so that nth_element inlines it.
  struct Greater {
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.score > b.score || (a.score == b.score && a.row < b.row);
    }
  };
  // Keeps the best keep_ and sets the threshold to the worst of them.
  void Cut() {
    if (keep_ == 0) {
      kept_.clear();
      threshold_ = std::numeric_limits<float>::infinity();
      return;
    }
    if (kept_.size() < keep_) {
      threshold_ = -std::numeric_limits<float>::infinity();
      return;
    }
    std::nth_element(kept_.begin(), kept_.begin() + (keep_ - 1), kept_.end(), Greater());
    kept_.resize(keep_);
    threshold_ = kept_.back().score;
  }

  std::vector<Candidate>& kept_;
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
