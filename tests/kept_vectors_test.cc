#include "src/index/kept_vectors.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace turboquant::internal {
namespace {

constexpr size_t kDim = 3;

// Rows whose floats name them: row r of `base` is {base + r, base + r, ...}.
std::vector<float> NamedRows(float base, size_t rows) {
  std::vector<float> v;
  for (size_t r = 0; r < rows; ++r) v.insert(v.end(), kDim, base + static_cast<float>(r));
  return v;
}

TEST(KeptVectorsTest, SharedRowsPointIntoTheirSourcesAndReadBackInOrder) {
  const KeptVectors a = KeptVectors::Own(NamedRows(100, 10), kDim);
  const KeptVectors b = KeptVectors::Own(NamedRows(200, 5), kDim);
  KeptVectors merged;
  merged.AppendShared(a, 2, 5, nullptr);   // rows 102..104
  merged.AppendShared(b, 0, 5, nullptr);   // rows 200..204
  merged.AppendShared(a, 7, 10, nullptr);  // rows 107..109
  ASSERT_EQ(merged.rows(), 11u);
  const float expected[] = {102, 103, 104, 200, 201, 202, 203, 204, 107, 108, 109};
  for (size_t r = 0; r < merged.rows(); ++r) {
    EXPECT_EQ(merged.row(r)[0], expected[r]) << r;
    EXPECT_EQ(merged.row(r)[kDim - 1], expected[r]) << r;
  }
  EXPECT_EQ(merged.row(0), a.row(2));  // shared, not copied
  const auto spans = merged.Spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[1].size(), 5 * kDim);

  std::vector<float> copied;
  merged.CopyRows(1, 9, &copied);
  ASSERT_EQ(copied.size(), 8 * kDim);
  for (size_t r = 0; r < 8; ++r) EXPECT_EQ(copied[r * kDim], expected[r + 1]) << r;
}

TEST(KeptVectorsTest, AdjacentRowsOfOneSourceStayOneRun) {
  const KeptVectors a = KeptVectors::Own(NamedRows(0, 8), kDim);
  KeptVectors merged;
  merged.AppendShared(a, 0, 3, nullptr);
  merged.AppendShared(a, 3, 8, nullptr);
  EXPECT_EQ(merged.Spans().size(), 1u);
  merged.AppendShared(a, 0, 1, nullptr);
  EXPECT_EQ(merged.Spans().size(), 2u);
}

TEST(KeptVectorsTest, SharedRowsOutliveTheObjectsTheyCameFrom) {
  KeptVectors merged;
  {
    const KeptVectors a = KeptVectors::Own(NamedRows(50, 4), kDim);
    merged.AppendShared(a, 1, 3, nullptr);
  }
  EXPECT_EQ(merged.row(0)[0], 51);
  EXPECT_EQ(merged.row(1)[0], 52);
}

TEST(KeptVectorsTest, RowsWithoutAnOwnerAreKeptAliveByTheHolder) {
  auto storage = std::make_shared<std::vector<float>>(NamedRows(7, 4));
  KeptVectors merged;
  {
    // Like a sealed file's vectors: the segment, not the runs, owns them.
    const KeptVectors file_rows(storage->data(), 4, kDim, nullptr);
    merged.AppendShared(file_rows, 2, 4, storage);
  }
  const std::weak_ptr<std::vector<float>> watch = storage;
  storage.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(merged.row(1)[0], 10);
  merged = KeptVectors();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace turboquant::internal
