// Layouts from the HDF5 File Format Specification 3.0: object headers
// (IV.A.1.a version 1, IV.A.1.b version 2), the symbol table message and its
// version 1 B-tree, symbol table nodes and local heap (III.A.1, III.C,
// III.D), link and link info messages (IV.A.2.g, IV.A.2.c).
#include "src/io/hdf5_objects.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "src/io/file_error.h"

namespace turboquant::io::hdf5 {
namespace {

// Bounds on what one object may make the reader do. Real headers are a few
// hundred bytes in one or two blocks; groups nest a few levels deep.
constexpr size_t kMaxHeaderBlocks = 64;
constexpr uint64_t kMaxHeaderBytes = uint64_t{16} << 20;
constexpr int kMaxBTreeLevel = 32;
constexpr int kMaxLinkHops = 16;
// A group's name heap holds its link names, a few bytes each.
constexpr uint64_t kMaxHeapBytes = uint64_t{16} << 20;

Status CorruptHeader(const File& file, uint64_t address, absl::string_view problem) {
  return CorruptFile(file.path(),
                     absl::StrFormat("the object header at address %d %s", address, problem));
}

struct Block {
  uint64_t address;
  uint64_t bytes;
};

// Appends the messages of one block of a header, and the blocks its
// continuation messages name. Version 1 messages have an 8-byte prefix
// (type, size, flags, reserved); version 2 ones 4 bytes, or 6 when the
// header tracks creation order. Fewer bytes than a prefix at the end are a gap.
bool ParseMessages(const File& file, absl::Span<const uint8_t> bytes, int version,
                   bool creation_order, std::vector<Message>* out, std::vector<Block>* blocks) {
  Cursor cursor = file.CursorOver(bytes);
  const size_t prefix = version == 1 ? 8 : (creation_order ? 6 : 4);
  while (cursor.ok() && cursor.remaining() >= prefix) {
    Message message;
    message.type = version == 1 ? cursor.U16() : cursor.U8();
    const uint16_t size = cursor.U16();
    message.flags = cursor.U8();
    cursor.Skip(prefix - (version == 1 ? 5 : 4));
    const absl::Span<const uint8_t> body = cursor.Bytes(size);
    message.body.assign(body.begin(), body.end());
    if (message.type == kContinuationMessage) {
      Cursor fields = file.CursorOver(message.body);
      const uint64_t address = fields.Address();
      const uint64_t length = fields.Length();
      if (!fields.ok()) return false;
      blocks->push_back({address, length});
    }
    out->push_back(std::move(message));
  }
  return cursor.ok();
}

// The first block of a version 2 header: "OHDR", version, flags, optional
// times and attribute limits, then the size of the messages (1 to 8 bytes).
StatusOr<Block> FirstBlockOfVersion2(const File& file, uint64_t address, uint8_t* flags) {
  uint8_t prefix[4 + 1 + 1 + 16 + 4 + 8];
  const uint64_t available = std::min<uint64_t>(sizeof(prefix), file.size() - address);
  Status read = file.Read(address, available, "an object header", prefix);
  if (!read.ok()) return read;
  Cursor cursor = file.CursorOver({prefix, available});
  cursor.Expect("OHDR");
  const uint8_t version = cursor.U8();
  *flags = cursor.U8();
  if (*flags & 0x20) cursor.Skip(16);  // access, modification, change, birth times
  if (*flags & 0x10) cursor.Skip(4);   // attribute storage phase change values
  const uint64_t bytes = cursor.Number(1 << (*flags & 0x03));
  if (!cursor.ok() || version != 2) return CorruptHeader(file, address, "is malformed");
  return Block{address + cursor.position(), bytes};
}

Status ReadBlock(const File& file, uint64_t address, const Block& block, uint64_t* total,
                 std::vector<uint8_t>* bytes) {
  *total += block.bytes;
  if (*total > kMaxHeaderBytes) {
    return CorruptHeader(file, address,
                         absl::StrCat("holds more than ", kMaxHeaderBytes, " bytes of messages"));
  }
  return file.Read(block.address, block.bytes, "an object header block", bytes);
}

// A local heap: "HEAP", version, reserved, data size, free list head, data
// address. Names are NUL-terminated strings at offsets into the data, which
// is read once.
class LocalHeap {
 public:
  static StatusOr<LocalHeap> Read(const File& file, uint64_t address, absl::string_view group) {
    const std::string what = absl::StrCat(group, "'s name heap at address ", address);
    std::vector<uint8_t> header;
    if (address == file.undefined_address() ||
        !file.Read(address, 8 + 2 * file.length_bytes() + file.offset_bytes(), what, &header)
             .ok()) {
      return CorruptFile(file.path(), absl::StrCat(what, " lies outside the file"));
    }
    Cursor cursor = file.CursorOver(header);
    cursor.Expect("HEAP");
    cursor.Skip(4);
    const uint64_t data_bytes = cursor.Length();
    cursor.Length();  // the free list, which reading never follows
    const uint64_t data = cursor.Address();
    if (!cursor.ok()) return CorruptFile(file.path(), absl::StrCat(what, " is malformed"));
    if (!file.Contains(data, data_bytes)) {
      return CorruptFile(file.path(),
                         absl::StrFormat("%s declares %d bytes at address %d, beyond the end of "
                                         "the file (%d bytes)",
                                         what, data_bytes, data, file.size()));
    }
    if (data_bytes > kMaxHeapBytes) {
      return absl::UnimplementedError(
          absl::StrFormat("%s: %s holds %d bytes of link names; this reader reads at most %d",
                          file.path(), what, data_bytes, kMaxHeapBytes));
    }
    LocalHeap heap;
    Status read = file.Read(data, data_bytes, what, &heap.data_);
    if (!read.ok()) return read;
    return heap;
  }

  uint64_t size() const { return data_.size(); }

  // The string at `offset`, which must end inside the heap.
  StatusOr<std::string> Name(const File& file, uint64_t offset) const {
    if (offset >= data_.size()) {
      return CorruptFile(file.path(), absl::StrCat("a link name offset (", offset,
                                                   ") lies outside its group's name heap"));
    }
    const auto end = std::find(data_.begin() + offset, data_.end(), 0);
    if (end == data_.end()) {
      return CorruptFile(file.path(), "a link name in a group's name heap does not end");
    }
    return std::string(data_.begin() + offset, end);
  }

 private:
  std::vector<uint8_t> data_;
};

struct Link {
  enum class Kind { kHard, kSoft, kExternal, kOther };
  Kind kind = Kind::kOther;
  std::string name;
  uint64_t address = 0;  // of the object header, for a hard link
  std::string target;    // the path, for a soft link
};

// Symbol-table groups: a version 1 B-tree (type 0) whose leaves are symbol
// table nodes ("SNOD", version, reserved, count, then entries of link name
// offset, header address, cache type, reserved and a 16-byte scratch pad;
// cache type 2 is a soft link whose value's heap offset is in the pad).
class SymbolTableWalk {
 public:
  SymbolTableWalk(const File& file, const LocalHeap& heap, std::vector<Link>* links)
      : file_(file),
        heap_(heap),
        links_(links),
        tree_(file, /*type=*/0, file.length_bytes(), file.path(), "a group's B-tree"),
        names_left_(heap.size()) {}

  Status Node(uint64_t address, int expected_level) {
    StatusOr<BTreeNode> node = tree_.ReadNode(address, expected_level);
    if (!node.ok()) return node.status();
    Cursor cursor = file_.CursorOver(node->pairs);
    for (int i = 0; i < node->entries; ++i) {
      cursor.Length();  // key: a heap offset, not needed to list every link
      const uint64_t child = cursor.Address();
      if (!cursor.ok()) return tree_.Corrupt(address);
      Status walked = node->level == 0 ? SymbolNode(child) : Node(child, node->level - 1);
      if (!walked.ok()) return walked;
    }
    return absl::OkStatus();
  }

 private:
  Status SymbolNode(uint64_t address) {
    uint8_t prefix[8];
    Status read = file_.Read(address, sizeof(prefix), "a symbol table node", prefix);
    if (!read.ok()) return read;
    if (!std::equal(prefix, prefix + 4, "SNOD")) return tree_.Corrupt(address);
    const int count = prefix[6] | prefix[7] << 8;
    const uint64_t entry_bytes = 2 * file_.offset_bytes() + 24;
    std::vector<uint8_t> bytes;
    read = tree_.ReadCharged(address + sizeof(prefix), sizeof(prefix), count * entry_bytes, &bytes);
    if (!read.ok()) return read;
    Cursor cursor = file_.CursorOver(bytes);
    for (int i = 0; i < count; ++i) {
      const uint64_t name_offset = cursor.Address();
      Link link;
      link.address = cursor.Address();
      const uint32_t cache_type = cursor.U32();
      cursor.Skip(4);
      Cursor pad = file_.CursorOver(cursor.Bytes(16));
      if (!cursor.ok()) return tree_.Corrupt(address);
      StatusOr<std::string> name = HeapName(name_offset);
      if (!name.ok()) return name.status();
      link.name = *std::move(name);
      link.kind = Link::Kind::kHard;
      if (cache_type == 2) {
        StatusOr<std::string> target = HeapName(pad.U32());
        if (!target.ok()) return target.status();
        link.kind = Link::Kind::kSoft;
        link.target = *std::move(target);
      }
      links_->push_back(std::move(link));
    }
    return absl::OkStatus();
  }

  // Every link's name (and soft link's value) has its own place in the heap,
  // so all of them together fit in it; more means entries that share names,
  // which could make the walk hold the heap many times over.
  StatusOr<std::string> HeapName(uint64_t offset) {
    StatusOr<std::string> name = heap_.Name(file_, offset);
    if (!name.ok()) return name;
    if (name->size() + 1 > names_left_) {
      return CorruptFile(file_.path(), "a group's links share their names in its name heap");
    }
    names_left_ -= name->size() + 1;
    return name;
  }

  const File& file_;
  const LocalHeap& heap_;
  std::vector<Link>* links_;
  BTreeWalk tree_;
  uint64_t names_left_;
};

// A link message: version 1, flags, then (as the flags say) the link type,
// creation order, name character set, the name's length (1 to 8 bytes) and
// name, and the link's value: an address (hard), a path (soft) or a file
// and path (external).
StatusOr<Link> ParseLinkMessage(const File& file, const Message& message) {
  Cursor cursor = file.CursorOver(message.body);
  const uint8_t version = cursor.U8();
  const uint8_t flags = cursor.U8();
  const uint8_t type = (flags & 0x08) ? cursor.U8() : 0;
  if (flags & 0x04) cursor.Skip(8);
  if (flags & 0x10) cursor.Skip(1);
  const uint64_t name_bytes = cursor.Number(1 << (flags & 0x03));
  const absl::Span<const uint8_t> name = cursor.Bytes(name_bytes);
  Link link;
  link.name.assign(name.begin(), name.end());
  if (type == 0) {
    link.kind = Link::Kind::kHard;
    link.address = cursor.Address();
  } else if (type == 1) {
    link.kind = Link::Kind::kSoft;
    const absl::Span<const uint8_t> target = cursor.Bytes(cursor.U16());
    link.target.assign(target.begin(), target.end());
  } else if (type == 64) {
    link.kind = Link::Kind::kExternal;
  }
  if (!cursor.ok() || version != 1) {
    return CorruptFile(file.path(), "a link message is malformed");
  }
  return link;
}

// The links of the group whose header holds `messages`; `group` names it in errors.
StatusOr<std::vector<Link>> ReadGroupLinks(const File& file, const std::vector<Message>& messages,
                                           absl::string_view group) {
  std::vector<Link> links;
  if (const Message* table = FindMessage(messages, kSymbolTableMessage)) {
    Cursor cursor = file.CursorOver(table->body);
    const uint64_t btree = cursor.Address();
    const uint64_t heap_address = cursor.Address();
    if (!cursor.ok()) return CorruptFile(file.path(), absl::StrCat(group, " is malformed"));
    StatusOr<LocalHeap> heap = LocalHeap::Read(file, heap_address, group);
    if (!heap.ok()) return heap.status();
    if (btree == file.undefined_address()) return links;
    Status walked = SymbolTableWalk(file, *heap, &links).Node(btree, -1);
    if (!walked.ok()) return walked;
    return links;
  }
  if (const Message* info = FindMessage(messages, kLinkInfoMessage)) {
    Cursor cursor = file.CursorOver(info->body);
    cursor.U8();
    if (cursor.U8() & 0x01) cursor.Skip(8);
    const uint64_t fractal_heap = cursor.Address();
    if (cursor.ok() && fractal_heap != file.undefined_address()) {
      return absl::UnimplementedError(absl::StrCat(
          file.path(), ": ", group,
          " stores its links densely (a fractal heap, for more than 8 "
          "links), which this reader does not read; rewrite the file with h5py's default format"));
    }
  }
  for (const Message& message : messages) {
    if (message.type != kLinkMessage) continue;
    StatusOr<Link> link = ParseLinkMessage(file, message);
    if (!link.ok()) return link.status();
    links.push_back(*std::move(link));
  }
  return links;
}

bool IsGroup(const std::vector<Message>& messages) {
  return FindMessage(messages, kSymbolTableMessage) != nullptr ||
         FindMessage(messages, kLinkInfoMessage) != nullptr ||
         FindMessage(messages, kLinkMessage) != nullptr;
}

// Walks `path` from the group at `start`; `hops` bounds soft links followed.
StatusOr<uint64_t> Resolve(const File& file, uint64_t start, absl::string_view path, int hops) {
  uint64_t current = absl::StartsWith(path, "/") ? file.root_header() : start;
  std::string walked;
  for (absl::string_view name : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    StatusOr<std::vector<Message>> header = ReadObjectHeader(file, current);
    if (!header.ok()) return header.status();
    const std::string group =
        walked.empty() ? "the root group" : absl::StrCat("group '", walked, "'");
    if (!IsGroup(*header)) {
      return absl::NotFoundError(absl::StrCat(file.path(), ": '", walked, "' is not a group"));
    }
    StatusOr<std::vector<Link>> links = ReadGroupLinks(file, *header, group);
    if (!links.ok()) return links.status();
    const auto link =
        std::find_if(links->begin(), links->end(), [&](const Link& l) { return l.name == name; });
    absl::StrAppend(&walked, walked.empty() ? "" : "/", name);
    if (link == links->end()) {
      return absl::NotFoundError(absl::StrCat(file.path(), ": no object '", walked, "'"));
    }
    switch (link->kind) {
      case Link::Kind::kHard:
        current = link->address;
        break;
      case Link::Kind::kSoft: {
        if (hops >= kMaxLinkHops) {
          return CorruptFile(file.path(), absl::StrCat("'", walked, "': too many soft links"));
        }
        StatusOr<uint64_t> target = Resolve(file, current, link->target, hops + 1);
        if (!target.ok()) return target.status();
        current = *target;
        break;
      }
      case Link::Kind::kExternal:
        return InvalidFile(absl::StrCat(file.path(), " '", walked, "'"),
                           "is an external link to another file, which is not followed");
      case Link::Kind::kOther:
        return InvalidFile(absl::StrCat(file.path(), " '", walked, "'"),
                           "is a user-defined link, which is not followed");
    }
  }
  return current;
}

}  // namespace

StatusOr<BTreeNode> BTreeWalk::ReadNode(uint64_t address, int expected_level) {
  uint8_t prefix[8];
  Status read = file_.Read(address, sizeof(prefix), absl::StrCat(tree_, " node"), prefix);
  if (!read.ok()) return read;
  BTreeNode node;
  node.level = prefix[5];
  node.entries = prefix[6] | prefix[7] << 8;
  if (!std::equal(prefix, prefix + 4, "TREE") || prefix[4] != type_ ||
      node.level > kMaxBTreeLevel || (expected_level >= 0 && node.level != expected_level)) {
    return Corrupt(address);
  }
  const uint64_t prefix_bytes = sizeof(prefix) + 2 * file_.offset_bytes();  // and the siblings
  read = ReadCharged(address + prefix_bytes, prefix_bytes,
                     node.entries * (key_bytes_ + file_.offset_bytes()), &node.pairs);
  if (!read.ok()) return read;
  return node;
}

Status BTreeWalk::ReadCharged(uint64_t address, uint64_t prefix_bytes, uint64_t n,
                              std::vector<uint8_t>* out) {
  if (prefix_bytes + n > unread_) {
    return CorruptFile(where_, absl::StrCat(tree_, " visits nodes more than once"));
  }
  unread_ -= prefix_bytes + n;
  return file_.Read(address, n, absl::StrCat(tree_, " node"), out);
}

Status BTreeWalk::Corrupt(uint64_t address) const {
  return CorruptFile(where_, absl::StrCat(tree_, " node at address ", address, " is corrupt"));
}

StatusOr<std::vector<Message>> ReadObjectHeader(const File& file, uint64_t address) {
  uint8_t version = 0;
  Status read = file.Read(address, 1, "an object header", &version);
  if (!read.ok()) return read;
  uint8_t flags = 0;
  std::vector<Block> blocks;
  if (version == 1) {
    uint8_t prefix[16];
    read = file.Read(address, sizeof(prefix), "an object header", prefix);
    if (!read.ok()) return read;
    blocks.push_back({address + 16, file.CursorOver({prefix + 8, 4}).U32()});
  } else if (version == 'O') {
    StatusOr<Block> first = FirstBlockOfVersion2(file, address, &flags);
    if (!first.ok()) return first.status();
    blocks.push_back(*first);
    version = 2;
  } else {
    return CorruptHeader(file, address, absl::StrCat("has unknown version ", version));
  }
  std::vector<Message> messages;
  uint64_t total = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i == kMaxHeaderBlocks) return CorruptHeader(file, address, "has too many continuations");
    std::vector<uint8_t> bytes;
    read = ReadBlock(file, address, blocks[i], &total, &bytes);
    if (!read.ok()) return read;
    absl::Span<const uint8_t> body(bytes);
    // Version 2: the first block ends in a checksum; continuation blocks
    // also start with "OCHK".
    if (version == 2 && i > 0) {
      if (body.size() < 8 || !std::equal(body.begin(), body.begin() + 4, "OCHK")) {
        return CorruptHeader(file, address, "has a malformed continuation block");
      }
      body = body.subspan(4, body.size() - 8);
    }
    if (!ParseMessages(file, body, version, (flags & 0x04) != 0, &messages, &blocks)) {
      return CorruptHeader(file, address, "has a message that overruns its block");
    }
  }
  return messages;
}

const Message* FindMessage(const std::vector<Message>& messages, uint16_t type) {
  for (const Message& message : messages) {
    if (message.type == type) return &message;
  }
  return nullptr;
}

StatusOr<uint64_t> FindObject(const File& file, absl::string_view path) {
  return Resolve(file, file.root_header(), path, 0);
}

std::vector<std::string> RootDatasetNames(const File& file) {
  std::vector<std::string> names;
  StatusOr<std::vector<Message>> root = ReadObjectHeader(file, file.root_header());
  if (!root.ok()) return names;
  StatusOr<std::vector<Link>> links = ReadGroupLinks(file, *root, "the root group");
  if (!links.ok()) return names;
  for (const Link& link : *links) {
    if (link.kind != Link::Kind::kHard) continue;
    StatusOr<std::vector<Message>> header = ReadObjectHeader(file, link.address);
    if (header.ok() && FindMessage(*header, kLayoutMessage) != nullptr) {
      names.push_back(link.name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace turboquant::io::hdf5
