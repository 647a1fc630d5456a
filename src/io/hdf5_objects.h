// HDF5 objects: object headers and their messages, groups and their links,
// and finding a dataset by its path. Both generations of the format are read:
// symbol-table groups with version 1 headers (h5py's default) and link
// messages with version 2 headers (libver='latest'). Groups that keep their
// links densely (a fractal heap, more than 8 links in the new format) are
// refused with a message that says so.
#ifndef TURBOQUANT_SRC_IO_HDF5_OBJECTS_H_
#define TURBOQUANT_SRC_IO_HDF5_OBJECTS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "src/io/hdf5_file.h"
#include "turboquant/status.h"

namespace turboquant::io::hdf5 {

// The message types this reader uses (specification section IV.A.2).
enum MessageType : uint16_t {
  kDataspaceMessage = 0x01,
  kLinkInfoMessage = 0x02,
  kDatatypeMessage = 0x03,
  kLinkMessage = 0x06,
  kExternalFilesMessage = 0x07,
  kLayoutMessage = 0x08,
  kFilterPipelineMessage = 0x0B,
  kContinuationMessage = 0x10,
  kSymbolTableMessage = 0x11,
};

struct Message {
  uint16_t type = 0;
  uint8_t flags = 0;
  std::vector<uint8_t> body;

  // The body is a reference to a message stored elsewhere (a committed
  // datatype, a shared message table), which this reader does not follow.
  bool shared() const { return (flags & 0x02) != 0; }
};

// A node of a version 1 B-tree (specification III.A.1): its level (0 for
// leaves) and its entries, each a key and a child address, as bytes.
struct BTreeNode {
  int level = 0;
  int entries = 0;
  std::vector<uint8_t> pairs;
};

// One walk of a version 1 B-tree (group nodes are type 0, chunk nodes type
// 1). The nodes of a valid tree do not overlap, so a walk reads at most the
// file's size; more means nodes visited twice (a cycle, or a node that many
// parents share), which could make the walk take time without end.
class BTreeWalk {
 public:
  // `where` starts messages (the file, or the dataset); `tree` names the
  // tree in them ("a group's B-tree").
  BTreeWalk(const File& file, int type, uint64_t key_bytes, std::string where, std::string tree)
      : file_(file),
        type_(type),
        key_bytes_(key_bytes),
        where_(std::move(where)),
        tree_(std::move(tree)),
        unread_(file.size()) {}

  // The node at `address` ("TREE", type, level, entry count, siblings, then
  // keys and children alternating), which must be of this tree's type and,
  // unless negative, at `expected_level`.
  StatusOr<BTreeNode> ReadNode(uint64_t address, int expected_level);
  // Reads `n` bytes after a node prefix of `prefix_bytes`, charged to the walk
  // (the leaves of a group tree are symbol table nodes).
  Status ReadCharged(uint64_t address, uint64_t prefix_bytes, uint64_t n,
                     std::vector<uint8_t>* out);
  Status Corrupt(uint64_t address) const;

 private:
  const File& file_;
  const int type_;
  const uint64_t key_bytes_;
  const std::string where_;
  const std::string tree_;
  uint64_t unread_;
};

// The messages of the object header at `address`, continuations followed.
StatusOr<std::vector<Message>> ReadObjectHeader(const File& file, uint64_t address);

// The first message of `type`, or null.
const Message* FindMessage(const std::vector<Message>& messages, uint16_t type);

// The object header address of the object at `path` (names separated by '/',
// from the root group; soft links are followed, external links refused).
// NotFound when a name on the way does not exist.
StatusOr<uint64_t> FindObject(const File& file, absl::string_view path);

// The names of the datasets the root group links to, sorted (for messages
// that list what a file has). Unreadable links are left out.
std::vector<std::string> RootDatasetNames(const File& file);

}  // namespace turboquant::io::hdf5

#endif  // TURBOQUANT_SRC_IO_HDF5_OBJECTS_H_
