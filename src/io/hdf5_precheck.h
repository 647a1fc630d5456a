// Checks of an HDF5 file made before libhdf5 parses it, for structures that
// libhdf5 1.10 (Debian's) trusts without checking and that every dataset
// lookup reads: the root group's local heap, which holds the names of the
// root-level links in files of the original format (superblock version 0 or
// 1, as h5py and ann-benchmarks write by default). hdf5_fuzzer found corrupt
// heaps to make libhdf5 read at the undefined address (SEGV), allocate the
// size a heap declares (petabytes), or follow a free list in a cycle without
// end, allocating all the while.
//
// Files of the newer format (superblock version 2 or 3) keep links in
// checksummed structures, which libhdf5 verifies itself; they pass unchecked.
#ifndef TURBOQUANT_SRC_IO_HDF5_PRECHECK_H_
#define TURBOQUANT_SRC_IO_HDF5_PRECHECK_H_

#include <string>

#include "turboquant/status.h"

namespace turboquant::io {

// OK, or DataLoss naming what in `path` is corrupt. Reads a few hundred
// bytes, whatever the file's size.
Status PrecheckHdf5File(const std::string& path);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_HDF5_PRECHECK_H_
