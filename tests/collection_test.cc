// Durable collections: persistence across reopen, mutations, compaction,
// verification, backup and the errors a user meets with bad directories.
#include <filesystem>
#include <fstream>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

namespace fs = std::filesystem;

constexpr int kDim = 32;

std::vector<int64_t> Range(int64_t first, int64_t count) {
  std::vector<int64_t> ids(count);
  for (int64_t i = 0; i < count; ++i) ids[i] = first + i;
  return ids;
}

std::unique_ptr<TurboQuantIndex> CreateOrDie(const std::string& dir, IndexOptions options,
                                             OpenOptions tuning = {}) {
  auto index = TurboQuantIndex::Create(dir, options, tuning);
  EXPECT_TRUE(index.ok()) << index.status();
  return std::move(*index);
}

std::unique_ptr<TurboQuantIndex> OpenOrDie(const std::string& dir, OpenOptions tuning = {}) {
  auto index = TurboQuantIndex::Open(dir, tuning);
  EXPECT_TRUE(index.ok()) << index.status();
  return index.ok() ? std::move(*index) : nullptr;
}

std::vector<int64_t> SearchIds(const TurboQuantIndex& index, const std::vector<float>& queries,
                               int k = 10) {
  auto results = index.Search(queries, {.k = k});
  EXPECT_TRUE(results.ok()) << results.status();
  return results.ok() ? results->ids : std::vector<int64_t>{};
}

TEST(CollectionTest, ReopenedCollectionAnswersLikeTheOriginal) {
  const std::string dir = testing::MakeTempDir("reopen") + "/c";
  const auto data = testing::GaussianVectors(3000, kDim, 1);
  const auto queries = testing::GaussianVectors(5, kDim, 2);
  std::vector<int64_t> before;
  {
    auto index = CreateOrDie(dir, {.dim = kDim, .keep_vectors = true}, {.seal_rows = 1000});
    ASSERT_TRUE(index->Add(Range(0, 2500), {data.data(), 2500 * kDim}).ok());  // seals 2 segments' worth
    ASSERT_TRUE(index->Add(Range(2500, 500), {data.data() + 2500 * kDim, 500 * kDim}).ok());
    before = SearchIds(*index, queries);
    EXPECT_GE(index->Stats().segments, 1);
  }
  auto reopened = OpenOrDie(dir);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->size(), 3000);
  EXPECT_EQ(SearchIds(*reopened, queries), before);
  auto vector = reopened->Get(2999);
  ASSERT_TRUE(vector.ok());
  EXPECT_EQ(*vector, std::vector<float>(data.end() - kDim, data.end()));
  EXPECT_TRUE(reopened->Verify().ok());
}

TEST(CollectionTest, UnsealedWritesAreReplayedOnOpen) {
  const std::string dir = testing::MakeTempDir("replay") + "/c";
  const auto data = testing::GaussianVectors(100, kDim, 3);
  {
    auto index = CreateOrDie(dir, {.dim = kDim});
    ASSERT_TRUE(index->Add(Range(10, 100), data).ok());
    EXPECT_EQ(index->Stats().unsealed, 100);
  }
  auto reopened = OpenOrDie(dir);
  EXPECT_EQ(reopened->size(), 100);
  EXPECT_EQ(reopened->Stats().unsealed, 100);
  EXPECT_TRUE(reopened->Contains(109));
  EXPECT_FALSE(reopened->Contains(9));
}

TEST(CollectionTest, RemoveAndUpsertSurviveReopenAndCompaction) {
  const std::string dir = testing::MakeTempDir("mutate") + "/c";
  const auto data = testing::GaussianVectors(400, kDim, 4);
  {
    auto index = CreateOrDie(dir, {.dim = kDim, .keep_vectors = true});
    ASSERT_TRUE(index->Add(Range(0, 300), {data.data(), 300 * kDim}).ok());
    ASSERT_TRUE(index->Flush().ok());  // rows 0..299 sealed
    ASSERT_TRUE(index->Add(Range(300, 100), {data.data() + 300 * kDim, 100 * kDim}).ok());
    auto removed = index->Remove({5, 305, 999});
    ASSERT_TRUE(removed.ok());
    EXPECT_EQ(*removed, 2);
    // Upsert a sealed and an unsealed id with new vectors.
    std::vector<float> replacement(2 * kDim, 0.25f);
    ASSERT_TRUE(index->Add({7, 310}, replacement).ok());
    EXPECT_EQ(index->size(), 398);
  }
  for (bool compact : {false, true}) {
    auto index = OpenOrDie(dir);
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->size(), 398);
    EXPECT_FALSE(index->Contains(5));
    EXPECT_FALSE(index->Contains(305));
    EXPECT_EQ(*index->Get(7), std::vector<float>(kDim, 0.25f));
    EXPECT_EQ(*index->Get(310), std::vector<float>(kDim, 0.25f));
    // A query equal to a stored vector finds it first.
    const std::vector<float> query(data.begin() + 42 * kDim, data.begin() + 43 * kDim);
    auto results = index->Search(query, {.k = 1, .rerank = 10});
    ASSERT_TRUE(results.ok());
    EXPECT_EQ(results->ids[0], 42);
    if (compact) {
      EXPECT_GT(index->Stats().deleted, 0);
      ASSERT_TRUE(index->Compact().ok());
      EXPECT_EQ(index->Stats().deleted, 0);
      EXPECT_EQ(index->Stats().segments, 1);
      EXPECT_EQ(index->size(), 398);
      EXPECT_TRUE(index->Verify().ok());
    }
  }
  auto compacted = OpenOrDie(dir);
  EXPECT_EQ(compacted->size(), 398);
  EXPECT_EQ(compacted->Stats().deleted, 0);
  // Only the compacted segment's file remains.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir + "/segments"), fs::directory_iterator{}), 1);
}

TEST(CollectionTest, BackupIsAnIndependentCollection) {
  const std::string root = testing::MakeTempDir("backup");
  const auto data = testing::GaussianVectors(200, kDim, 5);
  auto index = CreateOrDie(root + "/c", {.dim = kDim});
  ASSERT_TRUE(index->Add(Range(0, 150), {data.data(), 150 * kDim}).ok());
  ASSERT_TRUE(index->Flush().ok());
  ASSERT_TRUE(index->Add(Range(150, 50), {data.data() + 150 * kDim, 50 * kDim}).ok());
  ASSERT_TRUE(index->Backup(root + "/b").ok());
  ASSERT_TRUE(index->Remove({0, 1, 2}).ok());
  auto backup = OpenOrDie(root + "/b");
  EXPECT_EQ(backup->size(), 200);
  EXPECT_TRUE(backup->Contains(1));
  EXPECT_TRUE(backup->Verify().ok());
  EXPECT_FALSE(index->Backup(root + "/b").ok()) << "must not overwrite a backup";
}

TEST(CollectionTest, BytesOnDiskAreCloseToCodeBytes) {
  const std::string dir = testing::MakeTempDir("size") + "/c";
  const int n = 20000;
  const auto data = testing::GaussianVectors(n, 128, 6);
  auto index = CreateOrDie(dir, {.dim = 128, .bits = 4});
  ASSERT_TRUE(index->Add(Range(0, n), data).ok());
  ASSERT_TRUE(index->Flush().ok());
  const IndexStats stats = index->Stats();
  const double ideal = n * (stats.bytes_per_vector + 8.0);
  EXPECT_LT(stats.bytes_on_disk, 1.2 * ideal) << stats.bytes_on_disk << " vs " << ideal;
}

TEST(CollectionErrorsTest, NamesTheProblemWithTheDirectory) {
  const std::string root = testing::MakeTempDir("errors");
  auto missing = TurboQuantIndex::Open(root + "/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  fs::create_directories(root + "/plain");
  std::ofstream(root + "/plain/file.txt") << "hello";
  auto not_collection = TurboQuantIndex::Open(root + "/plain");
  EXPECT_NE(not_collection.status().message().find("not a TurboQuant collection"), std::string::npos)
      << not_collection.status();
  auto occupied = TurboQuantIndex::Create(root + "/plain", {.dim = 8});
  EXPECT_EQ(occupied.status().code(), absl::StatusCode::kAlreadyExists);

  auto index = CreateOrDie(root + "/c", {.dim = 8});
  auto wrong_dim = index->Add({1}, std::vector<float>(9, 1.0f));
  EXPECT_NE(wrong_dim.message().find("dimension 8"), std::string::npos) << wrong_dim;
}

TEST(CollectionErrorsTest, CorruptedSegmentIsReportedNotCrashed) {
  const std::string dir = testing::MakeTempDir("corrupt") + "/c";
  const auto data = testing::GaussianVectors(500, kDim, 7);
  {
    auto index = CreateOrDie(dir, {.dim = kDim});
    ASSERT_TRUE(index->Add(Range(0, 500), data).ok());
    ASSERT_TRUE(index->Flush().ok());
  }
  const std::string segment = fs::directory_iterator(dir + "/segments")->path().string();
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(segment) / 2));
    file.put('\x5a');
  }
  auto index = OpenOrDie(dir);  // the header is intact: opens (mmap, no full read)
  ASSERT_NE(index, nullptr);
  const Status verify = index->Verify();
  EXPECT_EQ(verify.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(verify.message().find(".tqs"), std::string::npos) << verify;
  EXPECT_TRUE(index->Search(std::vector<float>(data.begin(), data.begin() + kDim), {.k = 5}).ok());
  index.reset();
  fs::resize_file(segment, 100);
  auto truncated = TurboQuantIndex::Open(dir);
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss) << truncated.status();
  EXPECT_NE(truncated.status().message().find(".tqs"), std::string::npos);
}

}  // namespace
}  // namespace turboquant
