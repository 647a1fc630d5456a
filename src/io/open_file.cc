#include "src/io/open_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "src/io/file_error.h"

namespace turboquant::io {

StatusOr<OpenedFile> OpenForReading(const std::string& path) {
  OpenedFile file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) return SystemError(path, "cannot open", errno);
  if (::fstat(file.fd, &file.info) != 0) {
    const int error_number = errno;
    ::close(file.fd);
    return SystemError(path, "cannot stat", error_number);
  }
  return file;
}

}  // namespace turboquant::io
