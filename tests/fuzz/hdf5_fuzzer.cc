// libFuzzer target: any byte string as an HDF5 file whose dataset "train" is
// read. Reading it must either fail with a Status that names the file or
// yield exactly the rows of the dataset's shape, with the contract of
// vector_file_fuzz.h; in particular a tiny file may not declare a dataset
// larger than its storage and make the reader allocate or stream it.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/vector_file_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  turboquant::fuzz::FuzzVectorFile(data, size, ".hdf5");
  return 0;
}
