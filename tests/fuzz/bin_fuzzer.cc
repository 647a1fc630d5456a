// libFuzzer target: any byte string as a big-ann-benchmarks file, read as
// .fbin, .u8bin and .ibin. Reading it must either fail with a Status that
// names the file or yield exactly the rows x dim its 8-byte header declares,
// with the contract of vector_file_fuzz.h; ASan+UBSan catch out-of-bounds
// reads and overflows of rows * dim * element size.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/vector_file_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The same header with three element sizes: three different size checks.
  for (const char* extension : {".fbin", ".u8bin", ".ibin"}) {
    turboquant::fuzz::FuzzVectorFile(data, size, extension);
  }
  return 0;
}
