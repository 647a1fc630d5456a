// Fail-stop writes: a failed write of the vectors log or the catalog (whose outcome is unknown)
// stops all later writes until the collection is reopened, while reads keep the last good snapshot;
// a background seal that fails fails no Add (each was durable already) but stops later writes; Open
// changes nothing before the whole collection validated; memory running out inside a write or a
// seal stops writes without wedging the calls queued behind it; sealing splits at max_segment_rows;
// Get returns what was added.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/file_system.h"
#include "tests/crash_vectors.h"
#include "tests/power_loss_file_system.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

namespace fs = std::filesystem;
using testing::ConsecutiveIds;
using testing::CrashVector;
using testing::CrashVectors;
using testing::kCrashDim;

// An Add writes the disk three times: it appends its kept vectors to the
// vectors log, the leader of its group syncs the log, then writes the
// catalog batch. Whichever of them fails, writes stop.
TEST(FailStopTest, FailedWriteStopsWritesUntilReopenAndReadsGoOn) {
  std::vector<std::string> failed_operations;
  for (int failing = 1; failing <= 3; ++failing) {
    const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
    auto disk = std::make_shared<testing::PowerLossFileSystem>();
    OpenOptions open;
    open.file_system = disk;
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 10), CrashVectors(0, 10)).ok());

    disk->CutPowerAt(disk->operations() + failing);
    EXPECT_FALSE((*index)->Add(ConsecutiveIds(10, 10), CrashVectors(10, 10)).ok());
    failed_operations.push_back(disk->cut_operation());
    SCOPED_TRACE(failed_operations.back());
    disk->CutPowerAt(0);  // the disk works again, but the outcome was unknown
    const Status later = (*index)->Add(ConsecutiveIds(20, 10), CrashVectors(20, 10));
    EXPECT_FALSE(later.ok());
    EXPECT_NE(later.message().find("until it is reopened"), std::string::npos) << later;
    EXPECT_FALSE((*index)->Remove({1}).ok());
    EXPECT_FALSE((*index)->Flush().ok());
    EXPECT_FALSE((*index)->Compact().ok());
    // Reads keep the last good snapshot.
    EXPECT_EQ((*index)->size(), 10);
    EXPECT_EQ(*(*index)->Get(3), CrashVector(3));
    auto found = (*index)->Search(CrashVector(4), {.k = 1, .rerank = 10});
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->ids[0], 4);

    index->reset();
    auto reopened = TurboQuantIndex::Open(dir);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_TRUE((*reopened)->Add(ConsecutiveIds(20, 10), CrashVectors(20, 10)).ok());
    EXPECT_TRUE((*reopened)->Contains(25));
    EXPECT_EQ(*(*reopened)->Get(3), CrashVector(3));
  }
  ASSERT_EQ(failed_operations.size(), 3u);
  EXPECT_EQ(failed_operations[0].rfind("append to ", 0), 0u) << failed_operations[0];
  EXPECT_NE(failed_operations[0].find(".vlog"), std::string::npos) << failed_operations[0];
  EXPECT_EQ(failed_operations[1].rfind("sync ", 0), 0u) << failed_operations[1];
  EXPECT_NE(failed_operations[1].find(".vlog"), std::string::npos) << failed_operations[1];
  EXPECT_NE(failed_operations[2].find("/catalog/"), std::string::npos) << failed_operations[2];
}

TEST(FailStopTest, FailedBackgroundSealFailsNoAddAndStopsLaterWrites) {
  const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
  auto disk = std::make_shared<testing::PowerLossFileSystem>();
  // Background work runs in WaitForBackgroundWork here, so that the cut
  // lands in the seal.
  OpenOptions open{.seal_rows = 50, .background_work = false};
  open.file_system = disk;
  auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 10), CrashVectors(0, 10)).ok());
  // This Add reaches seal_rows; it never seals itself.
  ASSERT_TRUE((*index)->Add(ConsecutiveIds(10, 50), CrashVectors(10, 50)).ok());
  EXPECT_GT((*index)->Stats().unsealed, 0);

  disk->CutPowerAt(disk->operations() + 1);
  const Status sealed = (*index)->WaitForBackgroundWork();
  EXPECT_NE(sealed.message().find("sealing or compaction failed"), std::string::npos) << sealed;
  disk->CutPowerAt(0);
  const Status next = (*index)->Add(ConsecutiveIds(60, 1), CrashVectors(60, 1));
  EXPECT_NE(next.message().find("sealing or compaction failed"), std::string::npos) << next;
  EXPECT_EQ((*index)->size(), 60);  // reads go on
  index->reset();
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 60);
  EXPECT_EQ(*(*reopened)->Get(59), CrashVector(59));
  EXPECT_TRUE((*reopened)->Verify().ok());
}

// Writes segment files with their first byte flipped, so that they are
// durable but do not open: what a bad disk, or an mmap refused for lack of
// memory, does to a seal after the file is written.
class SegmentCorruptingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  SegmentCorruptingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "SegmentCorruptingFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus status = target()->NewWritableFile(path, options, file, debug);
    if (status.ok() && path.size() > 8 && path.substr(path.size() - 8) == ".tqs.tmp") {
      *file = std::make_unique<FlipFirstByte>(std::move(*file));
    }
    return status;
  }

 private:
  class FlipFirstByte : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    using FSWritableFileOwnerWrapper::FSWritableFileOwnerWrapper;
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override {
      std::string bytes = data.ToString();
      if (first_ && !bytes.empty()) bytes[0] ^= 0xff;
      first_ = false;
      return target()->Append(bytes, options, debug);
    }

   private:
    bool first_ = true;
  };
};

TEST(FailStopTest, SealNamesNoSegmentFileThatDoesNotOpen) {
  const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
  OpenOptions open;
  open.file_system = std::make_shared<SegmentCorruptingFileSystem>();
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 20), CrashVectors(0, 20)).ok());
    ASSERT_TRUE((*index)->Remove({4}).ok());
    const Status flushed = (*index)->Flush();
    EXPECT_EQ(flushed.code(), absl::StatusCode::kDataLoss) << flushed;
    // Nothing was committed: writes go on, and so do deletes of unsealed rows.
    EXPECT_TRUE((*index)->Remove({5}).ok());
    EXPECT_TRUE((*index)->Add(ConsecutiveIds(20, 5), CrashVectors(20, 5)).ok());
  }
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 23);
  EXPECT_FALSE((*reopened)->Contains(5));
  EXPECT_EQ(*(*reopened)->Get(21), CrashVector(21));
  EXPECT_TRUE((*reopened)->Verify().ok());
  EXPECT_TRUE(fs::is_empty(dir + "/segments")) << "the unopenable file was left behind";
}

TEST(FailStopTest, OpenRemovesNothingWhenTheCollectionDoesNotValidate) {
  const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim}, {.seal_rows = 20});
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 30), CrashVectors(0, 30)).ok());
    ASSERT_TRUE((*index)->WaitForBackgroundWork().ok());  // seals the 30 rows
  }
  const std::string stray = dir + "/segments/00000000000000ff.tqs";
  std::ofstream(stray) << "not named by the catalog";
  // Damage the named segment so that Open fails.
  for (const auto& entry : fs::directory_iterator(dir + "/segments")) {
    if (entry.path() != stray) fs::resize_file(entry.path(), 100);
  }
  EXPECT_FALSE(TurboQuantIndex::Open(dir).ok());
  EXPECT_TRUE(fs::exists(stray)) << "Open removed a file before the collection validated";
}

// Throws std::bad_alloc while armed when a file whose name ends in `suffix`
// is created, or synced: memory running out at the worst moment of a commit.
class ThrowingFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class When { kCreate, kSync };
  ThrowingFileSystem(std::string suffix, When when)
      : FileSystemWrapper(rocksdb::FileSystem::Default()),
        suffix_(std::move(suffix)),
        when_(when) {}
  const char* Name() const override { return "ThrowingFileSystem"; }
  void Arm(bool armed) { armed_ = armed; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    const bool named = path.size() >= suffix_.size() &&
                       path.compare(path.size() - suffix_.size(), suffix_.size(), suffix_) == 0;
    if (named && when_ == When::kCreate && armed_) throw std::bad_alloc();
    rocksdb::IOStatus s = target()->NewWritableFile(path, options, file, debug);
    if (s.ok() && named && when_ == When::kSync) {
      *file = std::make_unique<ThrowingSyncFile>(std::move(*file), &armed_);
    }
    return s;
  }

 private:
  class ThrowingSyncFile : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    ThrowingSyncFile(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* armed)
        : FSWritableFileOwnerWrapper(std::move(file)), armed_(armed) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
      if (*armed_) throw std::bad_alloc();
      return target()->Sync(options, debug);
    }

   private:
    const std::atomic<bool>* armed_;
  };

  const std::string suffix_;
  const When when_;
  std::atomic<bool> armed_{false};
};

// Every writer of the failed group, and every one queued behind it, returns
// an error instead of waiting forever; reads go on; a reopen has the rows
// acknowledged before.
TEST(FailStopTest, OutOfMemoryInAGroupCommitFailsEveryQueuedWriter) {
  const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
  // The leader of the group syncs the vectors log its Adds appended to.
  auto disk = std::make_shared<ThrowingFileSystem>(".vlog", ThrowingFileSystem::When::kSync);
  OpenOptions open;
  open.file_system = disk;
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 10), CrashVectors(0, 10)).ok());
    disk->Arm(true);
    constexpr int kWriters = 4;
    std::vector<Status> added(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        added[w] = (*index)->Add(ConsecutiveIds(100 + w, 1), CrashVectors(100 + w, 1));
      });
    }
    for (std::thread& writer : writers) writer.join();
    for (const Status& status : added) {
      EXPECT_FALSE(status.ok());
      EXPECT_NE(status.message().find("accepts no more writes"), std::string::npos) << status;
    }
    disk->Arm(false);
    const Status later = (*index)->Add(ConsecutiveIds(200, 1), CrashVectors(200, 1));
    EXPECT_EQ(later.code(), absl::StatusCode::kResourceExhausted) << later;
    EXPECT_EQ((*index)->size(), 10);
    EXPECT_EQ(*(*index)->Get(9), CrashVector(9));
  }
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 10);
  EXPECT_TRUE((*reopened)->Verify().ok());
}

// An Add appends its kept vectors to the vectors log before it queues, in
// its own thread, and starts the log when there is none: memory running out
// there stops writes like a failed write, and later Adds write no file.
TEST(FailStopTest, OutOfMemoryWhileAnAddStartsAVectorsLogStopsWrites) {
  const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
  auto disk = std::make_shared<ThrowingFileSystem>(".vlog", ThrowingFileSystem::When::kCreate);
  OpenOptions open;
  open.file_system = disk;
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 10), CrashVectors(0, 10)).ok());
    ASSERT_TRUE((*index)->Flush().ok());  // the next Add starts a new vectors log
    disk->Arm(true);
    const Status failed = (*index)->Add(ConsecutiveIds(10, 1), CrashVectors(10, 1));
    EXPECT_NE(failed.message().find("accepts no more writes"), std::string::npos) << failed;
    disk->Arm(false);
    const Status later = (*index)->Add(ConsecutiveIds(20, 1), CrashVectors(20, 1));
    EXPECT_EQ(later.code(), absl::StatusCode::kResourceExhausted) << later;
    EXPECT_TRUE(fs::is_empty(dir + "/vectors")) << "a refused Add started a vectors log";
    EXPECT_EQ((*index)->size(), 10);
  }
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 10);
  EXPECT_TRUE((*reopened)->Verify().ok());
}

// Memory running out while a seal writes its segment file releases the
// claimed rows and stops writes; the rows were durable, so a reopen has them.
TEST(FailStopTest, OutOfMemoryInASealStopsWritesAndLosesNothing) {
  const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
  auto disk = std::make_shared<ThrowingFileSystem>(".tqs.tmp", ThrowingFileSystem::When::kCreate);
  OpenOptions open{.background_work = false};
  open.file_system = disk;
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true}, open);
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 20), CrashVectors(0, 20)).ok());
    disk->Arm(true);
    const Status flushed = (*index)->Flush();
    EXPECT_EQ(flushed.code(), absl::StatusCode::kResourceExhausted) << flushed;
    disk->Arm(false);
    const Status later = (*index)->Add(ConsecutiveIds(20, 1), CrashVectors(20, 1));
    EXPECT_NE(later.message().find("sealing or compaction failed"), std::string::npos) << later;
    EXPECT_EQ((*index)->size(), 20);
    EXPECT_TRUE((*index)->Contains(19));
  }
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 20);
  EXPECT_EQ(*(*reopened)->Get(19), CrashVector(19));
  EXPECT_TRUE((*reopened)->Flush().ok());
  EXPECT_TRUE((*reopened)->Verify().ok());
}

TEST(FailStopTest, CompactionSplitsSegmentsAtMaxSegmentRows) {
  const std::string dir = testing::MakeTempDir("fail_stop") + "/c";
  auto index = TurboQuantIndex::Create(dir, {.dim = kCrashDim, .keep_vectors = true},
                                       {.seal_rows = 1000, .max_segment_rows = 64});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->Add(ConsecutiveIds(0, 200), CrashVectors(0, 200)).ok());
  ASSERT_TRUE((*index)->Compact().ok());
  EXPECT_EQ((*index)->Stats().segments, 4);  // 64 + 64 + 64 + 8
  index->reset();
  auto reopened = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), 200);
  EXPECT_EQ(*(*reopened)->Get(199), CrashVector(199));
  EXPECT_FALSE(TurboQuantIndex::Open(dir, {.max_segment_rows = 0}).ok());
}

TEST(FailStopTest, GetOnCosineReturnsTheVectorAsAdded) {
  auto index =
      TurboQuantIndex::Create({.dim = kCrashDim, .metric = Metric::kCosine, .keep_vectors = true});
  ASSERT_TRUE(index.ok());
  std::vector<float> v = CrashVector(1);
  for (float& x : v) x *= 7.5f;  // far from unit length
  ASSERT_TRUE((*index)->Add({1}, v).ok());
  ASSERT_TRUE((*index)->Add({2}, CrashVector(2)).ok());
  EXPECT_EQ(*(*index)->Get(1), v);
  // Re-ranking still scores cosines.
  auto found = (*index)->Search(v, {.k = 1, .rerank = 2});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->ids[0], 1);
  EXPECT_NEAR(found->scores[0], 1.0f, 1e-5f);
}

}  // namespace
}  // namespace turboquant
