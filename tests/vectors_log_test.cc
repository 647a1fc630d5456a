#include "storage/vectors_log.h"

#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/power_loss_file_system.h"
#include "tests/test_util.h"

namespace turboquant::storage {
namespace {

constexpr size_t kWindow = VectorsLog::kMaxRecordBytes;  // the smallest window allowed
constexpr size_t kRecord = 3000;                         // does not divide the window

// Bytes that differ from record to record and within each record.
std::vector<char> Records(size_t count, int seed) {
  std::vector<char> bytes(count * kRecord);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + seed + i / 4093);
  return bytes;
}

TEST(VectorsLogTest, MappedRunsHoldWholeRecordsAcrossWindowsAndOutliveTheLog) {
  const std::string dir = testing::MakeTempDir("vectors_log");
  auto log = VectorsLog::Create(OrDefault(nullptr), dir, 1, kWindow);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::vector<char> first = Records(300, 1);    // 0.9 MB
  const std::vector<char> second = Records(1000, 2);  // 3 MB: crosses two window starts
  const absl::Span<const char> parts[] = {first, second};
  auto offset = (*log)->Append(parts);
  ASSERT_TRUE(offset.ok()) << offset.status();
  ASSERT_EQ(*offset, 0u);
  ASSERT_TRUE((*log)->Sync().ok());

  auto runs = (*log)->Map(first.size(), second.size(), kRecord);
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_GT(runs->size(), 1u);
  log->reset();
  ASSERT_EQ(unlink((dir + "/" + VectorsLog::FileName(1)).c_str()), 0);
  size_t at = 0;
  for (const MappedRun& run : *runs) {
    EXPECT_EQ(run.size % kRecord, 0u);
    ASSERT_LE(at + run.size, second.size());
    EXPECT_EQ(std::memcmp(run.data, second.data() + at, run.size), 0) << "at " << at;
    at += run.size;
  }
  EXPECT_EQ(at, second.size());
}

TEST(VectorsLogTest, MapRefusesBytesNotWrittenAndPartialRecords) {
  const std::string dir = testing::MakeTempDir("vectors_log_bad");
  auto log = VectorsLog::Create(OrDefault(nullptr), dir, 1, kWindow);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::vector<char> bytes = Records(10, 3);
  const absl::Span<const char> parts[] = {bytes};
  ASSERT_TRUE((*log)->Append(parts).ok());
  EXPECT_FALSE((*log)->Map(0, bytes.size() + kRecord, kRecord).ok());
  EXPECT_FALSE((*log)->Map(kRecord * 20, kRecord, kRecord).ok());
  EXPECT_FALSE((*log)->Map(0, kRecord + 1, kRecord).ok());
  EXPECT_TRUE((*log)->Map(0, bytes.size(), kRecord).ok());
}

TEST(VectorsLogTest, ConcurrentAppendsLandWholeAtTheOffsetsTheyReturn) {
  const std::string dir = testing::MakeTempDir("vectors_log_concurrent");
  auto log = VectorsLog::Create(OrDefault(nullptr), dir, 1, kWindow);
  ASSERT_TRUE(log.ok()) << log.status();
  constexpr int kThreads = 4;
  constexpr int kAppendsPerThread = 50;
  std::vector<std::vector<char>> records(kThreads * kAppendsPerThread);
  std::vector<uint64_t> offsets(records.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < static_cast<int>(records.size()); i += kThreads) {
        records[i] = Records(1 + i % 7, i);
        const absl::Span<const char> parts[] = {records[i]};
        auto offset = (*log)->Append(parts);
        ASSERT_TRUE(offset.ok()) << offset.status();
        offsets[i] = *offset;
        if (i % 10 == 0) ASSERT_TRUE((*log)->Sync().ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE((*log)->Sync().ok());
  for (size_t i = 0; i < records.size(); ++i) {
    auto runs = (*log)->Map(offsets[i], records[i].size(), kRecord);
    ASSERT_TRUE(runs.ok()) << runs.status();
    size_t at = 0;
    for (const MappedRun& run : *runs) {
      EXPECT_EQ(std::memcmp(run.data, records[i].data() + at, run.size), 0) << "record " << i;
      at += run.size;
    }
    EXPECT_EQ(at, records[i].size());
  }
}

TEST(VectorsLogTest, AppendsAreRefusedAfterOneFailed) {
  const std::string dir = testing::MakeTempDir("vectors_log_failed");
  auto disk = std::make_shared<testing::PowerLossFileSystem>();
  auto log = VectorsLog::Create(disk, dir, 1, kWindow);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::vector<char> bytes = Records(3, 4);
  const absl::Span<const char> parts[] = {bytes};
  ASSERT_TRUE((*log)->Append(parts).ok());
  disk->CutPowerAt(disk->operations() + 1);
  EXPECT_FALSE((*log)->Append(parts).ok());
  // The disk works again, but where the failed write ended is unknown.
  disk->CutPowerAt(0);
  const auto refused = (*log)->Append(parts);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("simulated power loss"), std::string::npos)
      << refused.status();
}

TEST(VectorsLogTest, CreateRefusesAWindowSmallerThanARecord) {
  const std::string dir = testing::MakeTempDir("vectors_log_window");
  EXPECT_FALSE(VectorsLog::Create(OrDefault(nullptr), dir, 1, 4096).ok());
  EXPECT_FALSE(VectorsLog::Create(OrDefault(nullptr), dir, 2, kWindow + 100).ok());
}

}  // namespace
}  // namespace turboquant::storage
