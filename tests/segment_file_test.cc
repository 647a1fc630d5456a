// Segment file headers from another build are refused with a clear error;
// dense 3-bit code blocks round-trip through a file at 3 bits per coordinate.
#include "storage/segment_file.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "flatbuffers/flatbuffers.h"
#include "gtest/gtest.h"
#include "src/scan/scan.h"
#include "storage/file_system.h"
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
  const std::string both =
      absl::StrFormat("scan layout version %d; this build reads version %d",
                      internal::kScanLayoutVersion + 98, internal::kScanLayoutVersion);
  EXPECT_NE(segment.status().message().find(both), std::string::npos) << segment.status();
  EXPECT_NE(segment.status().message().find(path), std::string::npos);
}

TEST(SegmentFileTest, RefusesAnotherFormatVersion) {
  const std::string path =
      WriteHeaderOnly(testing::MakeTempDir("format"), 7, internal::kScanLayoutVersion);
  auto segment = SegmentFile::Open(path, IndexOptions{.dim = 8}, 12, 128);
  EXPECT_EQ(segment.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(segment.status().message().find("format version 7"), std::string::npos)
      << segment.status();
}

// Files of the nibble-per-index layout (version 1) predate dense 3-bit codes.
TEST(SegmentFileTest, RefusesTheNibbleLayoutOfVersion1NamingBoth) {
  ASSERT_EQ(internal::kScanLayoutVersion, 2u);
  const std::string path = WriteHeaderOnly(testing::MakeTempDir("layout1"), 1, 1);
  auto segment = SegmentFile::Open(path, IndexOptions{.dim = 8}, 12, 128);
  ASSERT_FALSE(segment.ok());
  EXPECT_NE(segment.status().message().find("scan layout version 1; this build reads version 2"),
            std::string::npos)
      << segment.status();
}

// A segment of 3-bit codes holds ceil(3 d / 8) bytes per vector of blocks, and
// a view over the mapped file returns the codes that were appended.
TEST(SegmentFileTest, Dense3BitBlocksRoundTrip) {
  for (int dim : {100, 101, 128}) {
    SCOPED_TRACE("d=" + std::to_string(dim));
    const IndexOptions options{.dim = dim, .bits = 3, .codec = CodecKind::kMse};
    auto codec = Codec::Create(CodecKind::kMse, {.dim = dim, .bits = 3, .seed = options.seed});
    ASSERT_TRUE(codec.ok());
    const int rows = 70;
    const std::vector<float> x = testing::GaussianVectors(rows, dim, 3);
    std::vector<uint8_t> codes(rows * (*codec)->code_size());
    ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(codes)).ok());
    internal::ScanLayout layout(**codec);
    layout.Append(codes.data(), rows);
    std::vector<int64_t> ids(rows);
    for (int i = 0; i < rows; ++i) ids[i] = i;
    SegmentContents contents{.rows = rows,
                             .block_bytes = layout.block_bytes(),
                             .blocks = layout.block_data(),
                             .norms = layout.norm_data(),
                             .scalars = layout.scalar_data(),
                             .ids = ids};
    const std::string path = testing::MakeTempDir("dense3") + "/0000000000000001.tqs";
    ASSERT_TRUE(
        WriteSegmentFile(OrDefault(nullptr), path, options, (*codec)->code_size(), contents).ok());
    auto segment = SegmentFile::Open(path, options, (*codec)->code_size(), layout.block_bytes());
    ASSERT_TRUE(segment.ok()) << segment.status();
    const SegmentContents& read = (*segment)->contents();
    const size_t dense_bytes = (3 * size_t(dim) + 7) / 8;
    EXPECT_EQ(read.block_bytes, internal::kBlockVectors * dense_bytes);
    EXPECT_EQ(read.blocks.size(), 3 * internal::kBlockVectors * dense_bytes);
    const internal::ScanLayout view = internal::ScanLayout::View(
        **codec, rows, read.blocks.data(), read.norms.data(), read.scalars.data());
    std::vector<uint8_t> code((*codec)->code_size());
    for (int row = 0; row < rows; ++row) {
      view.ExtractCode(row, code.data());
      ASSERT_EQ(0, std::memcmp(code.data(), &codes[row * code.size()], code.size())) << row;
    }
  }
}

}  // namespace
}  // namespace turboquant::storage
