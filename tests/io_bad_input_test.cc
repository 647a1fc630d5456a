// Malformed input: every case must give a non-OK status that names the file
// and the problem, and no file, however cut or scrambled, may crash a reader
// or make it read out of bounds (run this under AddressSanitizer).
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/io_test_files.h"
#include "tests/test_util.h"
#include "turboquant/io.h"

namespace turboquant {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::turboquant::testing::BigEndian32;
using ::turboquant::testing::FloatBytes;
using ::turboquant::testing::IdxBytes;
using ::turboquant::testing::Int32Bytes;
using ::turboquant::testing::LittleEndian32;
using ::turboquant::testing::MakeTempDir;
using ::turboquant::testing::MessageOf;
using ::turboquant::testing::ReadFileBytes;
using ::turboquant::testing::WriteFileBytes;
using ::turboquant::testing::WriteGzipFile;

class BadInputTest : public ::testing::Test {
 protected:
  BadInputTest() : dir_(MakeTempDir("io_bad_input")) {}

  // Writes `bytes` to a file called `name` and returns the status of reading
  // all of it, after checking that the message names the file.
  Status ReadError(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    WriteFileBytes(path, bytes);
    return ReadPath(path);
  }

  Status ReadPath(const std::string& path) {
    StatusOr<Matrix> read = ReadVectors(path);
    EXPECT_FALSE(read.ok()) << path << " was read as " << read->rows << " x " << read->dim;
    EXPECT_THAT(MessageOf(read.status()), HasSubstr(path));
    return read.status();
  }

  std::string Gzip(const std::string& bytes) {
    const std::string path = dir_ + "/scratch.gz";
    WriteGzipFile(path, bytes);
    return ReadFileBytes(path);
  }

  const std::string dir_;
};

std::string FvecsRow(int32_t dim, int values) {
  std::string row = Int32Bytes(dim);
  for (int i = 0; i < values; ++i) row += FloatBytes(static_cast<float>(i));
  return row;
}

std::string NpyFile(const std::string& dict, const std::string& data) {
  return std::string("\x93NUMPY\x01\x00", 8) +
         std::string{static_cast<char>(dict.size() & 0xff), static_cast<char>(dict.size() >> 8)} +
         dict + data;
}

// ---- Files that do not exist or cannot be vector files ----

TEST_F(BadInputTest, MissingFile) {
  const Status status = ReadPath(dir_ + "/missing.fvecs");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(status), HasSubstr("No such file"));
}

TEST_F(BadInputTest, Directory) {
  const std::string path = dir_ + "/directory.fvecs";
  std::filesystem::create_directory(path);
  EXPECT_THAT(MessageOf(ReadPath(path)), HasSubstr("is a directory"));
}

TEST_F(BadInputTest, UnknownExtensionListsTheSupportedOnes) {
  const Status status = ReadError("vectors.txt", "1 2 3");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      MessageOf(status),
      AllOf(HasSubstr("unknown vector file extension"), HasSubstr(".fvecs"), HasSubstr(".bvecs"),
            HasSubstr(".u8bin"), HasSubstr(".npy"), HasSubstr("idx3-ubyte")));
}

TEST_F(BadInputTest, GzipIsOnlyForIdx) {
  EXPECT_THAT(MessageOf(ReadError("base.fvecs.gz", Gzip(FvecsRow(1, 1)))),
              HasSubstr("only IDX files may be gzipped"));
  // Compressed content behind a plain extension is named as such too.
  EXPECT_THAT(MessageOf(ReadError("base.fvecs", Gzip(FvecsRow(1, 1)))),
              HasSubstr("is gzip-compressed"));
}

TEST_F(BadInputTest, EmptyFiles) {
  for (const std::string name :
       {"e.fvecs", "e.ivecs", "e.bvecs", "e.fbin", "e.u8bin", "e.ibin", "e.npy", "e-idx3-ubyte"}) {
    EXPECT_THAT(MessageOf(ReadError(name, "")), HasSubstr("empty file")) << name;
  }
}

// ---- TEXMEX ----

TEST_F(BadInputTest, TexmexRecordHeaderCutOff) {
  EXPECT_THAT(MessageOf(ReadError("short.fvecs", "\x04\x00")),
              AllOf(HasSubstr("truncated"), HasSubstr("dimension of row 0")));
}

TEST_F(BadInputTest, TexmexRecordCutOff) {
  std::string bytes;
  for (int i = 0; i < 10; ++i) bytes += FvecsRow(4, 4);
  bytes.resize(bytes.size() - 3);
  const Status status = ReadError("cut.fvecs", bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(MessageOf(status),
              AllOf(HasSubstr("truncated record"), HasSubstr("file size 197"),
                    HasSubstr("20-byte record"), HasSubstr("row 9 is cut off after 17 bytes")));
}

TEST_F(BadInputTest, TexmexDimensionsDisagreeInRowOne) {
  EXPECT_THAT(
      MessageOf(ReadError("ragged.fvecs", FvecsRow(4, 4) + FvecsRow(5, 5) + FvecsRow(4, 4))),
      HasSubstr("row 1 has dimension 5, but row 0 has dimension 4"));
}

TEST_F(BadInputTest, TexmexDimensionsDisagreeLater) {
  // Row 3 claims dimension 3 but the sizes still add up: found while reading.
  std::string bytes;
  for (int i = 0; i < 6; ++i) bytes += FvecsRow(i == 3 ? 3 : 4, 4);
  const std::string path = dir_ + "/late.fvecs";
  WriteFileBytes(path, bytes);
  StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> out;
  ASSERT_TRUE((*reader)->ReadRows(3, &out).ok());
  const StatusOr<int64_t> got = (*reader)->ReadRows(3, &out);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(
      MessageOf(got.status()),
      AllOf(HasSubstr(path), HasSubstr("row 3 has dimension 3, but row 0 has dimension 4")));
  EXPECT_EQ(out.size(), 12u);
}

TEST_F(BadInputTest, TexmexDimensionOutOfRange) {
  for (const int32_t dim : {0, -5, kMaxVectorDim + 1}) {
    EXPECT_THAT(MessageOf(ReadError("dim.ivecs", Int32Bytes(dim) + Int32Bytes(1))),
                HasSubstr(absl::StrCat("dimension ", dim, " in row 0 is out of range 1..1048576")));
  }
}

// ---- .fbin / .u8bin / .ibin ----

TEST_F(BadInputTest, BinHeaderCutOff) {
  EXPECT_THAT(MessageOf(ReadError("h.fbin", Int32Bytes(1) + "\x02")),
              AllOf(HasSubstr("truncated"), HasSubstr("8-byte header")));
}

TEST_F(BadInputTest, BinHeaderDoesNotMatchFileSize) {
  std::string data(10 * 4 * 4 - 1, '\0');
  const Status status = ReadError("n.fbin", Int32Bytes(10) + Int32Bytes(4) + data);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(MessageOf(status),
              HasSubstr("header declares 10 rows of 4 float32 values (16 bytes each), but the file "
                        "holds 159 bytes after its 8-byte header"));
  EXPECT_THAT(MessageOf(ReadError("n.u8bin", Int32Bytes(2) + Int32Bytes(3) + std::string(7, 'x'))),
              HasSubstr("declares 2 rows of 3 uint8 values"));
}

TEST_F(BadInputTest, BinHugeRowCountDoesNotOverflow) {
  EXPECT_THAT(MessageOf(ReadError(
                  "huge.ibin", Int32Bytes(0x7fffffff) + Int32Bytes(kMaxVectorDim) + Int32Bytes(1))),
              HasSubstr("declares 2147483647 rows"));
}

TEST_F(BadInputTest, BinBadHeaderValues) {
  EXPECT_THAT(MessageOf(ReadError("neg.fbin", Int32Bytes(-1) + Int32Bytes(2))),
              HasSubstr("row count -1 in the header is negative"));
  for (const int32_t dim : {0, -2, kMaxVectorDim + 1}) {
    EXPECT_THAT(MessageOf(ReadError("dim.fbin", Int32Bytes(0) + Int32Bytes(dim))),
                HasSubstr(absl::StrCat("dimension ", dim, " in the header is out of range")));
  }
}

// ---- .npy ----

TEST_F(BadInputTest, NpyBadMagicAndVersion) {
  EXPECT_THAT(MessageOf(ReadError("m.npy", std::string("\x93NUMPZ\x01\x00\x00\x00", 10))),
              HasSubstr("bad .npy magic"));
  EXPECT_THAT(MessageOf(ReadError("v.npy", std::string("\x93NUMPY\x04\x00\x00\x00", 10))),
              HasSubstr("unsupported .npy version 4.0"));
  EXPECT_THAT(MessageOf(ReadError("t.npy", "\x93NUM")), HasSubstr("truncated"));
}

TEST_F(BadInputTest, NpyHeaderLengthBeyondTheFileOrAbsurd) {
  EXPECT_THAT(MessageOf(ReadError("l.npy", std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 17))),
              AllOf(HasSubstr("truncated"), HasSubstr(".npy header")));
  EXPECT_THAT(MessageOf(ReadError("l2.npy",
                                  std::string("\x93NUMPY\x02\x00", 8) + LittleEndian32(1u << 30))),
              HasSubstr("implausible .npy header length 1073741824"));
}

TEST_F(BadInputTest, NpyUnsupportedDtype) {
  for (const std::string dtype : {">f8", ">f4", "<i2", "|b1"}) {
    const std::string dict =
        "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (1, 1), }\n";
    EXPECT_THAT(MessageOf(ReadError("d.npy", NpyFile(dict, std::string(8, '\0')))),
                HasSubstr("unsupported .npy dtype '" + dtype +
                          "' (supported: '<f4', '<f8', '|u1', '<i4', '<i8')"));
  }
}

TEST_F(BadInputTest, NpyFortranOrder) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n";
  EXPECT_THAT(MessageOf(ReadError("f.npy", NpyFile(dict, std::string(16, '\0')))),
              HasSubstr("fortran_order is True"));
}

TEST_F(BadInputTest, NpyUnsupportedShapes) {
  EXPECT_THAT(
      MessageOf(ReadError("s3.npy", NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                            "(2, 2, 2), }\n",
                                            std::string(32, '\0')))),
      HasSubstr("shape with 3 dimensions"));
  EXPECT_THAT(
      MessageOf(ReadError("s0.npy", NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (), "
                                            "}\n",
                                            std::string(4, '\0')))),
      HasSubstr("shape with 0 dimensions"));
  EXPECT_THAT(
      MessageOf(ReadError("d0.npy", NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                            "(5, 0), }\n",
                                            ""))),
      HasSubstr("dimension 0 in the .npy shape is out of range"));
}

TEST_F(BadInputTest, NpyShapeDoesNotMatchFileSize) {
  const std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }\n";
  EXPECT_THAT(MessageOf(ReadError("z.npy", NpyFile(dict, std::string(20, '\0')))),
              HasSubstr("header declares 3 rows of 2 int32 values (8 bytes each), but the file "
                        "holds 20 bytes"));
  const std::string huge =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387903, 1), }\n";
  EXPECT_THAT(MessageOf(ReadError("h.npy", NpyFile(huge, std::string(8, '\0')))),
              HasSubstr("declares 4611686018427387903 rows"));
}

TEST_F(BadInputTest, NpyMalformedHeaders) {
  for (const std::string dict :
       {"", "descr", "{'descr': '<f4', 'fortran_order': False}\n",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 1)}\n",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (1, 1)}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -1)}\n",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (1, 1)}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1)}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'extra': 1}\n"}) {
    EXPECT_THAT(MessageOf(ReadError("bad.npy", NpyFile(dict, std::string(4, '\0')))),
                HasSubstr("malformed .npy header"))
        << dict;
  }
}

// ---- IDX ----

TEST_F(BadInputTest, IdxBadMagic) {
  for (const uint32_t magic : {0x12340803u, 0x00000800u, 0x00000804u}) {
    EXPECT_THAT(MessageOf(ReadError("m-idx3-ubyte", BigEndian32(magic) + std::string(16, '\0'))),
                HasSubstr(absl::StrFormat("bad IDX magic 0x%08x", magic)));
  }
  EXPECT_THAT(MessageOf(ReadError("f-idx3-ubyte", BigEndian32(0x00000d03) + std::string(16, '\0'))),
              HasSubstr("unsupported IDX element type 0x0d"));
}

TEST_F(BadInputTest, IdxDimensionsAndSize) {
  EXPECT_THAT(MessageOf(ReadError("z-idx3-ubyte", BigEndian32(0x803) + BigEndian32(1) +
                                                      BigEndian32(28) + BigEndian32(0))),
              HasSubstr("dimension 0 in the IDX header"));
  EXPECT_THAT(MessageOf(ReadError("b-idx3-ubyte", BigEndian32(0x803) + BigEndian32(1) +
                                                      BigEndian32(2048) + BigEndian32(2048))),
              HasSubstr("dimension 4194304 in the IDX header"));
  std::string cut = IdxBytes(5, 28, 28);
  cut.pop_back();
  EXPECT_THAT(MessageOf(ReadError("c-idx3-ubyte", cut)),
              HasSubstr("header declares 5 rows of 784 uint8 values"));
  EXPECT_THAT(MessageOf(ReadError("h-idx3-ubyte", BigEndian32(0x803) + BigEndian32(1))),
              AllOf(HasSubstr("truncated"), HasSubstr("IDX dimension sizes")));
}

TEST_F(BadInputTest, GzipIdxStreamShorterThanItsHeader) {
  std::string bytes = IdxBytes(50, 28, 28);
  bytes.resize(bytes.size() - 784 - 100);  // a valid gzip stream of too little data
  const Status status = ReadError("short-idx3-ubyte.gz", Gzip(bytes));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(MessageOf(status),
              HasSubstr("truncated: the data ends inside row 48 of the 50 rows the header declares "
                        "(684 of its 784 bytes present)"));
}

TEST_F(BadInputTest, GzipIdxStreamLongerThanItsHeader) {
  EXPECT_THAT(MessageOf(ReadError("long-idx1-ubyte.gz", Gzip(IdxBytes(50, 0, 0) + "x"))),
              HasSubstr("data continues after the 50 rows the header declares"));
}

TEST_F(BadInputTest, GzipCorruption) {
  std::string gz = Gzip(IdxBytes(200, 28, 28));
  for (size_t i = gz.size() / 3; i < gz.size() / 3 + 16; ++i) gz[i] = static_cast<char>(~gz[i]);
  EXPECT_THAT(MessageOf(ReadError("corrupt-idx3-ubyte.gz", gz)), HasSubstr("gzip data is corrupt"));
}

TEST_F(BadInputTest, GzipFileCutOff) {
  // 6000 rows are 4.7 MB, more than zlib's gzread buffers: it took that file
  // cut inside its trailer for a clean end of data.
  for (const uint32_t rows : {200, 6000}) {
    const std::string gz = Gzip(IdxBytes(rows, 28, 28));
    // Cut inside the deflate data, and inside the 8-byte CRC/length trailer:
    // the second leaves every row intact, so only the gzip layer can tell.
    for (const size_t cut : {gz.size() / 2, gz.size() - 3}) {
      EXPECT_THAT(MessageOf(ReadError("cut-idx3-ubyte.gz", gz.substr(0, cut))),
                  HasSubstr("gzip data is truncated"))
          << "cut at " << cut << " of " << gz.size();
    }
  }
}

TEST_F(BadInputTest, GzipChecksumMismatch) {
  std::string gz = Gzip(IdxBytes(20, 28, 28));
  gz[gz.size() - 6] = static_cast<char>(~gz[gz.size() - 6]);  // inside the CRC32
  EXPECT_THAT(MessageOf(ReadError("crc-idx3-ubyte.gz", gz)), HasSubstr("gzip data is corrupt"));
}

// ---- Every prefix of every format, and random damage ----

struct SmallFile {
  std::string name;
  std::string bytes;
  int64_t record_bytes;  // > 0 for TEXMEX, whose row count follows the size
};

std::vector<SmallFile> SmallValidFiles(const std::string& dir) {
  std::vector<SmallFile> files;
  const Matrix floats{3, 5, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};
  for (const auto& [name, type, record_bytes] : {std::tuple{"s.fvecs", ElementType::kFloat32, 24},
                                                 {"s.ivecs", ElementType::kInt32, 24},
                                                 {"s.bvecs", ElementType::kUint8, 9},
                                                 {"s.fbin", ElementType::kFloat32, 0},
                                                 {"s.u8bin", ElementType::kUint8, 0},
                                                 {"s.ibin", ElementType::kInt32, 0},
                                                 {"s.npy", ElementType::kInt32, 0}}) {
    EXPECT_TRUE(WriteVectors(dir + "/" + name, floats, type).ok());
    files.push_back({name, ReadFileBytes(dir + "/" + name), record_bytes});
  }
  files.push_back({"s-idx3-ubyte", IdxBytes(3, 2, 3), 0});
  return files;
}

TEST_F(BadInputTest, EveryTruncationIsDetected) {
  for (const SmallFile& file : SmallValidFiles(dir_)) {
    for (size_t size = 0; size < file.bytes.size(); ++size) {
      const std::string path = dir_ + "/prefix." + file.name;
      WriteFileBytes(path, file.bytes.substr(0, size));
      StatusOr<Matrix> read = ReadVectors(path);
      // A TEXMEX file cut at a record boundary is a valid shorter file.
      if (file.record_bytes > 0 && size > 0 && size % file.record_bytes == 0) {
        ASSERT_TRUE(read.ok()) << read.status();
        EXPECT_EQ(read->rows, static_cast<int64_t>(size / file.record_bytes));
        continue;
      }
      ASSERT_FALSE(read.ok()) << file.name << " cut to " << size << " bytes";
      EXPECT_THAT(MessageOf(read.status()), HasSubstr(path));
    }
  }
}

TEST_F(BadInputTest, RandomDamageNeverCrashes) {
  std::mt19937 rng(7);
  std::vector<SmallFile> files = SmallValidFiles(dir_);
  files.push_back({"g-idx3-ubyte.gz", Gzip(IdxBytes(40, 28, 28)), 0});
  for (const SmallFile& file : files) {
    for (int trial = 0; trial < 300; ++trial) {
      std::string bytes = file.bytes;
      const int flips = 1 + trial % 4;
      for (int i = 0; i < flips; ++i) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
      const std::string path = dir_ + "/damaged." + file.name;
      WriteFileBytes(path, bytes);
      // Either outcome is fine; what matters is no crash and no bad access.
      StatusOr<Matrix> read = ReadVectors(path);
      if (read.ok()) {
        EXPECT_EQ(read->data.size(), static_cast<size_t>(read->rows) * read->dim);
      }
      StatusOr<IdMatrix> ids = ReadIdRows(path);
      if (ids.ok()) {
        EXPECT_EQ(ids->data.size(), static_cast<size_t>(ids->rows) * ids->dim);
      }
    }
  }
}

}  // namespace
}  // namespace turboquant
