// Searches running while a writer adds, removes, seals and compacts must
// always succeed and see a consistent snapshot. Run under ThreadSanitizer by
// `make test` (build-tsan).
#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

constexpr int kDim = 16;
constexpr int kAnchors = 8;  // never deleted: ids 0..7

TEST(ConcurrencyTest, SearchesSeeConsistentSnapshotsWhileWriting) {
  const std::string dir = testing::MakeTempDir("concurrency") + "/c";
  auto created = TurboQuantIndex::Create(dir, {.dim = kDim, .bits = 4, .keep_vectors = true},
                                         {.seal_rows = 500});
  ASSERT_TRUE(created.ok()) << created.status();
  TurboQuantIndex& index = **created;
  // Anchors are far from everything else, so each is its own nearest neighbour.
  std::vector<float> anchors = testing::UnitVectors(kAnchors, kDim, 1);
  for (float& v : anchors) v *= 100.0f;
  std::vector<int64_t> anchor_ids(kAnchors);
  for (int i = 0; i < kAnchors; ++i) anchor_ids[i] = i;
  ASSERT_TRUE(index.Add(anchor_ids, anchors).ok());

  std::atomic<bool> done{false};
  std::atomic<int64_t> failures{0}, searches{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      int round = 0;
      while (!done.load()) {
        const int a = (r + round++) % kAnchors;
        const std::vector<float> query(anchors.begin() + a * kDim, anchors.begin() + (a + 1) * kDim);
        auto results = index.Search(query, {.k = 5, .rerank = 20});
        searches++;
        if (!results.ok() || results->ids[0] != a) {
          failures++;
          continue;
        }
        for (int j = 1; j < 5; ++j) {
          if (results->ids[j] == results->ids[j - 1]) failures++;  // never the same row twice
        }
      }
    });
  }
  const auto noise = testing::GaussianVectors(4000, kDim, 2);
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<int64_t> ids(100);
    for (int i = 0; i < 100; ++i) ids[i] = 1000 + batch * 100 + i;
    ASSERT_TRUE(index.Add(ids, {noise.data() + batch * 100 * kDim, 100 * kDim}).ok());
    if (batch % 4 == 3) ASSERT_TRUE(index.Remove({ids[0], ids[50], ids[99] - 100}).ok());
    if (batch % 10 == 9) ASSERT_TRUE(index.Compact().ok());
    if (batch % 7 == 6) ASSERT_TRUE(index.Flush().ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0) << "of " << searches.load() << " searches";
  EXPECT_GT(searches.load(), 0);
  EXPECT_TRUE(index.Verify().ok());
}

}  // namespace
}  // namespace turboquant
