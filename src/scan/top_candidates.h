// The best `keep` candidates of one query, held in the caller's vector, so a
// scan merges into what earlier calls found. Not a heap: a candidate that
// beats the threshold is appended, and only when 2 * keep have gathered are
// they cut back to the best keep, which raises the threshold. A push is then
// one compare and one store instead of a heap sift, and the cut costs O(keep)
// per keep pushes. The threshold is what the kernels test whole blocks
// against; between cuts it may lag below the true keep-th best, which only
// admits a few more candidates (a siftsmall query: ~500 pushes, ~7.5 cuts of
// ~120). Ties go to the smaller row.
#ifndef TURBOQUANT_SRC_SCAN_TOP_CANDIDATES_H_
#define TURBOQUANT_SRC_SCAN_TOP_CANDIDATES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
    kept_.push_back(Make(score, row));
    if (kept_.size() >= 2 * keep_) Cut();
  }

 private:
  // A function object, not a function, so that nth_element inlines it.
  struct Greater {
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.score > b.score || (a.score == b.score && a.row < b.row);
    }
  };
  // The candidate {score, row} formed in a register: built field by field,
  // GCC 12 stored the two 4-byte halves on the stack and copied them into the
  // vector as one 8-byte load, which stalls store forwarding (~9% of a
  // single-query scan, in Push).
  static Candidate Make(float score, uint32_t row) {
    static_assert(sizeof(Candidate) == 8 && offsetof(Candidate, row) == 4, "{score, row}");
    uint32_t bits;
    std::memcpy(&bits, &score, sizeof(bits));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    const uint64_t word = (uint64_t{bits} << 32) | row;
#else
    const uint64_t word = (uint64_t{row} << 32) | bits;
#endif
    Candidate c;
    std::memcpy(&c, &word, sizeof(c));
    return c;
  }

  // Below this many candidates a range is finished by nth_element.
  static constexpr size_t kSmallRange = 16;

  // The order of Greater as one integer: the score's bits made monotone
  // (+0 for -0, which compares equal to it) above the complement of the row.
  static uint64_t Key(const Candidate& c) {
    const float score = c.score + 0.0f;
    uint32_t bits;
    std::memcpy(&bits, &score, sizeof(bits));
    bits ^= static_cast<uint32_t>(static_cast<int32_t>(bits) >> 31) | 0x80000000u;
    return (uint64_t{bits} << 32) | ~c.row;
  }
  static uint64_t Median3(uint64_t a, uint64_t b, uint64_t c) {
    return std::max(std::min(a, b), std::min(std::max(a, b), c));
  }

  // Keeps the best keep_ and sets the threshold to the worst of them.
  // std::nth_element alone spent most of a cut in mispredicted compares (the
  // order of fresh candidates is random): ~15% of a siftsmall query. This
  // quickselect partitions without a data-dependent branch (every element is
  // swapped, the boundary advances by the compare), ~2x faster, and leaves
  // only the last few candidates to nth_element.
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
    Candidate* v = kept_.data();
    const size_t target = keep_ - 1;  // where the keep-th best goes
    size_t lo = 0, hi = kept_.size();
    while (hi - lo > kSmallRange) {
      const uint64_t pivot = Median3(Key(v[lo]), Key(v[lo + (hi - lo) / 2]), Key(v[hi - 1]));
      // [lo, i) gets the candidates at least as good as the pivot. Copies of
      // the 8-byte candidates go through memcpy so that each is one load and
      // one store (two 4-byte stores read back as 8 bytes stall forwarding).
      size_t i = lo;
      for (size_t j = lo; j < hi; ++j) {
        Candidate x, y;
        std::memcpy(&x, &v[j], sizeof(x));
        std::memcpy(&y, &v[i], sizeof(y));
        std::memcpy(&v[j], &y, sizeof(y));
        std::memcpy(&v[i], &x, sizeof(x));
        i += Key(x) >= pivot;
      }
      // The median of three distinct keys leaves candidates on both sides;
      // equal keys (a row pushed twice) may not, and nth_element finishes.
      if (i == lo || i == hi) break;
      if (target < i) {
        hi = i;
      } else {
        lo = i;
      }
    }
    std::nth_element(v + lo, v + target, v + hi, Greater());
    kept_.resize(keep_);
    threshold_ = kept_.back().score;
  }

  std::vector<Candidate>& kept_;
  size_t keep_;
  float threshold_;
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_TOP_CANDIDATES_H_
