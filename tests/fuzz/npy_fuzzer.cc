// libFuzzer target: any byte string as a .npy file. Reading it must either
// fail with a Status that names the file or yield exactly the rows its header
// declares, with the contract of vector_file_fuzz.h; ASan+UBSan catch
// out-of-bounds reads, overflows and huge allocations in the header parser.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/vector_file_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  turboquant::fuzz::FuzzVectorFile(data, size, ".npy");
  return 0;
}
