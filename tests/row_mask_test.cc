// Paged row bitmaps: copies share pages until one of them changes a page,
// a change copies only its own page, and the mask the scan reads agrees
// with the bitmap on both sides of a page boundary.
#include "src/scan/row_mask.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace turboquant::internal {
namespace {

constexpr size_t kRows = 3 * kMaskPageRows + 100;  // a partial last page

TEST(RowBitmapTest, AChangeToACopyLeavesTheOriginalAlone) {
  RowBitmap original = RowBitmap::AllSet(kRows);
  original.Clear(5);
  RowBitmap copy = original;
  copy.Clear(kMaskPageRows + 7);
  copy.Set(5);
  EXPECT_FALSE(original.Test(5));
  EXPECT_TRUE(original.Test(kMaskPageRows + 7));
  EXPECT_TRUE(copy.Test(5));
  EXPECT_FALSE(copy.Test(kMaskPageRows + 7));
}

TEST(RowBitmapTest, ACopyHoldsOnlyThePagesItChanged) {
  const RowBitmap fresh = RowBitmap::AllSet(kRows);
  const size_t table_bytes = fresh.HeldBytes();
  EXPECT_LT(table_bytes, kMaskPageWords * sizeof(uint64_t));  // shares the all-set page
  RowBitmap copy = fresh;
  copy.Clear(2 * kMaskPageRows + 1);
  copy.Clear(2 * kMaskPageRows + 9);  // the same page again: no second copy
  EXPECT_EQ(copy.HeldBytes(), table_bytes + kMaskPageWords * sizeof(uint64_t));
  EXPECT_EQ(fresh.HeldBytes(), table_bytes);
}

TEST(RowBitmapTest, MaskAgreesWithTheBitmapAcrossPageBoundaries) {
  RowBitmap bitmap = RowBitmap::AllClear(kRows);
  for (size_t row :
       {size_t{0}, kMaskPageRows - 1, kMaskPageRows, kMaskPageRows + 33, 3 * kMaskPageRows + 99}) {
    bitmap.Set(row);
  }
  const RowMask mask = bitmap.mask();
  for (size_t row = 0; row < kRows; ++row) {
    ASSERT_EQ(mask.Row(row), bitmap.Test(row)) << "row " << row;
    const uint32_t block_bits = mask.Block(row / 32);
    ASSERT_EQ((block_bits >> (row % 32) & 1) != 0, bitmap.Test(row)) << "row " << row;
  }
  EXPECT_EQ(mask.Block((kMaskPageRows - 1) / 32), uint32_t{1} << 31);
  EXPECT_EQ(mask.Block(kMaskPageRows / 32), (uint32_t{1} << 0));
  EXPECT_EQ(mask.Block((kMaskPageRows + 33) / 32), (uint32_t{1} << 1));
}

TEST(RowBitmapTest, ADefaultMaskAdmitsEveryRow) {
  const RowMask all;
  EXPECT_TRUE(all.all());
  EXPECT_TRUE(all.Row(123456));
  EXPECT_EQ(all.Block(99), 0xFFFFFFFFu);
}

}  // namespace
}  // namespace turboquant::internal
