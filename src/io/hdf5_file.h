// Bounded access to the bytes of an HDF5 file, the ground floor of the HDF5
// reader (hdf5_objects.h, hdf5_dataset.h). Nothing in a file is trusted: every
// read names an address and a length, and one that leaves the file fails
// instead of reading past it. Structures are decoded through a Cursor, whose
// failure is sticky, so a parser reads all fields and checks once.
#ifndef TURBOQUANT_SRC_IO_HDF5_FILE_H_
#define TURBOQUANT_SRC_IO_HDF5_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "turboquant/status.h"

namespace turboquant::io::hdf5 {

// Little-endian fields from a span of bytes. Reading past the end yields zeros
// and makes ok() false for good.
class Cursor {
 public:
  explicit Cursor(absl::Span<const uint8_t> bytes, int offset_bytes = 8, int length_bytes = 8)
      : bytes_(bytes), offset_bytes_(offset_bytes), length_bytes_(length_bytes) {}

  bool ok() const { return ok_; }
  size_t position() const { return position_; }
  size_t remaining() const { return ok_ ? bytes_.size() - position_ : 0; }

  // An unsigned integer of `width` bytes (0..8).
  uint64_t Number(int width);
  uint8_t U8() { return static_cast<uint8_t>(Number(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Number(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Number(4)); }
  uint64_t Address() { return Number(offset_bytes_); }  // "size of offsets" wide
  uint64_t Length() { return Number(length_bytes_); }   // "size of lengths" wide
  absl::Span<const uint8_t> Bytes(size_t n);
  void Skip(size_t n) { Bytes(n); }
  // Fails the cursor unless the next bytes are `signature`.
  void Expect(absl::string_view signature);

 private:
  absl::Span<const uint8_t> bytes_;
  int offset_bytes_;
  int length_bytes_;
  size_t position_ = 0;
  bool ok_ = true;
};

// The file by HDF5 address: addresses count from the superblock, where
// libhdf5 also places the base whatever the superblock says.
class File {
 public:
  // Opens `path` and finds its superblock. InvalidArgument for a directory
  // or a file without an HDF5 signature.
  static StatusOr<File> Open(const std::string& path);

  File(File&& other) noexcept;
  File& operator=(File&&) = delete;
  File(const File&) = delete;
  ~File();

  const std::string& path() const { return path_; }
  int offset_bytes() const { return offset_bytes_; }
  int length_bytes() const { return length_bytes_; }
  // Bytes from the base address to the end of the file.
  uint64_t size() const { return file_bytes_ - base_; }
  // The all-ones address, which the format uses for "none".
  uint64_t undefined_address() const;
  bool Contains(uint64_t address, uint64_t n) const {
    return address <= size() && n <= size() - address;
  }

  // Reads [address, address + n) into `out`; DataLoss naming `what` when it
  // is not all inside the file.
  Status Read(uint64_t address, uint64_t n, absl::string_view what,
              std::vector<uint8_t>* out) const;
  Status Read(uint64_t address, uint64_t n, absl::string_view what, void* out) const;
  Cursor CursorOver(absl::Span<const uint8_t> bytes) const {
    return Cursor(bytes, offset_bytes_, length_bytes_);
  }

  // The root group's object header, as the superblock names it.
  uint64_t root_header() const { return root_header_; }

 private:
  File(std::string path, int fd, uint64_t file_bytes)
      : path_(std::move(path)), fd_(fd), file_bytes_(file_bytes) {}
  Status ReadSuperblock();
  Status OutsideFile(uint64_t address, uint64_t n, absl::string_view what) const;

  std::string path_;
  int fd_;
  uint64_t file_bytes_;
  uint64_t base_ = 0;
  int offset_bytes_ = 8;
  int length_bytes_ = 8;
  uint64_t root_header_ = 0;
};

}  // namespace turboquant::io::hdf5

#endif  // TURBOQUANT_SRC_IO_HDF5_FILE_H_
