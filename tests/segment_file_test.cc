// Segment file headers from another build are refused with a clear error.
#include <cstdio>
#include <string>

#include "flatbuffers/flatbuffers.h"
#include "gtest/gtest.h"
#include "src/scan/scan.h"
#include "storage/segment_file.h"
#include "storage/segment_generated.h"
#include "tests/test_util.h"

namespace turboquant::storage {
namespace {

// A file with a valid preamble and a header carrying only the given versions.
std::string WriteHeaderOnly(const std::string& dir, uint32_t format, uint32_t scan_layout) {
  flatbuffers::FlatBufferBuilder builder;
  fb::SegmentHeaderBuilder header(builder);
  header.add_format_version(format);
  header.add_scan_layout_version(scan_layout);
  builder.Finish(header.Finish());
  const std::string path = dir + "/0000000000000001.tqs";
  FILE* file = std::fopen(path.c_str(), "wb");
  const uint32_t length = builder.GetSize();
  std::fwrite("TQSEGMT1", 1, 8, file);
  std::fwrite(&length, 4, 1, file);
  std::fwrite(builder.GetBufferPointer(), 1, length, file);
  std::fclose(file);
  return path;
}

TEST(SegmentFileTest, RefusesAnotherScanLayoutVersionNamingBoth) {
  const std::string path =
      WriteHeaderOnly(testing::MakeTempDir("layout"), 1, internal::kScanLayoutVersion + 98);
  auto segment = SegmentFile::Open(path, IndexOptions{.dim = 8}, 12, 128);
  ASSERT_FALSE(segment.ok());
  EXPECT_EQ(segment.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(segment.status().message().find("scan layout version 99"), std::string::npos)
      << segment.status();
  EXPECT_NE(segment.status().message().find(path), std::string::npos);
}

TEST(SegmentFileTest, RefusesAnotherFormatVersion) {
  const std::string path = WriteHeaderOnly(testing::MakeTempDir("format"), 7,
                                           internal::kScanLayoutVersion);
  auto segment = SegmentFile::Open(path, IndexOptions{.dim = 8}, 12, 128);
  EXPECT_EQ(segment.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(segment.status().message().find("format version 7"), std::string::npos)
      << segment.status();
}

}  // namespace
}  // namespace turboquant::storage
