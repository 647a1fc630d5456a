// The superblock layouts follow the HDF5 File Format Specification 3.0,
// section II.A (versions 0 and 1, as h5py and ann-benchmarks write by
// default; versions 2 and 3, with libver='latest').
#include "src/io/hdf5_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/io/file_error.h"
#include "src/io/open_file.h"

namespace turboquant::io::hdf5 {
namespace {

constexpr char kSignature[] = "\x89HDF\r\n\x1a\n";
constexpr size_t kSignatureBytes = 8;

}  // namespace

uint64_t Cursor::Number(int width) {
  const absl::Span<const uint8_t> bytes = Bytes(width);
  uint64_t value = 0;
  for (int i = static_cast<int>(bytes.size()) - 1; i >= 0; --i) value = value << 8 | bytes[i];
  return value;
}

absl::Span<const uint8_t> Cursor::Bytes(size_t n) {
  if (!ok_ || n > bytes_.size() - position_) {
    ok_ = false;
    return {};
  }
  const absl::Span<const uint8_t> bytes = bytes_.subspan(position_, n);
  position_ += n;
  return bytes;
}

void Cursor::Expect(absl::string_view signature) {
  const absl::Span<const uint8_t> bytes = Bytes(signature.size());
  if (ok_ && std::memcmp(bytes.data(), signature.data(), signature.size()) != 0) ok_ = false;
}

StatusOr<File> File::Open(const std::string& path) {
  StatusOr<OpenedFile> opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  File file(path, opened->fd, static_cast<uint64_t>(opened->info.st_size));
  if (S_ISDIR(opened->info.st_mode)) return InvalidFile(path, "is a directory, not an HDF5 file");
  // libhdf5 looks for the signature at 0, 512, 1024, 2048, ...
  for (uint64_t at = 0; at < file.file_bytes_; at = at == 0 ? 512 : 2 * at) {
    char bytes[kSignatureBytes];
    if (file.Read(at, kSignatureBytes, "", bytes).ok() &&
        std::memcmp(bytes, kSignature, kSignatureBytes) == 0) {
      file.base_ = at;
      Status read = file.ReadSuperblock();
      if (!read.ok()) return read;
      return file;
    }
  }
  return InvalidFile(path, "not an HDF5 file (no HDF5 signature)");
}

File::File(File&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      file_bytes_(other.file_bytes_),
      base_(other.base_),
      offset_bytes_(other.offset_bytes_),
      length_bytes_(other.length_bytes_),
      root_header_(other.root_header_) {}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t File::undefined_address() const {
  return offset_bytes_ == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * offset_bytes_)) - 1;
}

Status File::OutsideFile(uint64_t address, uint64_t n, absl::string_view what) const {
  return CorruptFile(path_, absl::StrFormat("%s (%d bytes at address %d) lies beyond the end of "
                                            "the file",
                                            what, n, address));
}

Status File::Read(uint64_t address, uint64_t n, absl::string_view what,
                  std::vector<uint8_t>* out) const {
  if (!Contains(address, n)) return OutsideFile(address, n, what);  // before allocating n
  out->resize(n);
  return Read(address, n, what, out->data());
}

Status File::Read(uint64_t address, uint64_t n, absl::string_view what, void* out) const {
  if (!Contains(address, n)) return OutsideFile(address, n, what);
  char* dst = static_cast<char*>(out);
  for (uint64_t done = 0; done < n;) {
    const ssize_t got =
        ::pread(fd_, dst + done, n - done, static_cast<off_t>(base_ + address + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return SystemError(path_, "read", errno);
    if (got == 0) return CorruptFile(path_, absl::StrCat(what, " ends early: the file shrank"));
    done += static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

// Versions 0 and 1: fixed fields, then four addresses (base, free space, end
// of file, driver information) and the root group's symbol table entry (its
// link name offset, then its object header). Versions 2 and 3: the widths,
// flags, then base, extension, end of file and root object header addresses.
Status File::ReadSuperblock() {
  uint8_t fixed[16];
  if (!Read(0, sizeof(fixed), "", fixed).ok()) {
    return CorruptFile(path_, "the superblock is truncated");
  }
  const int version = fixed[8];
  if (version > 3) {
    return InvalidFile(path_, absl::StrCat("superblock version ", version,
                                           " is newer than this reader knows (0 to 3)"));
  }
  const bool old_format = version <= 1;
  offset_bytes_ = old_format ? fixed[13] : fixed[9];
  length_bytes_ = old_format ? fixed[14] : fixed[10];
  for (const int width : {offset_bytes_, length_bytes_}) {
    if (width != 2 && width != 4 && width != 8) {
      return CorruptFile(path_, absl::StrFormat("the superblock declares %d-byte addresses or "
                                                "lengths (2, 4 or 8 are valid)",
                                                width));
    }
  }
  const uint64_t root_field =
      old_format ? (version == 0 ? 24 : 28) + 5 * offset_bytes_ : 12 + 3 * offset_bytes_;
  std::vector<uint8_t> bytes;
  if (!Read(root_field, offset_bytes_, "", &bytes).ok()) {
    return CorruptFile(path_, "the superblock is truncated");
  }
  root_header_ = CursorOver(bytes).Address();
  return absl::OkStatus();
}

}  // namespace turboquant::io::hdf5
