#include "storage/vectors_log.h"

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
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
  auto offsets = (*log)->AppendAndSync(parts);
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  ASSERT_EQ((*offsets)[1], first.size());

  auto runs = (*log)->Map((*offsets)[1], second.size(), kRecord);
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
  ASSERT_TRUE((*log)->AppendAndSync(parts).ok());
  EXPECT_FALSE((*log)->Map(0, bytes.size() + kRecord, kRecord).ok());
  EXPECT_FALSE((*log)->Map(kRecord * 20, kRecord, kRecord).ok());
  EXPECT_FALSE((*log)->Map(0, kRecord + 1, kRecord).ok());
  EXPECT_TRUE((*log)->Map(0, bytes.size(), kRecord).ok());
}

TEST(VectorsLogTest, CreateRefusesAWindowSmallerThanARecord) {
  const std::string dir = testing::MakeTempDir("vectors_log_window");
  EXPECT_FALSE(VectorsLog::Create(OrDefault(nullptr), dir, 1, 4096).ok());
  EXPECT_FALSE(VectorsLog::Create(OrDefault(nullptr), dir, 2, kWindow + 100).ok());
}

}  // namespace
}  // namespace turboquant::storage
