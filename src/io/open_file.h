// Opening an input file for reading, with errors that name it.
#ifndef TURBOQUANT_SRC_IO_OPEN_FILE_H_
#define TURBOQUANT_SRC_IO_OPEN_FILE_H_

#include <sys/stat.h>

#include <string>

#include "turboquant/status.h"

namespace turboquant::io {

struct OpenedFile {
  int fd = -1;          // the caller closes it
  struct stat info {};  // size and type, from fstat
};

StatusOr<OpenedFile> OpenForReading(const std::string& path);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_OPEN_FILE_H_
