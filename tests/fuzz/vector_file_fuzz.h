// The harness the vector file fuzzers share. The readers choose the format by
// the file name's extension, so each input is written to a temporary file
// with the extension under test and read back through the public API:
// streamed with VectorReader (ReadRows and ReadRowsInt64, a few rows per call
// so that resuming is exercised) and whole with ReadVectors/ReadIdRows.
//
// Besides "no crash, no sanitizer report" it checks the readers' contract,
// aborting (a libFuzzer crash) when it breaks: each call appends exactly
// rows * dim values, never more rows than the header declared, an error
// leaves the output untouched and sticks, and the whole-file read agrees with
// the streamed one.
#ifndef TURBOQUANT_TESTS_FUZZ_VECTOR_FILE_FUZZ_H_
#define TURBOQUANT_TESTS_FUZZ_VECTOR_FILE_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "turboquant/io.h"

namespace turboquant::fuzz {

// Writes data to a fresh temporary file whose name ends in `extension`
// (".fvecs", "-idx3-ubyte.gz"), reads it as described above with `options`,
// and removes the file.
void FuzzVectorFile(const uint8_t* data, size_t size, const std::string& extension,
                    const VectorReaderOptions& options = {});

}  // namespace turboquant::fuzz

#endif  // TURBOQUANT_TESTS_FUZZ_VECTOR_FILE_FUZZ_H_
