// Follows the HDF5 file format specification (version 0/1 superblock, version
// 1 object header, local heap) just far enough to reach the root group's
// local heap, and checks what libhdf5 1.10 would otherwise trust.
#include "src/io/hdf5_precheck.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/io/file_error.h"
#include "src/io/open_file.h"

namespace turboquant::io {
namespace {

constexpr char kSignature[] = "\x89HDF\r\n\x1a\n";
constexpr uint64_t kSignatureBytes = 8;
constexpr char kLocalHeapSignature[] = "HEAP";
constexpr int kContinuationMessage = 0x10;
constexpr int kSymbolTableMessage = 0x11;
constexpr uint64_t kFreeListEnd = 1;  // H5HL_FREE_NULL
// A root object header is one block and rarely a continuation or two; this
// bounds the walk if continuations point at each other.
constexpr size_t kMaxHeaderBlocks = 64;

// The file's bytes by HDF5 address, which counts from the superblock (libhdf5
// places the base address there whatever the superblock says).
class File {
 public:
  File(int fd, uint64_t bytes) : fd_(fd), bytes_(bytes) {}
  ~File() { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Bytes from the base to the end of the file.
  uint64_t size() const { return bytes_ - base_; }
  void set_base(uint64_t base) { base_ = base; }
  void set_widths(int offset_bytes, int length_bytes) {
    offset_bytes_ = offset_bytes;
    length_bytes_ = length_bytes;
  }
  int offset_bytes() const { return offset_bytes_; }
  int length_bytes() const { return length_bytes_; }

  // False when [address, address + n) is not all inside the file.
  bool Read(uint64_t address, size_t n, void* dst) const {
    if (address > size() || n > size() - address) return false;
    return ::pread(fd_, dst, n, static_cast<off_t>(base_ + address)) == static_cast<ssize_t>(n);
  }
  // A little-endian unsigned integer of `width` bytes (at most 8).
  bool Number(uint64_t address, int width, uint64_t* value) const {
    unsigned char bytes[8];
    if (!Read(address, width, bytes)) return false;
    *value = 0;
    for (int i = width - 1; i >= 0; --i) *value = *value << 8 | bytes[i];
    return true;
  }
  bool Address(uint64_t address, uint64_t* value) const {
    return Number(address, offset_bytes_, value);
  }
  bool Length(uint64_t address, uint64_t* value) const {
    return Number(address, length_bytes_, value);
  }
  // The all-ones address, which the format uses for "none".
  uint64_t undefined_address() const {
    return offset_bytes_ == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * offset_bytes_)) - 1;
  }

 private:
  const int fd_;
  const uint64_t bytes_;
  uint64_t base_ = 0;
  int offset_bytes_ = 8;
  int length_bytes_ = 8;
};

// libhdf5 looks for the signature at 0, 512, 1024, 2048, ...
bool FindSuperblock(const File& file, uint64_t* position) {
  for (uint64_t at = 0; at < file.size(); at = at == 0 ? 512 : 2 * at) {
    char bytes[kSignatureBytes];
    if (file.Read(at, kSignatureBytes, bytes) &&
        std::memcmp(bytes, kSignature, kSignatureBytes) == 0) {
      *position = at;
      return true;
    }
  }
  return false;
}

// Where the root group's symbol table message points to the local heap of
// its link names: false when the header at `header` holds no such message
// (links stored in the header, or a version 2 header, which libhdf5
// checksums). A message or continuation outside the file is corrupt.
StatusOr<bool> FindRootHeap(const std::string& path, const File& file, uint64_t header,
                            uint64_t* heap) {
  const Status corrupt = CorruptFile(path, "the root group's object header is corrupt");
  uint8_t version;
  uint64_t header_bytes;
  if (!file.Read(header, 1, &version) || !file.Number(header + 8, 4, &header_bytes)) {
    return corrupt;
  }
  if (version != 1) return false;
  std::vector<std::pair<uint64_t, uint64_t>> blocks = {{header + 16, header_bytes}};
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i == kMaxHeaderBlocks) return corrupt;
    const auto [start, bytes] = blocks[i];
    if (start > file.size() || bytes > file.size() - start) return corrupt;
    for (uint64_t at = start; at + 8 <= start + bytes;) {
      uint64_t type, body_bytes;
      if (!file.Number(at, 2, &type) || !file.Number(at + 2, 2, &body_bytes)) return corrupt;
      const uint64_t body = at + 8;
      if (body_bytes > start + bytes - body) return corrupt;
      if (type == kSymbolTableMessage) {
        return file.Address(body + file.offset_bytes(), heap) ? StatusOr<bool>(true) : corrupt;
      }
      if (type == kContinuationMessage) {
        uint64_t next, next_bytes;
        if (!file.Address(body, &next) || !file.Length(body + file.offset_bytes(), &next_bytes)) {
          return corrupt;
        }
        blocks.emplace_back(next, next_bytes);
      }
      at = body + body_bytes;
    }
  }
  return false;
}

// The heap's data must lie in the file (libhdf5 allocates its declared size
// and reads it), and its free list must stay inside the data and end
// (libhdf5 follows it without bound).
Status CheckLocalHeap(const std::string& path, const File& file, uint64_t heap) {
  const std::string what = absl::StrCat("the root group's name heap at address ", heap);
  char signature[4];
  uint64_t data_bytes, free_block, data;
  const uint64_t fields = heap + 8;
  if (heap == file.undefined_address() || !file.Read(heap, 4, signature) ||
      !file.Length(fields, &data_bytes) ||
      !file.Length(fields + file.length_bytes(), &free_block) ||
      !file.Address(fields + 2 * file.length_bytes(), &data)) {
    return CorruptFile(path, absl::StrCat(what, " lies outside the file"));
  }
  // A wrong signature is refused by libhdf5 itself, which names it.
  if (std::memcmp(signature, kLocalHeapSignature, 4) != 0) return absl::OkStatus();
  if (data > file.size() || data_bytes > file.size() - data) {
    return CorruptFile(path, absl::StrFormat("%s declares %d bytes at address %d, beyond the "
                                             "end of the file (%d bytes)",
                                             what, data_bytes, data, file.size()));
  }
  // Each free block holds its successor and its size: at most this many fit.
  const uint64_t entry_bytes = 2 * file.length_bytes();
  for (uint64_t blocks = 0; free_block != kFreeListEnd; ++blocks) {
    if (blocks > data_bytes / entry_bytes || data_bytes < entry_bytes ||
        free_block > data_bytes - entry_bytes || !file.Length(data + free_block, &free_block)) {
      return CorruptFile(path, absl::StrCat(what, " has a corrupt free list (out of bounds or "
                                                  "in a cycle)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Status PrecheckHdf5File(const std::string& path) {
  auto opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  const int fd = opened->fd;
  const struct stat& info = opened->info;
  File file(fd, static_cast<uint64_t>(info.st_size));
  uint64_t superblock;
  uint8_t fixed[16];
  // No signature, or a newer superblock: libhdf5 refuses or checksums it.
  if (!FindSuperblock(file, &superblock) || !file.Read(superblock, sizeof(fixed), fixed) ||
      fixed[8] > 1) {
    return absl::OkStatus();
  }
  const int version = fixed[8], offset_bytes = fixed[13], length_bytes = fixed[14];
  for (const int width : {offset_bytes, length_bytes}) {
    if (width != 2 && width != 4 && width != 8) {
      return CorruptFile(path, absl::StrFormat("the superblock declares %d-byte addresses or "
                                               "lengths (2, 4 or 8 are valid)",
                                               width));
    }
  }
  file.set_base(superblock);
  file.set_widths(offset_bytes, length_bytes);
  // After the fixed fields come four addresses (base, free space, end of
  // file, driver information), then the root group's symbol table entry:
  // its link name offset, then the address of its object header.
  const uint64_t root_entry = (version == 0 ? 24 : 28) + 4 * static_cast<uint64_t>(offset_bytes);
  uint64_t header;
  if (!file.Address(root_entry + offset_bytes, &header)) {
    return CorruptFile(path, "the superblock is truncated");
  }
  uint64_t heap = 0;
  StatusOr<bool> found = FindRootHeap(path, file, header, &heap);
  if (!found.ok()) return found.status();
  return *found ? CheckLocalHeap(path, file, heap) : absl::OkStatus();
}

}  // namespace turboquant::io
