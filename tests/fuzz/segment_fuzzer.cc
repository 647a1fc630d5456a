// libFuzzer target: any byte string as a segment file. Opening it must either
// fail with a Status or yield a segment whose every row can be read and
// scanned without reading out of bounds (run with ASan+UBSan).
//   make fuzz   (builds with Debian clang and runs for a bounded time)
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "src/index/segment.h"
#include "src/scan/scan.h"
#include "storage/segment_file.h"
#include "turboquant/codec.h"

namespace {

const turboquant::IndexOptions& Options() {
  static const turboquant::IndexOptions options{.dim = 8, .bits = 4, .keep_vectors = true};
  return options;
}

const turboquant::Codec& TheCodec() {
  static const auto* codec = turboquant::Codec::Create(turboquant::CodecKind::kMse,
                                                       {.dim = 8, .bits = 4}).value().release();
  return *codec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace turboquant;
  const std::string path = "/tmp/segment_fuzzer." + std::to_string(::getpid()) + ".tqs";
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  const internal::ScanLayout shape(TheCodec());
  auto segment_file = storage::SegmentFile::Open(path, Options(), TheCodec().code_size(),
                                                 shape.block_bytes());
  ::unlink(path.c_str());  // the mapping stays valid
  if (!segment_file.ok()) return 0;
  (void)(*segment_file)->VerifyChecksums();
  const internal::Segment segment(1, TheCodec(), std::move(*segment_file));
  // Touch every byte a reader may touch; the volatile sink keeps the loads.
  static volatile uint64_t sink;
  std::vector<uint8_t> code(TheCodec().code_size());
  for (size_t row = 0; row < segment.rows(); ++row) {
    segment.layout().ExtractCode(row, code.data());
    sink = static_cast<uint64_t>(segment.id(row)) ^ (segment.vector(row)[7] != 0) ^ code[0];
  }
  const std::vector<float> query(8, 0.5f);
  const internal::QueryTables tables(TheCodec(), query.data(), 1,
                                     internal::ScanObjective::kInnerProduct);
  std::vector<std::vector<internal::Candidate>> best;
  internal::ScanForCandidates(segment.layout(), tables, 0, segment.layout().num_blocks(), internal::RowMask(),
                              10, &best);
  return 0;
}
