// libFuzzer target: any bytes as a catalog record and as the options text.
// The input is split into key and value by its first byte, the key's length.
// Decoding must never read out of bounds (ASan+UBSan), and whatever decodes
// must survive a round trip: options that DecodeOptions accepts are encoded
// and decoded again to the same values, so a corrupt catalog can never turn
// into options that the collection would write back differently.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "storage/catalog.h"

namespace {

bool SameOptions(const turboquant::IndexOptions& a, const turboquant::IndexOptions& b) {
  return a.dim == b.dim && a.bits == b.bits && a.codec == b.codec && a.metric == b.metric &&
         a.seed == b.seed && a.keep_vectors == b.keep_vectors;
}

void FuzzOptions(const std::string& text) {
  using namespace turboquant;
  const StatusOr<IndexOptions> options = storage::DecodeOptions(text, "fuzz");
  if (!options.ok()) return;
  const StatusOr<IndexOptions> again =
      storage::DecodeOptions(storage::EncodeOptions(*options), "fuzz");
  if (!again.ok() || !SameOptions(*options, *again)) {
    std::fprintf(stderr, "catalog fuzzer: options do not survive encode + decode\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const absl::string_view key = rest.substr(0, data[0]);
  const absl::string_view value = rest.substr(key.size());
  turboquant::storage::CatalogContents contents;
  (void)turboquant::storage::DecodeCatalogRecord(key, value, &contents);
  FuzzOptions(std::string(value));
  return 0;
}
