// Round trips of every writable format, chunked streaming, IDX (plain and
// gzip) reading from hand-built files, and the value checks on both sides.
#include "turboquant/io.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/io_test_files.h"
#include "tests/test_util.h"

namespace turboquant {
namespace {

using ::testing::HasSubstr;
using ::turboquant::testing::FloatBytes;
using ::turboquant::testing::IdxBytes;
using ::turboquant::testing::Int32Bytes;
using ::turboquant::testing::LittleEndian32;
using ::turboquant::testing::MakeTempDir;
using ::turboquant::testing::MessageOf;
using ::turboquant::testing::ReadFileBytes;
using ::turboquant::testing::WriteFileBytes;
using ::turboquant::testing::WriteGzipFile;

struct FormatCase {
  const char* extension;
  ElementType type;
};

std::string CaseName(const ::testing::TestParamInfo<FormatCase>& info) {
  return std::string(info.param.extension + 1) + "_" + ElementTypeName(info.param.type);
}

// rows x dim values the type holds exactly: Gaussian floats, bytes, or
// integers spanning the float-exact range including negatives.
std::vector<float> ValuesFor(ElementType type, int rows, int dim, uint64_t seed) {
  std::vector<float> values = testing::GaussianVectors(rows, dim, seed);
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == ElementType::kUint8) values[i] = static_cast<float>((i * 37 + seed) % 256);
    if (type == ElementType::kInt32 || type == ElementType::kInt64) {
      // Within 2^24, so that the int32 values read back as float exactly.
      values[i] = std::clamp(std::round(values[i] * (1 << 22)), -16777216.0f, 16777216.0f);
    }
  }
  return values;
}

class RoundTripTest : public ::testing::TestWithParam<FormatCase> {
 protected:
  std::string PathFor(const std::string& stem) {
    return MakeTempDir("io_round_trip") + "/" + stem + GetParam().extension;
  }
};

TEST_P(RoundTripTest, WholeFileIsExact) {
  const std::string path = PathFor("whole");
  Matrix written{1000, 17, ValuesFor(GetParam().type, 1000, 17, 1)};
  ASSERT_TRUE(WriteVectors(path, written, GetParam().type).ok());

  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows, 1000);
  EXPECT_EQ(read->dim, 17);
  EXPECT_EQ(read->data, written.data);
  EXPECT_EQ(read->row(999)[16], written.data.back());
}

TEST_P(RoundTripTest, ChunkedReadsThatDoNotDivideTheRowCount) {
  const std::string path = PathFor("chunked");
  const std::vector<float> values = ValuesFor(GetParam().type, 1000, 9, 2);
  ASSERT_TRUE(WriteVectors(path, Matrix{1000, 9, values}, GetParam().type).ok());

  for (const int64_t chunk : {1, 7, 333, 999, 1000, 4096}) {
    StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ((*reader)->rows(), 1000);
    EXPECT_EQ((*reader)->dim(), 9);
    EXPECT_EQ((*reader)->element_type(), GetParam().type);
    std::vector<float> all;
    int64_t calls = 0;
    for (;;) {
      StatusOr<int64_t> got = (*reader)->ReadRows(chunk, &all);
      ASSERT_TRUE(got.ok()) << got.status();
      if (*got == 0) break;
      EXPECT_EQ(*got, std::min<int64_t>(chunk, 1000 - calls * chunk));
      ++calls;
      EXPECT_EQ((*reader)->rows_read(), std::min<int64_t>(calls * chunk, 1000));
    }
    EXPECT_EQ(calls, (1000 + chunk - 1) / chunk) << "chunk " << chunk;
    EXPECT_EQ(all, values) << "chunk " << chunk;
  }
}

TEST_P(RoundTripTest, StreamedWritesInUnevenBatches) {
  const std::string path = PathFor("streamed");
  const std::vector<float> values = ValuesFor(GetParam().type, 100, 5, 3);
  StatusOr<std::unique_ptr<VectorWriter>> writer = VectorWriter::Create(path, 5, GetParam().type);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const auto& [first, count] :
       {std::pair{0, 1}, std::pair{1, 0}, std::pair{1, 62}, std::pair{63, 37}}) {
    ASSERT_TRUE((*writer)->Append(absl::MakeConstSpan(values).subspan(first * 5, count * 5)).ok());
  }
  EXPECT_EQ((*writer)->rows_written(), 100);
  ASSERT_TRUE((*writer)->Close().ok());

  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows, 100);
  EXPECT_EQ(read->data, values);
}

INSTANTIATE_TEST_SUITE_P(AllWritableFormats, RoundTripTest,
                         ::testing::Values(FormatCase{".fvecs", ElementType::kFloat32},
                                           FormatCase{".ivecs", ElementType::kInt32},
                                           FormatCase{".bvecs", ElementType::kUint8},
                                           FormatCase{".fbin", ElementType::kFloat32},
                                           FormatCase{".u8bin", ElementType::kUint8},
                                           FormatCase{".ibin", ElementType::kInt32},
                                           FormatCase{".npy", ElementType::kFloat32},
                                           FormatCase{".npy", ElementType::kUint8},
                                           FormatCase{".npy", ElementType::kInt32},
                                           FormatCase{".npy", ElementType::kInt64},
                                           FormatCase{".npy", ElementType::kFloat64}),
                         CaseName);

using IdRoundTripTest = RoundTripTest;

// Ids are written and read as int64, exactly up to the limits of the type.
TEST_P(IdRoundTripTest, ExactUpToTheLimitsOfTheType) {
  const std::string path = PathFor("ids");
  const ElementType type = GetParam().type;
  const int64_t big = type == ElementType::kInt64   ? std::numeric_limits<int64_t>::max()
                      : type == ElementType::kInt32 ? 2147483647
                                                    : 255;
  const int64_t small = type == ElementType::kInt64   ? std::numeric_limits<int64_t>::min()
                        : type == ElementType::kInt32 ? -2147483648LL
                                                      : 0;
  IdMatrix ids{3, 2, {0, big, small, 1, 17, big - 1}};
  StatusOr<std::unique_ptr<VectorWriter>> writer = VectorWriter::Create(path, 2, GetParam().type);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->AppendInt64(ids.data).ok());
  ASSERT_TRUE((*writer)->Close().ok());

  StatusOr<IdMatrix> read = ReadIdRows(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows, 3);
  EXPECT_EQ(read->dim, 2);
  EXPECT_EQ(read->data, ids.data);
}

INSTANTIATE_TEST_SUITE_P(IntegerFormats, IdRoundTripTest,
                         ::testing::Values(FormatCase{".ivecs", ElementType::kInt32},
                                           FormatCase{".bvecs", ElementType::kUint8},
                                           FormatCase{".u8bin", ElementType::kUint8},
                                           FormatCase{".ibin", ElementType::kInt32},
                                           FormatCase{".npy", ElementType::kUint8},
                                           FormatCase{".npy", ElementType::kInt32},
                                           FormatCase{".npy", ElementType::kInt64}),
                         CaseName);

TEST(IoTest, ReadsSpanSeveralInternalChunks) {
  // 3000 records of 4004 bytes = 12 MB: one full 8 MiB chunk and a partial one.
  const std::string path = MakeTempDir("io_big") + "/big.fvecs";
  const std::vector<float> values = testing::GaussianVectors(3000, 1000, 4);
  ASSERT_TRUE(WriteVectors(path, Matrix{3000, 1000, values}, ElementType::kFloat32).ok());
  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows, 3000);
  EXPECT_EQ(read->data, values);
}

TEST(IoTest, TexmexBytesFollowTheSpecification) {
  const std::string path = MakeTempDir("io_spec") + "/two.fvecs";
  ASSERT_TRUE(WriteVectors(path, Matrix{2, 2, {1.5f, -2, 3, 4}}, ElementType::kFloat32).ok());
  EXPECT_EQ(ReadFileBytes(path), Int32Bytes(2) + FloatBytes(1.5f) + FloatBytes(-2) + Int32Bytes(2) +
                                     FloatBytes(3) + FloatBytes(4));
}

TEST(IoTest, BinBytesFollowTheSpecification) {
  const std::string path = MakeTempDir("io_spec") + "/two.ibin";
  ASSERT_TRUE(WriteIdRows(path, IdMatrix{2, 1, {7, -9}}).ok());
  EXPECT_EQ(ReadFileBytes(path), Int32Bytes(2) + Int32Bytes(1) + Int32Bytes(7) + Int32Bytes(-9));
}

TEST(IoTest, NpyHeaderIsWhatNumpyWrites) {
  const std::string path = MakeTempDir("io_spec") + "/a.npy";
  ASSERT_TRUE(WriteVectors(path, Matrix{3, 2, {1, 2, 3, 4, 5, 6}}, ElementType::kUint8).ok());
  const std::string bytes = ReadFileBytes(path);
  ASSERT_EQ(bytes.size(), 128u + 6u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2), }";
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes.substr(10 + dict.size(), 127 - 10 - dict.size()),
            std::string(127 - 10 - dict.size(), ' '));
  EXPECT_EQ(bytes[127], '\n');
  EXPECT_EQ(bytes.substr(128), std::string("\x01\x02\x03\x04\x05\x06", 6));
}

// A header as written by NumPy 2 for version 2.0 (4-byte length), with
// double quotes, no trailing comma and a 1-D shape: rows of dimension 1.
TEST(IoTest, ReadsNpyVersion2OneDimensional) {
  const std::string path = MakeTempDir("io_npy") + "/labels.npy";
  std::string dict = "{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (3,)}\n";
  WriteFileBytes(path, std::string("\x93NUMPY\x02\x00", 8) + LittleEndian32(dict.size()) + dict +
                           Int32Bytes(5) + Int32Bytes(-6) + Int32Bytes(7));
  StatusOr<IdMatrix> read = ReadIdRows(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows, 3);
  EXPECT_EQ(read->dim, 1);
  EXPECT_EQ(read->data, (std::vector<int64_t>{5, -6, 7}));
}

TEST(IoTest, ReadsIdxImagesAndLabels) {
  const std::string dir = MakeTempDir("io_idx");
  WriteFileBytes(dir + "/images-idx3-ubyte", IdxBytes(5, 4, 7));
  WriteFileBytes(dir + "/labels-idx1-ubyte", IdxBytes(6, 0, 0));

  StatusOr<Matrix> images = ReadVectors(dir + "/images-idx3-ubyte");
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->rows, 5);
  EXPECT_EQ(images->dim, 28);
  EXPECT_EQ(images->row(2)[3], (2 * 7 + 3) % 256);
  EXPECT_EQ(images->row(4)[27], (4 * 7 + 27) % 256);

  StatusOr<IdMatrix> labels = ReadIdRows(dir + "/labels-idx1-ubyte");
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->rows, 6);
  EXPECT_EQ(labels->dim, 1);
  EXPECT_EQ(labels->data, (std::vector<int64_t>{0, 7, 14, 21, 28, 35}));
}

TEST(IoTest, GzipIdxReadsLikeThePlainFile) {
  const std::string dir = MakeTempDir("io_idx_gz");
  const std::string plain = dir + "/t-images-idx3-ubyte";
  WriteFileBytes(plain, IdxBytes(3001, 28, 28));
  WriteGzipFile(plain + ".gz", IdxBytes(3001, 28, 28));
  // Debian's name ends in .gz; a gunzipped-but-not-renamed file has only the magic.
  WriteGzipFile(dir + "/renamed-idx3-ubyte", IdxBytes(3001, 28, 28));

  StatusOr<Matrix> expected = ReadVectors(plain);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(expected->rows, 3001);
  EXPECT_EQ(expected->dim, 784);
  for (const std::string& gz : {plain + ".gz", dir + "/renamed-idx3-ubyte"}) {
    StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(gz);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ((*reader)->rows(), 3001);
    std::vector<float> all;
    StatusOr<int64_t> got;
    do {
      got = (*reader)->ReadRows(1000, &all);
      ASSERT_TRUE(got.ok()) << got.status();
    } while (*got > 0);
    EXPECT_EQ(all, expected->data) << gz;
  }
}

TEST(IoTest, ExtensionsAreCaseInsensitive) {
  const std::string path = MakeTempDir("io_case") + "/UPPER.FVECS";
  ASSERT_TRUE(WriteVectors(path, Matrix{1, 2, {1, 2}}, ElementType::kFloat32).ok());
  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, (std::vector<float>{1, 2}));
}

TEST(IoTest, ZeroRowHeaderFormatsAreValid) {
  const std::string dir = MakeTempDir("io_empty_ok");
  for (const std::string name : {"none.fbin", "none.npy"}) {
    ASSERT_TRUE(WriteVectors(dir + "/" + name, Matrix{0, 3, {}}, ElementType::kFloat32).ok());
    StatusOr<Matrix> read = ReadVectors(dir + "/" + name);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->rows, 0);
    EXPECT_EQ(read->dim, 3);
  }
}

TEST(IoTest, NonFiniteFloatsAreRejectedUnlessAllowed) {
  const std::string dir = MakeTempDir("io_nan");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::string row = Int32Bytes(3) + FloatBytes(1) + FloatBytes(2) + FloatBytes(3);
  WriteFileBytes(dir + "/nan.fvecs",
                 row + row + Int32Bytes(3) + FloatBytes(0) + FloatBytes(nan) + FloatBytes(1));
  WriteFileBytes(dir + "/inf.fbin", Int32Bytes(2) + Int32Bytes(2) + FloatBytes(0) + FloatBytes(0) +
                                        FloatBytes(0) + FloatBytes(-inf));

  StatusOr<Matrix> rejected = ReadVectors(dir + "/nan.fvecs");
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(MessageOf(rejected.status()), HasSubstr(dir + "/nan.fvecs"));
  EXPECT_THAT(MessageOf(rejected.status()), HasSubstr("row 2, column 1: value nan is not finite"));
  rejected = ReadVectors(dir + "/inf.fbin");
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(MessageOf(rejected.status()), HasSubstr("row 1, column 1: value -inf"));

  VectorReaderOptions allow;
  allow.allow_non_finite = true;
  StatusOr<Matrix> allowed = ReadVectors(dir + "/nan.fvecs", allow);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(std::isnan(allowed->row(2)[1]));
  allowed = ReadVectors(dir + "/inf.fbin", allow);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->row(1)[1], -inf);
}

TEST(IoTest, FailedReadLeavesOutputUntouchedAndStaysFailed) {
  const std::string path = MakeTempDir("io_sticky") + "/bad.fvecs";
  const std::string good = Int32Bytes(1) + FloatBytes(5);
  WriteFileBytes(path, good + good + Int32Bytes(1) + FloatBytes(std::nanf("")) + good);
  StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> out = {42};
  ASSERT_TRUE((*reader)->ReadRows(1, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{42, 5}));
  EXPECT_FALSE((*reader)->ReadRows(10, &out).ok());
  EXPECT_EQ(out, (std::vector<float>{42, 5}));
  StatusOr<int64_t> again = (*reader)->ReadRows(10, &out);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(MessageOf(again.status()), HasSubstr("row 2, column 0: value nan"));
}

TEST(IoTest, Int32BeyondFloatPrecisionIsNotReadAsFloat) {
  const std::string path = MakeTempDir("io_int_float") + "/ids.ivecs";
  ASSERT_TRUE(WriteIdRows(path, IdMatrix{2, 2, {1, 2, 3, (1 << 24) + 1}}).ok());
  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(MessageOf(read.status()), HasSubstr("row 1, column 1: value 16777217"));
  StatusOr<IdMatrix> ids = ReadIdRows(path);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->data.back(), (1 << 24) + 1);
}

// float64 (as some ann-benchmarks sets store vectors) rounds to the nearest
// float; what float cannot hold at all is refused by name, like NaN.
TEST(IoTest, Float64IsRoundedButRangeAndNanChecked) {
  const std::string dir = MakeTempDir("io_float64");
  const std::string fine = dir + "/fine.npy";
  ASSERT_TRUE(WriteVectors(fine, Matrix{1, 3, {0.1f, -2.5f, 3e38f}}, ElementType::kFloat64).ok());
  StatusOr<Matrix> read = ReadVectors(fine);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, (std::vector<float>{0.1f, -2.5f, 3e38f}));

  // 1e300 and NaN as raw float64 values after the header WriteVectors made.
  std::string bytes = ReadFileBytes(fine);
  const double wide[3] = {1.0, 1e300, std::nan("")};
  bytes.replace(bytes.size() - sizeof(wide), sizeof(wide),
                std::string(reinterpret_cast<const char*>(wide), sizeof(wide)));
  WriteFileBytes(fine, bytes);
  read = ReadVectors(fine);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(
      MessageOf(read.status()),
      HasSubstr("row 0, column 1: value 1.0000000000000001e+300 is beyond float32's range"));
  EXPECT_FALSE(ReadIdRows(fine).ok());
}

TEST(IoTest, FloatFilesAreNotIds) {
  const std::string path = MakeTempDir("io_float_ids") + "/x.fvecs";
  ASSERT_TRUE(WriteVectors(path, Matrix{1, 1, {3}}, ElementType::kFloat32).ok());
  StatusOr<IdMatrix> ids = ReadIdRows(path);
  ASSERT_FALSE(ids.ok());
  EXPECT_THAT(MessageOf(ids.status()), HasSubstr(path));
  EXPECT_THAT(MessageOf(ids.status()), HasSubstr("float32"));
}

TEST(IoTest, NegativeMaxRowsIsRejected) {
  const std::string path = MakeTempDir("io_neg") + "/x.fvecs";
  ASSERT_TRUE(WriteVectors(path, Matrix{1, 1, {3}}, ElementType::kFloat32).ok());
  StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(path);
  ASSERT_TRUE(reader.ok());
  std::vector<float> out;
  EXPECT_EQ((*reader)->ReadRows(-1, &out).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- Writing values the element type cannot hold ----

struct BadValue {
  const char* file;
  ElementType type;
  float value;
  const char* expected;
};

TEST(IoWriterTest, RejectsFloatValuesTheTypeCannotHold) {
  const std::string dir = MakeTempDir("io_bad_values");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  constexpr ElementType kU8 = ElementType::kUint8;
  constexpr ElementType kI32 = ElementType::kInt32;
  constexpr ElementType kF32 = ElementType::kFloat32;
  for (const BadValue& bad :
       {BadValue{"a.bvecs", kU8, 300.0f, "value 300 does not fit uint8"},
        BadValue{"b.u8bin", kU8, -1.0f, "value -1 does not fit uint8"},
        BadValue{"c.npy", kU8, 1.5f, "value 1.5 does not fit uint8"},
        BadValue{"d.ivecs", kI32, nan, "value nan does not fit int32"},
        BadValue{"e.ibin", kI32, 2147483648.0f, "value 2147483648 does not fit"},
        BadValue{"f.npy", kI32, 0.25f, "value 0.25 does not fit int32"},
        BadValue{"g.fvecs", kF32, nan, "value nan does not fit float32"},
        BadValue{"h.fbin", kF32, -inf, "value -inf does not fit float32"}}) {
    const std::string path = dir + "/" + bad.file;
    StatusOr<std::unique_ptr<VectorWriter>> writer = VectorWriter::Create(path, 3, bad.type);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Append({1, 2, 3, 4, 5, 6}).ok());
    const Status status = (*writer)->Append({7, 8, 9, 10, bad.value, 12});
    ASSERT_FALSE(status.ok()) << bad.file;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(MessageOf(status), HasSubstr(path));
    EXPECT_THAT(MessageOf(status), HasSubstr(std::string("row 3, column 1: ") + bad.expected));
    // The failed call wrote nothing: the file holds the first two rows.
    ASSERT_TRUE((*writer)->Close().ok());
    StatusOr<Matrix> read = ReadVectors(path);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->data, (std::vector<float>{1, 2, 3, 4, 5, 6})) << bad.file;
  }
}

TEST(IoWriterTest, RejectsIntegerValuesTheTypeCannotHold) {
  const std::string dir = MakeTempDir("io_bad_ints");
  StatusOr<std::unique_ptr<VectorWriter>> bytes =
      VectorWriter::Create(dir + "/x.u8bin", 1, ElementType::kUint8);
  ASSERT_TRUE(bytes.ok());
  Status status = (*bytes)->AppendInt64({255, 256});
  EXPECT_THAT(MessageOf(status), HasSubstr("row 1, column 0: value 256 does not fit uint8"));

  StatusOr<std::unique_ptr<VectorWriter>> floats =
      VectorWriter::Create(dir + "/x.fvecs", 1, ElementType::kFloat32);
  ASSERT_TRUE(floats.ok());
  status = (*floats)->AppendInt64({1 << 24, (1 << 24) + 1});
  EXPECT_THAT(MessageOf(status), HasSubstr("value 16777217 does not fit float32"));

  status = WriteIdRows(dir + "/gt.ivecs", IdMatrix{1, 2, {1, int64_t{1} << 31}});
  EXPECT_THAT(MessageOf(status), HasSubstr("row 0, column 1: value 2147483648 does not fit int32"));
}

TEST(IoWriterTest, RejectsMisuse) {
  const std::string dir = MakeTempDir("io_misuse");
  StatusOr<std::unique_ptr<VectorWriter>> writer =
      VectorWriter::Create(dir + "/x.fvecs", 4, ElementType::kUint8);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(MessageOf(writer.status()), HasSubstr("holds float32 values, not uint8"));

  for (const int dim : {0, -3, kMaxVectorDim + 1}) {
    writer = VectorWriter::Create(dir + "/x.npy", dim, ElementType::kFloat32);
    ASSERT_FALSE(writer.ok());
    EXPECT_THAT(MessageOf(writer.status()), HasSubstr("out of range"));
  }

  writer = VectorWriter::Create(dir + "/x-idx3-ubyte", 784, ElementType::kUint8);
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kUnimplemented);

  writer = VectorWriter::Create(dir + "/x.npy", 4, ElementType::kFloat32);
  ASSERT_TRUE(writer.ok());
  Status status = (*writer)->Append({1, 2, 3, 4, 5});
  EXPECT_THAT(MessageOf(status), HasSubstr("not a whole number of rows of dimension 4"));
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ((*writer)->Append({1, 2, 3, 4}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Close().code(), absl::StatusCode::kFailedPrecondition);

  status = WriteVectors(dir + "/y.fbin", Matrix{2, 3, {1, 2, 3}}, ElementType::kFloat32);
  EXPECT_THAT(MessageOf(status), HasSubstr("not rows x dim"));

  writer = VectorWriter::Create(dir + "/no/such/dir/x.fvecs", 4, ElementType::kFloat32);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(MessageOf(writer.status()), HasSubstr(dir + "/no/such/dir/x.fvecs"));
}

TEST(IoWriterTest, DroppedWriterStillLeavesAConsistentFile) {
  const std::string path = MakeTempDir("io_dropped") + "/x.fbin";
  {
    StatusOr<std::unique_ptr<VectorWriter>> writer =
        VectorWriter::Create(path, 2, ElementType::kFloat32);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append({1, 2, 3, 4}).ok());
  }
  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows, 2);
}

}  // namespace
}  // namespace turboquant
