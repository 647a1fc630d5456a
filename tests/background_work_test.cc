// The write path's concurrency and background work: concurrent Adds share
// fsyncs (group commit); sealing, size-tiered merging and the deleted-rows
// trigger happen without any caller asking; small chunks are merged in the
// background; writes go on while a seal is being written; and the id map
// follows rows that a Rewrite moved.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/file_system.h"
#include "tests/crash_vectors.h"
#include "tests/file_gates.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

using testing::ConsecutiveIds;
using testing::CrashVector;
using testing::CrashVectors;
using testing::kCrashDim;

// A file layer whose fsyncs of RocksDB's write-ahead log are slow and
// counted, so that writers pile up behind each one as on a real disk.
class SlowLogSyncFileSystem : public rocksdb::FileSystemWrapper {
 public:
  SlowLogSyncFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "SlowLogSyncFileSystem"; }
  int syncs() const { return syncs_; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus status = target()->NewWritableFile(path, options, file, debug);
    if (status.ok() && path.size() > 4 && path.substr(path.size() - 4) == ".log") {
      *file = std::make_unique<SlowSync>(std::move(*file), &syncs_);
    }
    return status;
  }

 private:
  class SlowSync : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    SlowSync(std::unique_ptr<rocksdb::FSWritableFile> file, std::atomic<int>* syncs)
        : FSWritableFileOwnerWrapper(std::move(file)), syncs_(syncs) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
      Wait();
      return FSWritableFileOwnerWrapper::Sync(options, debug);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* debug) override {
      Wait();
      return FSWritableFileOwnerWrapper::Fsync(options, debug);
    }

   private:
    void Wait() {
      ++*syncs_;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::atomic<int>* syncs_;
  };
  std::atomic<int> syncs_{0};
};

TEST(BackgroundWorkTest, ConcurrentAddsShareFsyncsAndEachIsDurable) {
  const std::string dir = testing::MakeTempDir("group_commit") + "/c";
  auto disk = std::make_shared<SlowLogSyncFileSystem>();
  OpenOptions open;
  open.file_system = disk;
  auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
  ASSERT_TRUE(index.ok()) << index.status();
  constexpr int kWriters = 8, kAddsEach = 12, kBatch = 5;
  const int syncs_before = disk->syncs();
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int a = 0; a < kAddsEach; ++a) {
        const int64_t first = (w * kAddsEach + a) * kBatch;
        if (!(*index)->Add(ConsecutiveIds(first, kBatch), CrashVectors(first, kBatch)).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(failures, 0);
  const int syncs = disk->syncs() - syncs_before;
  // One fsync per Add without group commit; while one is in flight the
  // other writers queue behind it and share the next.
  EXPECT_LT(syncs, kWriters * kAddsEach) << "every Add paid its own fsync";
  EXPECT_GT(syncs, 0);
  index->reset();
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), kWriters * kAddsEach * kBatch);
  for (int64_t id : {int64_t{0}, int64_t{123}, int64_t{kWriters * kAddsEach * kBatch - 1}}) {
    EXPECT_EQ(*(*reopened)->Get(id), CrashVector(id));
  }
}

// Background work in the test's thread (background_work off), for exact
// expectations about what is due.
std::unique_ptr<TurboQuantIndex> ManualIndex(const std::string& name, int64_t seal_rows) {
  const std::string dir = testing::MakeTempDir(name) + "/c";
  auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true},
                                       {.seal_rows = seal_rows, .background_work = false});
  EXPECT_TRUE(index.ok()) << index.status();
  return std::move(*index);
}

TEST(BackgroundWorkTest, SealsAtSealRowsAndMergesFourSegmentsOfOneSizeClass) {
  auto index = ManualIndex("tiers", 100);
  for (int batch = 0; batch < 3; ++batch) {
    ASSERT_TRUE(index->Add(ConsecutiveIds(batch * 100, 100), CrashVectors(batch * 100, 100)).ok());
    EXPECT_EQ(index->Stats().unsealed, 100) << "an Add sealed by itself";
    ASSERT_TRUE(index->WaitForBackgroundWork().ok());
    EXPECT_EQ(index->Stats().unsealed, 0);
    EXPECT_EQ(index->Stats().segments, batch + 1);
  }
  ASSERT_TRUE(index->Add(ConsecutiveIds(300, 100), CrashVectors(300, 100)).ok());
  ASSERT_TRUE(index->WaitForBackgroundWork().ok());
  const IndexStats stats = index->Stats();
  EXPECT_EQ(stats.segments, 1) << "four sealed segments of one size class stayed apart";
  EXPECT_EQ(stats.seals, 4);
  EXPECT_EQ(stats.compactions, 1);
  EXPECT_EQ(index->size(), 400);
  for (int64_t id : {0, 150, 399}) EXPECT_EQ(*index->Get(id), CrashVector(id));
}

TEST(BackgroundWorkTest, RewritesASegmentOnceAFifthOfItIsDeleted) {
  auto index = ManualIndex("deleted_fraction", 100);
  ASSERT_TRUE(index->Add(ConsecutiveIds(0, 100), CrashVectors(0, 100)).ok());
  ASSERT_TRUE(index->WaitForBackgroundWork().ok());
  std::vector<int64_t> doomed;
  for (int64_t id = 0; id < 19; ++id) doomed.push_back(id);
  ASSERT_EQ(*index->Remove(doomed), 19);
  ASSERT_TRUE(index->WaitForBackgroundWork().ok());
  EXPECT_EQ(index->Stats().deleted, 19) << "rewritten below a fifth deleted";
  ASSERT_EQ(*index->Remove({19}), 1);
  ASSERT_TRUE(index->WaitForBackgroundWork().ok());
  EXPECT_EQ(index->Stats().deleted, 0);
  EXPECT_EQ(index->size(), 80);
  EXPECT_FALSE(index->Contains(19));
  EXPECT_EQ(*index->Get(20), CrashVector(20));
}

// Each Add becomes a chunk of its own; the background work merges small
// chunks into one unsealed chunk (rows deleted before stay deleted, the
// write-ahead records stay as they are), and the writer merges them itself
// only once many have gathered.
TEST(BackgroundWorkTest, SmallChunksAreMergedInTheBackgroundAndTheWriteAheadStays) {
  const std::string dir = testing::MakeTempDir("chunk_merge") + "/c";
  {
    auto created = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true},
                                           {.background_work = false});
    ASSERT_TRUE(created.ok()) << created.status();
    TurboQuantIndex& index = **created;
    for (int64_t add = 0; add < 10; ++add) {
      ASSERT_TRUE(index.Add(ConsecutiveIds(add * 5, 5), CrashVectors(add * 5, 5)).ok());
    }
    ASSERT_EQ(*index.Remove({3}), 1);
    EXPECT_EQ(index.Stats().segments, 10) << "a writer merged a few small chunks itself";
    ASSERT_TRUE(index.WaitForBackgroundWork().ok());
    EXPECT_EQ(index.Stats().segments, 1);
    EXPECT_EQ(index.Stats().unsealed, 49);
    EXPECT_EQ(index.size(), 49);
    EXPECT_FALSE(index.Contains(3));
    for (int64_t id : {0, 4, 25, 49}) EXPECT_EQ(*index.Get(id), CrashVector(id)) << id;
    // Without background work the writer bounds the chunk count itself.
    for (int64_t id = 50; id < 150; ++id) {
      ASSERT_TRUE(index.Add(ConsecutiveIds(id, 1), CrashVectors(id, 1)).ok());
    }
    EXPECT_LT(index.Stats().segments, 80);
    EXPECT_EQ(index.size(), 149);
  }
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 149);
  EXPECT_FALSE((*reopened)->Contains(3));
  for (int64_t id : {0, 49, 50, 149}) EXPECT_EQ(*(*reopened)->Get(id), CrashVector(id)) << id;
  EXPECT_TRUE((*reopened)->Verify().ok());
}

// An Add of more rows than a chunk holds becomes several chunks whose kept
// vectors lie back to back in the vectors log; reopened before any seal, each
// row is read back from its own place in the log.
TEST(BackgroundWorkTest, AnAddOfSeveralChunksIsReplayedFromTheVectorsLog) {
  const std::string dir = testing::MakeTempDir("large_add") + "/c";
  constexpr int64_t kRows = 40000;  // 16384 + 16384 + 7232
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true},
                                         {.background_work = false});
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, kRows), CrashVectors(0, kRows)).ok());
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(kRows, 10), CrashVectors(kRows, 10)).ok());
    EXPECT_EQ((*index)->Stats().segments, 4);
  }
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), kRows + 10);
  for (int64_t id : {int64_t{0}, int64_t{16383}, int64_t{16384}, int64_t{32768}, kRows - 1,
                     kRows, kRows + 9}) {
    EXPECT_EQ(*(*reopened)->Get(id), CrashVector(id)) << id;
  }
  EXPECT_TRUE((*reopened)->Verify().ok());
}

// An Add appends its vectors to the log before it queues; a seal that claims
// the unsealed rows meanwhile removes that log when it commits. The Add's
// vectors are then written again to the next log, so the acknowledged rows
// survive a reopen.
TEST(BackgroundWorkTest, AnAddWhoseLogASealRetiredMeanwhileIsLoggedAgain) {
  const std::string dir = testing::MakeTempDir("retired_log") + "/c";
  auto gate = std::make_shared<testing::VectorsLogAppendGate>();
  OpenOptions open{.background_work = false};
  open.file_system = gate;
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 10), CrashVectors(0, 10)).ok());
    gate->Arm();
    Status late;
    std::thread writer([&] { late = (*index)->Add(ConsecutiveIds(10, 5), CrashVectors(10, 5)); });
    gate->WaitUntilHeld();
    ASSERT_TRUE((*index)->Flush().ok());  // seals rows 0..9 and removes the first log
    EXPECT_FALSE(std::filesystem::exists(dir + "/vectors/0000000000000001.vlog"));
    gate->Release();
    writer.join();
    ASSERT_TRUE(late.ok()) << late;
    EXPECT_EQ(*(*index)->Get(12), CrashVector(12));
  }
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 15);
  for (int64_t id = 0; id < 15; ++id) EXPECT_EQ(*(*reopened)->Get(id), CrashVector(id)) << id;
  EXPECT_TRUE((*reopened)->Verify().ok());
}

// A seal holds its run of chunks until it commits; the chunks of the Adds
// made meanwhile are merged meanwhile, not left one per Add until the seal
// ends (a thousand segments during a long seal, each a small cost to every
// search). The seal commits around the merged chunk, and nothing is lost.
TEST(BackgroundWorkTest, ChunksWrittenDuringASealAreMergedMeanwhile) {
  const std::string dir = testing::MakeTempDir("merge_during_seal") + "/c";
  auto gate = std::make_shared<testing::SegmentFileGate>();
  OpenOptions open{.seal_rows = 100};
  open.file_system = gate;
  auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
  ASSERT_TRUE(index.ok()) << index.status();
  gate->Arm();
  ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 100), CrashVectors(0, 100)).ok());
  gate->WaitUntilHeld();  // the seal of ids 0..99 has claimed them
  constexpr int64_t kAdds = 40;
  for (int64_t id = 100; id < 100 + kAdds; ++id) {
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(id, 1), CrashVectors(id, 1)).ok());
  }
  ASSERT_EQ(*(*index)->Remove({105}), 1);
  // Merging stops once fewer than 8 small chunks trail (kChunksPerMerge), so
  // the held run and at most 7 chunks remain, against 41 unmerged. Poll,
  // without a deadline that a slow machine could miss: the test fails by
  // ctest's timeout if chunks are never merged while the seal is held.
  while ((*index)->Stats().segments > 1 + 7) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*index)->Stats().seals, 0);
  gate->Release();
  ASSERT_TRUE((*index)->WaitForBackgroundWork().ok());
  EXPECT_EQ((*index)->Stats().seals, 1);
  EXPECT_EQ((*index)->size(), 100 + kAdds - 1);
  EXPECT_FALSE((*index)->Contains(105));
  for (int64_t id : {0, 99, 100, 104, 106, 139}) EXPECT_EQ(*(*index)->Get(id), CrashVector(id));
  index->reset();
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 100 + kAdds - 1);
  EXPECT_FALSE((*reopened)->Contains(105));
  EXPECT_TRUE((*reopened)->Verify().ok());
}

TEST(BackgroundWorkTest, TheLibraryThreadSealsWithoutBeingAsked) {
  const std::string dir = testing::MakeTempDir("library_thread") + "/c";
  auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim}, {.seal_rows = 50});
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 60), CrashVectors(0, 60)).ok());
  // Poll, without a deadline that a slow machine could miss: the test fails
  // by ctest's timeout if the thread never seals.
  while ((*index)->Stats().unsealed > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*index)->Stats().seals, 1);
  EXPECT_EQ((*index)->size(), 60);
}

// Rows deleted or replaced while a Rewrite writes its files must stay
// deleted or replaced once it commits: its snapshot of the run is older.
TEST(BackgroundWorkTest, DeletesAndUpsertsDuringASealSurviveIt) {
  const std::string dir = testing::MakeTempDir("during_seal") + "/c";
  auto index =
      TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, {.seal_rows = 200});
  ASSERT_TRUE(index.ok()) << index.status();
  std::atomic<bool> stop{false};
  std::thread maintenance([&] {
    while (!stop) ASSERT_TRUE((*index)->WaitForBackgroundWork().ok());
  });
  for (int64_t round = 0; round < 40; ++round) {
    const int64_t first = round * 50;
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(first, 50), CrashVectors(first, 50)).ok());
    ASSERT_EQ(*(*index)->Remove({first, first + 1}), 2);
    // Upsert a row of the previous round to the vector of another id.
    if (round > 0) {
      ASSERT_TRUE((*index)->Add({first - 10}, CrashVector(first + 100000)).ok());
    }
  }
  stop = true;
  maintenance.join();
  ASSERT_TRUE((*index)->Compact().ok());
  for (int64_t round = 0; round < 40; ++round) {
    const int64_t first = round * 50;
    EXPECT_FALSE((*index)->Contains(first));
    EXPECT_FALSE((*index)->Contains(first + 1));
    if (round > 0) EXPECT_EQ(*(*index)->Get(first - 10), CrashVector(first + 100000));
    EXPECT_EQ(*(*index)->Get(first + 2), CrashVector(first + 2));
  }
  EXPECT_EQ((*index)->size(), 40 * 48);
  EXPECT_EQ((*index)->Stats().deleted, 0);
  index->reset();
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 40 * 48);
  EXPECT_TRUE((*reopened)->Verify().ok());
}

}  // namespace
}  // namespace turboquant
