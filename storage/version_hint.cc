#include "storage/version_hint.h"

#include <fcntl.h>
#include <unistd.h>

#include "storage/file_util.h"

namespace turboquant::storage {
namespace {

std::string HintPath(const std::string& catalog_dir) { return catalog_dir + ".version"; }

}  // namespace

StatusOr<std::unique_ptr<VersionHint>> VersionHint::Open(const std::string& catalog_dir) {
  const std::string path = HintPath(catalog_dir);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(path, "open");
  return std::unique_ptr<VersionHint>(new VersionHint(fd));
}

VersionHint::~VersionHint() { ::close(fd_); }

void VersionHint::Publish(uint64_t version) {
  // One aligned 8-byte write: readers see the old value or the new one.
  (void)!::pwrite(fd_, &version, sizeof(version), 0);
}

uint64_t VersionHint::Read(const std::string& catalog_dir) {
  const int fd = ::open(HintPath(catalog_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t version = 0;
  if (::pread(fd, &version, sizeof(version), 0) != sizeof(version)) version = 0;
  ::close(fd);
  return version;
}

}  // namespace turboquant::storage
