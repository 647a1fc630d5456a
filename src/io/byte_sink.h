// Buffered writes to a new file, plus rewriting its header in place once the
// row count is known (.fbin and .npy headers hold it, but a streaming writer
// only learns it at the end).
#ifndef TURBOQUANT_SRC_IO_BYTE_SINK_H_
#define TURBOQUANT_SRC_IO_BYTE_SINK_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "turboquant/status.h"

namespace turboquant::io {

class ByteSink {
 public:
  // Creates or truncates `path`.
  static StatusOr<std::unique_ptr<ByteSink>> Create(const std::string& path);

  ByteSink(const ByteSink&) = delete;
  ByteSink& operator=(const ByteSink&) = delete;
  // Closes the file if Close() was not called, ignoring errors.
  ~ByteSink();

  const std::string& path() const { return path_; }

  Status Append(absl::string_view bytes);
  // Overwrites bytes already appended, starting at the beginning of the file.
  Status OverwriteStart(absl::string_view bytes);
  // Flushes and closes; errors of earlier buffered writes surface here.
  Status Close();

 private:
  ByteSink(std::string path, int fd);

  Status Flush();
  Status WriteAll(absl::string_view bytes);

  const std::string path_;
  int fd_;
  std::string buffer_;
};

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_BYTE_SINK_H_
