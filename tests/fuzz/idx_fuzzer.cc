// libFuzzer target: any byte string as an MNIST IDX file, both as it is and
// gzip-compressed. Reading it must either fail with a Status that names the
// file or yield exactly the rows its header declares, with the contract of
// vector_file_fuzz.h. The compressed copy matters: a gzip stream's size is
// unknown up front, so its header is checked only as rows arrive, and a
// header declaring billions of rows must not cost memory the data lacks.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/vector_file_fuzz.h"

namespace {

// `data` as a gzip stream (zlib's deflate with the gzip wrapper).
std::string Gzip(const uint8_t* data, size_t size) {
  z_stream stream{};
  constexpr int kGzipWindowBits = 15 + 16;
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return {};
  }
  std::string out(deflateBound(&stream, size) + 32, '\0');
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const bool done = deflate(&stream, Z_FINISH) == Z_STREAM_END;
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return done ? out : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using turboquant::fuzz::FuzzVectorFile;
  // As it is: a plain IDX file, or (if it starts with the gzip magic, as
  // the gzip seeds do) a raw gzip stream with damage of the fuzzer's making.
  FuzzVectorFile(data, size, "-idx3-ubyte");
  const std::string compressed = Gzip(data, size);
  if (compressed.empty()) return 0;
  FuzzVectorFile(reinterpret_cast<const uint8_t*>(compressed.data()), compressed.size(),
                 "-idx3-ubyte.gz");
  return 0;
}
