// Which rows of a segment a scan may return, as a bitmap held in pages.
//
// A segment's live rows change with every delete, and each snapshot must keep
// the bitmap it was published with. Held whole, a delete of one row of a
// 1M-row segment copied 128 KiB; held in pages of kPageRows rows, a delete
// copies the page table and the one page it changes, and the snapshots share
// every other page. Pages that are all set or all clear point at one shared,
// never-written page, so a bitmap of a fresh segment costs only its table.
#ifndef TURBOQUANT_SRC_SCAN_ROW_MASK_H_
#define TURBOQUANT_SRC_SCAN_ROW_MASK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace turboquant::internal {

inline constexpr size_t kMaskPageRows = 16384;  // 512 blocks of 32 rows, 2 KiB
inline constexpr size_t kMaskPageWords = kMaskPageRows / 64;

// What the scan kernels read: the page table of a RowBitmap. A default
// RowMask admits every row.
struct RowMask {
  const uint64_t* const* pages = nullptr;

  bool all() const { return pages == nullptr; }
  bool Row(size_t row) const {
    return all() || (pages[row / kMaskPageRows][row % kMaskPageRows / 64] >> (row % 64) & 1) != 0;
  }
  // The bits of the 32 rows of block b (all ones for a default mask).
  uint32_t Block(size_t b) const {
    if (all()) return 0xFFFFFFFFu;
    constexpr size_t kPageBlocks = kMaskPageRows / 32;
    const uint64_t word = pages[b / kPageBlocks][b % kPageBlocks / 2];
    return static_cast<uint32_t>(word >> (32 * (b % 2)));
  }
};

// An owned bitmap over `rows` rows, copy-on-write by page: copies share their
// pages, and Set/Clear copy a page only while another bitmap shares it.
class RowBitmap {
 public:
  static RowBitmap AllSet(size_t rows) { return RowBitmap(rows, true); }
  static RowBitmap AllClear(size_t rows) { return RowBitmap(rows, false); }

  size_t rows() const { return rows_; }
  bool Test(size_t row) const { return mask().Row(row); }
  void Set(size_t row) { *MutableWord(row) |= Bit(row); }
  void Clear(size_t row) { *MutableWord(row) &= ~Bit(row); }
  RowMask mask() const { return RowMask{table_.data()}; }

  // Bytes of its page table and of the pages it has changed (a page shared
  // with an older snapshot's bitmap counts in each).
  size_t HeldBytes() const;

 private:
  using Page = std::shared_ptr<uint64_t[]>;
  RowBitmap(size_t rows, bool set);
  static uint64_t Bit(size_t row) { return uint64_t{1} << (row % 64); }
  uint64_t* MutableWord(size_t row);

  size_t rows_;
  std::vector<Page> pages_;
  std::vector<const uint64_t*> table_;  // pages_[i].get(), for RowMask
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_ROW_MASK_H_
