#include "src/io/npy.h"

#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
// Real headers are a few hundred bytes; a larger length is corruption, and
// must not become an allocation.
constexpr uint32_t kMaxHeaderBytes = 1 << 20;
// What EncodeNpyHeader writes: magic, version, uint16 length, dict, '\n'.
// 128 bytes fit any row count and keep the data 64-byte aligned as NumPy does.
constexpr size_t kWrittenHeaderBytes = 128;
constexpr size_t kWrittenPreambleBytes = kMagicBytes + 2 + 2;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A cursor over the dict literal; each Parse* consumes one token or fails.
class DictParser {
 public:
  explicit DictParser(absl::string_view text) : rest_(text) {}

  bool Consume(char c) {
    SkipSpace();
    if (rest_.empty() || rest_.front() != c) return false;
    rest_.remove_prefix(1);
    return true;
  }

  bool ParseString(std::string* out) {
    SkipSpace();
    if (rest_.empty() || (rest_.front() != '\'' && rest_.front() != '"')) return false;
    const size_t end = rest_.find(rest_.front(), 1);
    if (end == absl::string_view::npos) return false;
    *out = std::string(rest_.substr(1, end - 1));
    rest_.remove_prefix(end + 1);
    return true;
  }

  bool ParseBool(bool* out) {
    SkipSpace();
    for (const bool value : {true, false}) {
      const absl::string_view word = value ? "True" : "False";
      if (absl::StartsWith(rest_, word)) {
        rest_.remove_prefix(word.size());
        *out = value;
        return true;
      }
    }
    return false;
  }

  // A tuple of non-negative integers: "()", "(7,)", "(7, 3)".
  bool ParseShape(std::vector<int64_t>* out) {
    if (!Consume('(')) return false;
    out->clear();
    while (!Consume(')')) {
      int64_t value;
      if (!ParseInt(&value)) return false;
      out->push_back(value);
      if (!Consume(',')) return Consume(')');
    }
    return true;
  }

  absl::string_view rest() const { return rest_; }

 private:
  void SkipSpace() {
    while (!rest_.empty() && (rest_.front() == ' ' || rest_.front() == '\t' ||
                              rest_.front() == '\n' || rest_.front() == '\r')) {
      rest_.remove_prefix(1);
    }
  }

  bool ParseInt(int64_t* out) {
    SkipSpace();
    int64_t value = 0;
    size_t digits = 0;
    for (; digits < rest_.size() && rest_[digits] >= '0' && rest_[digits] <= '9'; ++digits) {
      if (value > (int64_t{1} << 62) / 10) return false;  // absurd, and would overflow
      value = value * 10 + (rest_[digits] - '0');
    }
    if (digits == 0) return false;
    rest_.remove_prefix(digits);
    *out = value;
    return true;
  }

  absl::string_view rest_;
};

Status MalformedHeader(const std::string& path, const DictParser& parser, absl::string_view what) {
  return CorruptFile(path, absl::StrCat("malformed .npy header: expected ", what, " at \"",
                                        parser.rest().substr(0, 40), "\""));
}

// Parses the dict literal; every one of its three keys must be present.
StatusOr<NpyHeader> ParseHeaderDict(const std::string& path, absl::string_view text) {
  DictParser parser(text);
  NpyHeader header;
  bool seen[3] = {false, false, false};  // descr, fortran_order, shape
  if (!parser.Consume('{')) return MalformedHeader(path, parser, "'{'");
  while (!parser.Consume('}')) {
    std::string key;
    if (!parser.ParseString(&key)) return MalformedHeader(path, parser, "a quoted key");
    if (!parser.Consume(':')) return MalformedHeader(path, parser, "':'");
    bool parsed;
    if (key == "descr") {
      parsed = parser.ParseString(&header.descr);
      seen[0] = true;
    } else if (key == "fortran_order") {
      parsed = parser.ParseBool(&header.fortran_order);
      seen[1] = true;
    } else if (key == "shape") {
      parsed = parser.ParseShape(&header.shape);
      seen[2] = true;
    } else {
      return CorruptFile(path, absl::StrCat("malformed .npy header: unknown key '", key, "'"));
    }
    if (!parsed) return MalformedHeader(path, parser, absl::StrCat("the value of '", key, "'"));
    if (!parser.Consume(',')) {
      if (!parser.Consume('}')) return MalformedHeader(path, parser, "',' or '}'");
      break;
    }
  }
  if (!seen[0] || !seen[1] || !seen[2]) {
    return CorruptFile(path,
                       "malformed .npy header: it needs 'descr', 'fortran_order' and 'shape'");
  }
  return header;
}

std::optional<ElementType> ElementTypeOfDescr(const std::string& descr) {
  if (descr == "<f4") return ElementType::kFloat32;
  if (descr == "|u1" || descr == "<u1") return ElementType::kUint8;
  if (descr == "<i4") return ElementType::kInt32;
  if (descr == "<i8") return ElementType::kInt64;
  if (descr == "<f8") return ElementType::kFloat64;
  return std::nullopt;
}

const char* DescrOf(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
      return "<f4";
    case ElementType::kUint8:
      return "|u1";
    case ElementType::kInt32:
      return "<i4";
    case ElementType::kInt64:
      return "<i8";
    case ElementType::kFloat64:
      return "<f8";
  }
  return "?";
}

// Reads the magic, the version and the header length, which is 2 bytes in
// version 1 and 4 bytes in versions 2 and 3 (3 only changes the encoding).
StatusOr<uint32_t> ReadPreamble(ByteSource* source, int64_t* preamble_bytes) {
  char start[kMagicBytes + 2];
  Status read = ReadHeader(source, start, sizeof(start), "the .npy magic and version");
  if (!read.ok()) return read;
  if (std::memcmp(start, kMagic, kMagicBytes) != 0) {
    return CorruptFile(source->path(), "bad .npy magic: the file does not start with \\x93NUMPY");
  }
  const int major = static_cast<uint8_t>(start[kMagicBytes]);
  const int minor = static_cast<uint8_t>(start[kMagicBytes + 1]);
  if (major < 1 || major > 3) {
    return InvalidFile(source->path(), absl::StrFormat("unsupported .npy version %d.%d (supported: "
                                                       "1.0, 2.0, 3.0)",
                                                       major, minor));
  }
  unsigned char length[4] = {0, 0, 0, 0};
  const size_t length_bytes = major == 1 ? 2 : 4;
  read =
      ReadHeader(source, reinterpret_cast<char*>(length), length_bytes, "the .npy header length");
  if (!read.ok()) return read;
  *preamble_bytes = static_cast<int64_t>(sizeof(start) + length_bytes);
  return uint32_t{length[0]} | uint32_t{length[1]} << 8 | uint32_t{length[2]} << 16 |
         uint32_t{length[3]} << 24;
}

// Turns a parsed header into a layout, rejecting what the library can't read.
StatusOr<Layout> LayoutOfHeader(const std::string& path, const NpyHeader& header) {
  const std::optional<ElementType> type = ElementTypeOfDescr(header.descr);
  if (!type.has_value()) {
    return InvalidFile(path, absl::StrCat("unsupported .npy dtype '", header.descr,
                                          "' (supported: '<f4', '<f8', '|u1', '<i4', '<i8')"));
  }
  if (header.fortran_order) {
    return InvalidFile(path,
                       "unsupported .npy layout: fortran_order is True (save it with "
                       "numpy.ascontiguousarray first)");
  }
  if (header.shape.empty() || header.shape.size() > 2) {
    return InvalidFile(path,
                       absl::StrFormat("unsupported .npy shape with %d dimensions (supported: "
                                       "(rows, dim) or (rows,))",
                                       header.shape.size()));
  }
  const int64_t dim = header.shape.size() == 2 ? header.shape[1] : 1;
  Status dim_ok = CheckDim(path, dim, "the .npy shape");
  if (!dim_ok.ok()) return dim_ok;
  Layout layout;
  layout.element_type = *type;
  layout.dim = static_cast<int>(dim);
  layout.rows = header.shape[0];
  return layout;
}

}  // namespace

StatusOr<Layout> ReadNpyLayout(ByteSource* source) {
  int64_t preamble_bytes = 0;
  StatusOr<uint32_t> dict_bytes = ReadPreamble(source, &preamble_bytes);
  if (!dict_bytes.ok()) return dict_bytes.status();
  if (*dict_bytes > kMaxHeaderBytes) {
    return CorruptFile(source->path(), absl::StrFormat("implausible .npy header length %d (at most "
                                                       "%d)",
                                                       *dict_bytes, kMaxHeaderBytes));
  }
  std::string dict(*dict_bytes, '\0');
  Status read = ReadHeader(source, dict.data(), dict.size(), "the .npy header");
  if (!read.ok()) return read;
  StatusOr<NpyHeader> header = ParseHeaderDict(source->path(), dict);
  if (!header.ok()) return header.status();
  StatusOr<Layout> layout = LayoutOfHeader(source->path(), *header);
  if (!layout.ok()) return layout;
  const int64_t header_bytes = preamble_bytes + *dict_bytes;
  const int64_t data_bytes = source->size() < 0 ? -1 : source->size() - header_bytes;
  Status size_ok = CheckDataSize(source->path(), header_bytes, data_bytes, &*layout);
  if (!size_ok.ok()) return size_ok;
  return layout;
}

std::string EncodeNpyHeader(ElementType type, int64_t rows, int dim) {
  std::string dict = absl::StrFormat("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }",
                                     DescrOf(type), rows, dim);
  const size_t dict_bytes = kWrittenHeaderBytes - kWrittenPreambleBytes;
  dict.resize(dict_bytes - 1, ' ');  // NumPy allows padding spaces before the '\n'
  dict.push_back('\n');
  std::string header(kMagic, kMagicBytes);
  header.push_back('\x01');  // version 1.0
  header.push_back('\x00');
  header.push_back(static_cast<char>(dict_bytes & 0xff));
  header.push_back(static_cast<char>(dict_bytes >> 8));
  return header + dict;
}

}  // namespace turboquant::io
