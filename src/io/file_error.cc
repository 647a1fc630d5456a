#include "src/io/file_error.h"

#include "absl/strings/str_cat.h"

namespace turboquant::io {

Status CorruptFile(const std::string& path, absl::string_view problem) {
  return absl::DataLossError(absl::StrCat(path, ": ", problem));
}

Status InvalidFile(const std::string& path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

Status SystemError(const std::string& path, absl::string_view action, int error_number) {
  // ErrnoToStatus appends strerror(error_number) to the message.
  return absl::ErrnoToStatus(error_number, absl::StrCat(path, ": ", action));
}

}  // namespace turboquant::io
