// libFuzzer target: any byte string as a TEXMEX file, read as .fvecs, .ivecs
// and .bvecs. Reading it must either fail with a Status that names the file
// or yield rows that all have row 0's dimension, with the contract of
// vector_file_fuzz.h; ASan+UBSan catch out-of-bounds reads and overflows.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/vector_file_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One parser serves the three; only the element size differs, which moves
  // where each row's dimension prefix must be.
  for (const char* extension : {".fvecs", ".ivecs", ".bvecs"}) {
    turboquant::fuzz::FuzzVectorFile(data, size, extension);
  }
  return 0;
}
