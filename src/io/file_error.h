// Statuses for problems with a file. Every message starts with the file's path
// so that a caller juggling base, query and ground-truth files knows which
// one is bad without adding context of its own.
#ifndef TURBOQUANT_SRC_IO_FILE_ERROR_H_
#define TURBOQUANT_SRC_IO_FILE_ERROR_H_

#include <string>

#include "absl/strings/string_view.h"
#include "turboquant/status.h"

namespace turboquant::io {

// The content is damaged: truncated, inconsistent, corrupt compression.
Status CorruptFile(const std::string& path, absl::string_view problem);
// The content is well formed but unusable: unsupported type, bad value.
Status InvalidFile(const std::string& path, absl::string_view problem);
// A system call failed; the code follows errno (ENOENT becomes NotFound).
Status SystemError(const std::string& path, absl::string_view action, int error_number);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_FILE_ERROR_H_
