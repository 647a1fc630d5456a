#include "src/scan/row_mask.h"

#include <algorithm>

namespace turboquant::internal {
namespace {

std::shared_ptr<uint64_t[]> NewPage(uint64_t fill) {
  std::shared_ptr<uint64_t[]> page(new uint64_t[kMaskPageWords]);
  std::fill(page.get(), page.get() + kMaskPageWords, fill);
  return page;
}

// The pages every all-set or all-clear page points at. Never written: a
// bitmap that holds one also shares it with this static, so it copies the
// page before its first change.
const std::shared_ptr<uint64_t[]>& SharedPage(bool set) {
  static const auto* const kClear = new std::shared_ptr<uint64_t[]>(NewPage(0));
  static const auto* const kSet = new std::shared_ptr<uint64_t[]>(NewPage(~uint64_t{0}));
  return set ? *kSet : *kClear;
}

}  // namespace

RowBitmap::RowBitmap(size_t rows, bool set)
    : rows_(rows), pages_((rows + kMaskPageRows - 1) / kMaskPageRows, SharedPage(set)) {
  table_.assign(pages_.size(), SharedPage(set).get());
}

uint64_t* RowBitmap::MutableWord(size_t row) {
  const size_t p = row / kMaskPageRows;
  // A count of 1 means no snapshot or filter holds the page: bitmaps are
  // changed only before they are published, by the thread that copied them
  // from a bitmap that is still alive, so a page shared with another bitmap
  // has a count of at least 2 here and cannot drop to 1 meanwhile.
  if (pages_[p].use_count() > 1) {
    Page copy(new uint64_t[kMaskPageWords]);
    std::copy(pages_[p].get(), pages_[p].get() + kMaskPageWords, copy.get());
    pages_[p] = std::move(copy);
    table_[p] = pages_[p].get();
  }
  return &pages_[p][row % kMaskPageRows / 64];
}

size_t RowBitmap::HeldBytes() const {
  size_t bytes = table_.capacity() * sizeof(table_[0]) + pages_.capacity() * sizeof(pages_[0]);
  for (const Page& page : pages_) {
    if (page != SharedPage(true) && page != SharedPage(false)) {
      bytes += kMaskPageWords * sizeof(uint64_t);
    }
  }
  return bytes;
}

}  // namespace turboquant::internal
