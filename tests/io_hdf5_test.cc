// HDF5 input (.hdf5/.h5) through VectorReader: ann-benchmarks-style files with
// several named datasets, chunked reads, the three element types, and clear
// errors for what cannot be read. Files are written with the HDF5 C library
// (WriteHdf5Dataset); when Debian's python3-h5py is present, one more
// file written by h5py (chunked + gzip, as ann-benchmarks files can be) is
// read as well.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/hdf5_writer.h"
#include "tests/io_test_files.h"
#include "tests/test_util.h"
#include "turboquant/io.h"

namespace turboquant {
namespace {

using ::turboquant::testing::LittleEndian32;
using ::turboquant::testing::MakeTempDir;
using ::turboquant::testing::ReadFileBytes;
using ::turboquant::testing::WriteFileBytes;
using ::turboquant::testing::WriteHdf5Dataset;

void ExpectContains(const absl::Status& status, const std::string& text) {
  EXPECT_TRUE(absl::StrContains(status.message(), text)) << status << "\n  lacks: " << text;
}

std::vector<float> Ramp(int64_t count, float scale) {
  std::vector<float> values(count);
  for (int64_t i = 0; i < count; ++i) values[i] = static_cast<float>(i % 251) * scale;
  return values;
}

std::string LittleEndian64(uint64_t value) {
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &value, 8);
  return bytes;
}

// Overwrites every occurrence of `from` in the file with `to` (as long) and
// returns how many there were: how the tests below corrupt single fields.
int PatchFile(const std::string& path, const std::string& from, const std::string& to) {
  std::string bytes = ReadFileBytes(path);
  int patched = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1)) {
    bytes.replace(at, to.size(), to);
    ++patched;
  }
  WriteFileBytes(path, bytes);
  return patched;
}

bool HaveH5py() {
  return std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") == 0;
}

// An ann-benchmarks-like file: train (float32), test (uint8 values), neighbors (int32).
std::string WriteAnnFile(const std::string& name, int64_t train_rows, int dim) {
  const std::string path = MakeTempDir("io_hdf5") + "/" + name;
  EXPECT_TRUE(WriteHdf5Dataset(path, "train", ElementType::kFloat32, train_rows, dim,
                                   Ramp(train_rows * dim, 0.5f))
                  .ok());
  EXPECT_TRUE(
      WriteHdf5Dataset(path, "test", ElementType::kUint8, 5, dim, Ramp(5 * dim, 1.0f)).ok());
  std::vector<float> neighbors(5 * 3);
  for (size_t i = 0; i < neighbors.size(); ++i) neighbors[i] = static_cast<float>(i * 7);
  EXPECT_TRUE(WriteHdf5Dataset(path, "neighbors", ElementType::kInt32, 5, 3, neighbors).ok());
  return path;
}

TEST(Hdf5Test, ReadsNamedDatasetsOfEveryType) {
  const std::string path = WriteAnnFile("ann.hdf5", 100, 16);
  StatusOr<Matrix> train = ReadVectors(path);  // "train" by default
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->rows, 100);
  EXPECT_EQ(train->dim, 16);
  EXPECT_EQ(train->data, Ramp(100 * 16, 0.5f));

  VectorReaderOptions test_options;
  test_options.hdf5_dataset = "test";
  StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(path, test_options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->element_type(), ElementType::kUint8);
  EXPECT_EQ((*reader)->rows(), 5);
  std::vector<float> test;
  StatusOr<int64_t> got = (*reader)->ReadRows(100, &test);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, 5);
  EXPECT_EQ(test, Ramp(5 * 16, 1.0f));

  VectorReaderOptions neighbor_options;
  neighbor_options.hdf5_dataset = "neighbors";
  StatusOr<IdMatrix> neighbors = ReadIdRows(path, neighbor_options);
  ASSERT_TRUE(neighbors.ok()) << neighbors.status();
  EXPECT_EQ(neighbors->rows, 5);
  EXPECT_EQ(neighbors->dim, 3);
  EXPECT_EQ(neighbors->data[14], 98);
}

TEST(Hdf5Test, StreamsInChunksAndResumes) {
  // 20000 x 128 float32 = 10 MB: more than one 8 MB read chunk.
  const std::string path = WriteAnnFile("big.h5", 20000, 128);
  StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> all;
  int64_t total = 0;
  for (;;) {
    StatusOr<int64_t> got = (*reader)->ReadRows(7001, &all);
    ASSERT_TRUE(got.ok()) << got.status();
    if (*got == 0) break;
    total += *got;
    EXPECT_EQ((*reader)->rows_read(), total);
  }
  EXPECT_EQ(total, 20000);
  EXPECT_EQ(all, Ramp(20000 * 128, 0.5f));
}

TEST(Hdf5Test, ExtensionIsCaseInsensitive) {
  const std::string path = WriteAnnFile("UPPER.HDF5", 3, 4);
  StatusOr<Matrix> train = ReadVectors(path);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->rows, 3);
}

TEST(Hdf5Test, MissingDatasetListsTheOthers) {
  const std::string path = WriteAnnFile("missing.hdf5", 3, 4);
  VectorReaderOptions options;
  options.hdf5_dataset = "base";
  StatusOr<Matrix> read = ReadVectors(path, options);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  ExpectContains(read.status(), "no dataset 'base'; the file has: neighbors, test, train");
}

TEST(Hdf5Test, ErrorsNameTheProblem) {
  const std::string dir = MakeTempDir("io_hdf5_errors");
  StatusOr<Matrix> missing = ReadVectors(dir + "/nope.hdf5");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  std::filesystem::create_directory(dir + "/folder.hdf5");
  StatusOr<Matrix> folder = ReadVectors(dir + "/folder.hdf5");
  ASSERT_FALSE(folder.ok());
  ExpectContains(folder.status(), "is a directory, not an HDF5 file");

  const std::string not_hdf5 = dir + "/text.h5";
  std::ofstream(not_hdf5) << "this is not an HDF5 file\n";
  StatusOr<Matrix> garbage = ReadVectors(not_hdf5);
  ASSERT_FALSE(garbage.ok());
  ExpectContains(garbage.status(), "not an HDF5 file");

  // Truncating a real file: the signature survives but the data does not.
  const std::string path = WriteAnnFile("truncated.hdf5", 1000, 64);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = dir + "/truncated.hdf5";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  StatusOr<Matrix> cut = ReadVectors(truncated);
  EXPECT_FALSE(cut.ok());

  // Float values are not ids.
  StatusOr<IdMatrix> ids = ReadIdRows(path);
  ASSERT_FALSE(ids.ok());
  ExpectContains(ids.status(), "cannot be read as integer ids");

  // NaN is rejected like in every other format, naming row and column.
  const std::string nan_path = dir + "/nan.hdf5";
  std::vector<float> values(8, 1.0f);
  values[6] = std::nanf("");
  ASSERT_TRUE(WriteHdf5Dataset(nan_path, "train", ElementType::kFloat32, 2, 4, values).ok());
  StatusOr<Matrix> nan = ReadVectors(nan_path);
  ASSERT_FALSE(nan.ok());
  ExpectContains(nan.status(), "row 1, column 2: value nan");
  VectorReaderOptions allow;
  allow.allow_non_finite = true;
  EXPECT_TRUE(ReadVectors(nan_path, allow).ok());

  // Writing through VectorWriter is not supported (read-only format).
  EXPECT_EQ(VectorWriter::Create(dir + "/out.hdf5", 4, ElementType::kFloat32).status().code(),
            absl::StatusCode::kUnimplemented);
}

// A header may declare any shape, and libhdf5 returns the fill value for
// whatever the file does not store. hdf5_fuzzer found a 2 KB file whose
// "train" declared 2^52 rows: ReadVectors reserved them before reading
// (ASan: allocation-size-too-big; Release: a misleading out-of-memory error).
TEST(Hdf5Test, RefusesShapesLargerThanTheStoredValues) {
  const std::string path = MakeTempDir("io_hdf5_shape") + "/lying.hdf5";
  ASSERT_TRUE(WriteHdf5Dataset(path, "train", ElementType::kInt32, 3, 5,
                                   std::vector<float>(15, 7.0f))
                  .ok());
  // The dataspace message holds the shape, and again as the maximum shape,
  // as 8-byte little-endian (rows, dim): make both claim 2^52 rows.
  ASSERT_GT(PatchFile(path, LittleEndian64(3) + LittleEndian64(5),
                      LittleEndian64(uint64_t{1} << 52) + LittleEndian64(5)),
            0);

  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  ExpectContains(read.status(), "declares 4503599627370496 rows of 20 bytes, but stores 60 bytes");
  EXPECT_FALSE(VectorReader::Open(path).ok());
}

// hdf5_fuzzer: a 4-byte integer type declaring 24608 bits of precision made
// libhdf5 convert values by reading far past them; the values differed from
// one read to the next.
TEST(Hdf5Test, RefusesNonStandardElementTypes) {
  const std::string path = MakeTempDir("io_hdf5_type") + "/precision.hdf5";
  ASSERT_TRUE(WriteHdf5Dataset(path, "train", ElementType::kInt32, 2, 3,
                                   std::vector<float>(6, 1.0f))
                  .ok());
  // Datatype message of a little-endian int32: class and flags, size 4, bit
  // offset 0, precision 32 (0x20).
  const std::string int32_type("\x10\x08\x00\x00\x04\x00\x00\x00\x00\x00\x20\x00", 12);
  std::string wide = int32_type;
  wide[11] = '\x60';  // precision 0x6020 = 24608 bits
  ASSERT_EQ(PatchFile(path, int32_type, wide), 1);
  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_FALSE(read.ok());
  ExpectContains(read.status(), "signed 32-bit integer (non-standard: precision 24608 bits");
}

// hdf5_fuzzer: a chunk shape larger than the dataset's fixed shape (which the
// format forbids) made libhdf5 copy past the buffer of the decompressed chunk.
// The stored chunks then sit at offsets that are not multiples of the shape.
TEST(Hdf5Test, RefusesChunksLargerThanTheShape) {
  if (!HaveH5py()) GTEST_SKIP() << "Debian python3-h5py is not installed";
  const std::string path = MakeTempDir("io_hdf5_chunks") + "/chunks.hdf5";
  const std::string script = absl::StrCat(
      "/usr/bin/python3 -c \"import h5py, numpy as np\n"
      "with h5py.File('", path, "', 'w') as f:\n"
      "  f.create_dataset('train', data=np.ones((6, 3), '<f4'), chunks=(2, 3), "
      "compression='gzip')\n\"");
  ASSERT_EQ(std::system(script.c_str()), 0) << script;
  // The layout message's chunk shape, as 4-byte (rows, dim, element size).
  ASSERT_EQ(PatchFile(path, LittleEndian32(2) + LittleEndian32(3) + LittleEndian32(4),
                      LittleEndian32(16777218) + LittleEndian32(3) + LittleEndian32(4)),
            1);
  StatusOr<Matrix> read = ReadVectors(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  ExpectContains(read.status(), "has a chunk at an offset outside its shape");
}

// hdf5_fuzzer: libhdf5 1.10 trusted the local heap that holds the root
// group's link names. It read at the undefined address (SEGV), allocated the
// size the heap declares, and followed a free list in a cycle without end.
// This reader checks the heap's extent and never follows its free list, which
// only a writer needs.
TEST(Hdf5Test, RefusesCorruptRootNameHeaps) {
  const std::string dir = MakeTempDir("io_hdf5_heap");
  const std::string valid = dir + "/valid.hdf5";
  ASSERT_TRUE(WriteHdf5Dataset(valid, "train", ElementType::kFloat32, 2, 3,
                                   std::vector<float>(6, 1.0f))
                  .ok());
  const std::string bytes = ReadFileBytes(valid);
  // The heap: "HEAP", version, 3 reserved, data size, free list head, data
  // address (8-byte lengths and addresses, as the library writes them).
  const size_t heap = bytes.find("HEAP");
  ASSERT_NE(heap, std::string::npos);
  uint64_t free_block, data;
  std::memcpy(&free_block, bytes.data() + heap + 16, 8);
  std::memcpy(&data, bytes.data() + heap + 24, 8);
  const struct {
    const char* name;
    size_t at;
    std::string value;
    const char* problem;
  } cases[] = {
      {"huge", heap + 8, LittleEndian64(uint64_t{1} << 55),
       "declares 36028797018963968 bytes at address"},
      // The first free block names itself as the next: harmless to a reader.
      {"cycle", data + free_block, LittleEndian64(free_block), nullptr},
  };
  for (const auto& c : cases) {
    std::string corrupt = bytes;
    corrupt.replace(c.at, c.value.size(), c.value);
    const std::string path = absl::StrCat(dir, "/", c.name, ".hdf5");
    WriteFileBytes(path, corrupt);
    StatusOr<Matrix> read = ReadVectors(path);
    if (c.problem == nullptr) {
      ASSERT_TRUE(read.ok()) << c.name << ": " << read.status();
      EXPECT_EQ(read->data, std::vector<float>(6, 1.0f));
      continue;
    }
    ASSERT_FALSE(read.ok()) << c.name;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << c.name;
    ExpectContains(read.status(), c.problem);
  }
  // The root group's symbol table message names the heap by address (so
  // does the superblock's cached copy); make it undefined.
  const std::string undefined = dir + "/undefined.hdf5";
  WriteFileBytes(undefined, bytes);
  ASSERT_GT(PatchFile(undefined, LittleEndian64(heap), LittleEndian64(~uint64_t{0})), 0);
  StatusOr<Matrix> read = ReadVectors(undefined);
  ASSERT_FALSE(read.ok());
  ExpectContains(read.status(), "the root group's name heap at address 18446744073709551615 lies "
                                "outside the file");
}

// Values the file does not hold: never written (libhdf5 would return fill
// values for any shape), or kept in other files, which an untrusted file must
// not make the reader open.
TEST(Hdf5Test, RefusesValuesTheFileDoesNotHold) {
  if (!HaveH5py()) GTEST_SKIP() << "Debian python3-h5py is not installed";
  const std::string dir = MakeTempDir("io_hdf5_elsewhere");
  const std::string path = dir + "/elsewhere.hdf5";
  const std::string other = dir + "/other.hdf5";
  const std::string raw = dir + "/raw.bin";
  const std::string script = absl::StrCat(
      "/usr/bin/python3 -c \"import h5py, numpy as np\n"
      "np.arange(6, dtype='<f4').tofile('", raw, "')\n"
      "with h5py.File('", other, "', 'w') as f:\n"
      "  f['train'] = np.ones((2, 3), '<f4')\n"
      "with h5py.File('", path, "', 'w') as f:\n"
      "  f.create_dataset('unwritten', shape=(1000, 16), dtype='<f4')\n"
      "  f.create_dataset('unwritten_chunks', shape=(2**40, 16), dtype='<f4', chunks=(64, 16))\n"
      "  d = f.create_dataset('partly_written', shape=(6, 3), dtype='<f4', chunks=(2, 3), "
      "compression='gzip')\n"
      "  d[0:2] = np.ones((2, 3), '<f4')\n"
      "  f.create_dataset('external', shape=(2, 3), dtype='<f4', external=[('", raw, "', 0, 24)])\n"
      "  f['link'] = h5py.ExternalLink('", other, "', '/train')\n"
      "  layout = h5py.VirtualLayout(shape=(2, 3), dtype='<f4')\n"
      "  layout[:] = h5py.VirtualSource('", other, "', 'train', shape=(2, 3))\n"
      "  f.create_virtual_dataset('virtual', layout)\n\"");
  ASSERT_EQ(std::system(script.c_str()), 0) << script;

  const std::pair<const char*, const char*> cases[] = {
      {"unwritten", "declares 1000 rows of 64 bytes, but stores 0 bytes"},
      {"unwritten_chunks", "declares 1099511627776 rows of 64 bytes, but stores 0 bytes"},
      // Compressed, so the stored bytes could hold the shape: the chunk count tells.
      {"partly_written", "stores 1 of the 3 chunks its shape needs"},
      {"external", "keeps its values in other files"},
      {"link", "is an external link to another file, which is not followed"},
      {"virtual", "keeps its values in other files"},
  };
  for (const auto& [dataset, problem] : cases) {
    VectorReaderOptions options;
    options.hdf5_dataset = dataset;
    StatusOr<Matrix> read = ReadVectors(path, options);
    ASSERT_FALSE(read.ok()) << dataset;
    ExpectContains(read.status(), problem);
  }
}

// Every layout, index and filter the reader claims (hdf5_dataset.h), as h5py
// writes them in both file formats, read back value for value. Under
// libver='latest', 3000 rows in chunks of 2 rows make a fixed array of 1500
// entries, which is paged; early allocation without filters makes the
// implicit index; one chunk, the single-chunk index.
TEST(Hdf5Test, ReadsEveryLayoutH5pyWrites) {
  if (!HaveH5py()) GTEST_SKIP() << "Debian python3-h5py is not installed";
  const std::string dir = MakeTempDir("io_hdf5_layouts");
  for (const char* libver : {"earliest", "latest"}) {
    const std::string path = absl::StrCat(dir, "/", libver, ".hdf5");
    const std::string script = absl::StrCat(
        "/usr/bin/python3 -c \"import h5py, numpy as np\n"
        "x = (np.arange(3000 * 5) % 101).reshape(3000, 5).astype('<f4')\n"
        "with h5py.File('", path, "', 'w', libver='", libver, "') as f:\n"
        "  f.create_dataset('contiguous', data=x)\n"
        "  p = h5py.h5p.create(h5py.h5p.DATASET_CREATE)\n"
        "  p.set_layout(h5py.h5d.COMPACT)\n"
        "  d = h5py.h5d.create(f.require_group('more').id, b'compact', h5py.h5t.IEEE_F32LE, "
        "h5py.h5s.create_simple((4, 5)), p)\n"
        "  d.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(x[:4]))\n"
        "  p = h5py.h5p.create(h5py.h5p.DATASET_CREATE)\n"
        "  p.set_chunk((64, 5))\n"
        "  p.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)\n"
        "  d = h5py.h5d.create(f['more'].id, b'implicit', h5py.h5t.IEEE_F32LE, "
        "h5py.h5s.create_simple((3000, 5)), p)\n"
        "  d.write(h5py.h5s.ALL, h5py.h5s.ALL, x)\n"
        "  f.create_dataset('paged', data=x, chunks=(2, 5))\n"
        "  f.create_dataset('columns', data=x, chunks=(700, 2), shuffle=True, fletcher32=True, "
        "compression='gzip')\n"
        "  f.create_dataset('big_endian', data=x.astype('>f4'), chunks=(1000, 5))\n"
        "  f.create_dataset('one_chunk', data=x, chunks=(3000, 5), compression='gzip')\n"
        "  g = f.create_group('nested/deeper')\n"
        "  g['ids'] = np.arange(3000, dtype='<i4')\n"
        "  f['alias'] = h5py.SoftLink('/nested/deeper/ids')\n\"");
    ASSERT_EQ(std::system(script.c_str()), 0) << script;
    // At most 8 links per group: more are stored densely, which is not read.
    for (const char* name : {"contiguous", "more/compact", "paged", "columns", "big_endian",
                             "one_chunk", "more/implicit"}) {
      VectorReaderOptions options;
      options.hdf5_dataset = name;
      StatusOr<Matrix> read = ReadVectors(path, options);
      ASSERT_TRUE(read.ok()) << libver << " " << name << ": " << read.status();
      const int64_t rows = std::string(name) == "more/compact" ? 4 : 3000;
      ASSERT_EQ(read->rows, rows) << libver << " " << name;
      ASSERT_EQ(read->dim, 5);
      for (int64_t i = 0; i < rows * 5; ++i) {
        ASSERT_EQ(read->data[i], static_cast<float>(i % 101)) << libver << " " << name << " " << i;
      }
    }
    for (const char* name : {"nested/deeper/ids", "alias"}) {
      VectorReaderOptions options;
      options.hdf5_dataset = name;
      StatusOr<IdMatrix> ids = ReadIdRows(path, options);
      ASSERT_TRUE(ids.ok()) << libver << " " << name << ": " << ids.status();
      ASSERT_EQ(ids->rows, 3000);
      EXPECT_EQ(ids->data[2999], 2999);
    }
  }
}

// What the reader does not read under libver='latest' (the chunk index of
// datasets with unlimited dimensions; groups of more than 8 links) is
// refused with a message that says what to do instead.
TEST(Hdf5Test, RefusesWhatItDoesNotReadWithAHint) {
  if (!HaveH5py()) GTEST_SKIP() << "Debian python3-h5py is not installed";
  const std::string dir = MakeTempDir("io_hdf5_unread");
  const std::string script = absl::StrCat(
      "/usr/bin/python3 -c \"import h5py, numpy as np\n"
      "with h5py.File('", dir, "/unlimited.hdf5', 'w', libver='latest') as f:\n"
      "  f.create_dataset('train', data=np.ones((10, 4), '<f4'), maxshape=(None, 4))\n"
      "with h5py.File('", dir, "/dense.hdf5', 'w', libver='latest') as f:\n"
      "  for i in range(9): f['train%d' % i] = np.ones((10, 4), '<f4')\n\"");
  ASSERT_EQ(std::system(script.c_str()), 0) << script;
  StatusOr<Matrix> read = ReadVectors(dir + "/unlimited.hdf5");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnimplemented);
  ExpectContains(read.status(), "indexes its chunks with an extensible array");
  VectorReaderOptions options;
  options.hdf5_dataset = "train0";
  read = ReadVectors(dir + "/dense.hdf5", options);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnimplemented);
  ExpectContains(read.status(), "stores its links densely");
}

TEST(Hdf5Test, ReadsFilesWrittenByH5py) {
  if (!HaveH5py()) GTEST_SKIP() << "Debian python3-h5py is not installed";
  const std::string path = MakeTempDir("io_hdf5_h5py") + "/h5py.hdf5";
  const std::string script = absl::StrCat(
      "/usr/bin/python3 -c \"import h5py, numpy as np\n"
      "with h5py.File('",
      path,
      "', 'w') as f:\n"
      "  f.attrs['distance'] = 'angular'\n"
      "  x = (np.arange(300 * 10) % 97).reshape(300, 10).astype('>f4')\n"
      "  f.create_dataset('train', data=x, chunks=(64, 10), compression='gzip')\n"
      "  f.create_dataset('labels', data=np.arange(300, dtype=np.int32))\n"
      "  f.create_dataset('short', data=np.zeros((2, 3), np.int16))\n"
      "  f.create_dataset('cube', data=np.zeros((2, 3, 4), np.float32))\n\"");
  ASSERT_EQ(std::system(script.c_str()), 0) << script;

  StatusOr<Matrix> train = ReadVectors(path);
  ASSERT_TRUE(train.ok()) << train.status();
  ASSERT_EQ(train->rows, 300);
  ASSERT_EQ(train->dim, 10);
  for (int64_t i = 0; i < 300 * 10; ++i) ASSERT_EQ(train->data[i], static_cast<float>(i % 97));

  VectorReaderOptions options;
  options.hdf5_dataset = "labels";  // 1-D: dim 1
  StatusOr<IdMatrix> labels = ReadIdRows(path, options);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->rows, 300);
  EXPECT_EQ(labels->dim, 1);
  EXPECT_EQ(labels->data[299], 299);

  options.hdf5_dataset = "short";
  StatusOr<IdMatrix> narrow = ReadIdRows(path, options);
  ASSERT_FALSE(narrow.ok());
  ExpectContains(narrow.status(), "signed 16-bit integer");

  options.hdf5_dataset = "cube";
  StatusOr<Matrix> cube = ReadVectors(path, options);
  ASSERT_FALSE(cube.ok());
  ExpectContains(cube.status(), "has 3 dimensions");
}

}  // namespace
}  // namespace turboquant
