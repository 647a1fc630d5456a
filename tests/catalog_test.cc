// The catalog records, in the batch that bumps its version, how many segment,
// tombstone and write-ahead records it holds and a hash sum of their keys. A
// view that misses one (a RocksDB secondary instance that opened without a
// log or an SST file) or keeps one that was removed is refused, so a reader
// reads again instead of serving a collection without some rows.
#include "storage/catalog.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/crash_vectors.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

using testing::ConsecutiveIds;
using testing::CrashVectors;
using testing::kCrashDim;

// A collection with one sealed segment, one tombstone and unsealed rows.
std::string MakeCollection(const std::string& name) {
  const std::string dir = testing::MakeTempDir(name) + "/c";
  auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim});
  EXPECT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE((*index)->Add(ConsecutiveIds(0, 50), CrashVectors(0, 50)).ok());
  EXPECT_TRUE((*index)->Flush().ok());
  EXPECT_TRUE((*index)->Remove({3}).ok());
  EXPECT_TRUE((*index)->Add(ConsecutiveIds(50, 5), CrashVectors(50, 5)).ok());
  return dir;
}

// Changes the catalog behind the library's back, as a stale view would look.
void EditCatalog(const std::string& dir, void (*edit)(rocksdb::DB*)) {
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir + "/catalog", &db).ok());
  edit(db);
  delete db;
}

TEST(CatalogTest, OpenRefusesACatalogMissingASegmentRecord) {
  const std::string dir = MakeCollection("catalog-missing");
  EditCatalog(dir, [](rocksdb::DB* db) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), storage::Catalog::SegmentKey(1)).ok());
  });
  for (bool read_only : {false, true}) {
    auto index = TurboQuantIndex::Open(dir, {.read_only = read_only});
    EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss) << index.status();
    EXPECT_NE(index.status().message().find("segment"), std::string::npos) << index.status();
  }
}

TEST(CatalogTest, OpenRefusesACatalogKeepingARemovedRecordInPlaceOfAnother) {
  // Counts alone would not notice: one tombstone swapped for another.
  const std::string dir = MakeCollection("catalog-swapped");
  EditCatalog(dir, [](rocksdb::DB* db) {
    rocksdb::WriteBatch batch;
    batch.Delete(storage::Catalog::TombstoneKey(1, 3));
    batch.Put(storage::Catalog::TombstoneKey(1, 4), "");
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  });
  auto index = TurboQuantIndex::Open(dir);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss) << index.status();
}

TEST(CatalogTest, OpenRefusesASealedWatermarkBeyondTheNextSequence) {
  const std::string dir = MakeCollection("catalog-watermark");
  EditCatalog(dir, [](rocksdb::DB* db) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), storage::Catalog::kSealedThroughKey,
                        storage::Catalog::EncodeCounter(1000000))
                    .ok());
  });
  for (bool read_only : {false, true}) {
    auto index = TurboQuantIndex::Open(dir, {.read_only = read_only});
    EXPECT_EQ(index.status().code(), absl::StatusCode::kDataLoss) << index.status();
    EXPECT_NE(index.status().message().find("watermark 1000000 lies beyond"), std::string::npos)
        << index.status();
  }
}

TEST(CatalogTest, AnUneditedCatalogOpensWithEveryRecord) {
  const std::string dir = MakeCollection("catalog-whole");
  for (bool read_only : {false, true}) {
    auto index = TurboQuantIndex::Open(dir, {.read_only = read_only});
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ((*index)->size(), 54);
    EXPECT_FALSE((*index)->Contains(3));
    EXPECT_TRUE((*index)->Contains(54));
  }
}

}  // namespace
}  // namespace turboquant
