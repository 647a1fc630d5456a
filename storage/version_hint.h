// The catalog version that the writing process last committed, published in
// a small file beside the catalog (DIR/catalog.version) so that read-only
// opens in other processes know how far they must catch up.
//
// RocksDB secondary instances do not always show a writer's newest records
// at once; a reader that knows the version it must reach reads again until
// its view has it, so every write acknowledged before a Refresh is visible
// to it. The file is written without fsync: it is a hint about the page
// cache, which every process on the machine shares. It never runs ahead of
// the catalog, since a version is published only after its batch is durable.
#ifndef TURBOQUANT_STORAGE_VERSION_HINT_H_
#define TURBOQUANT_STORAGE_VERSION_HINT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "turboquant/status.h"

namespace turboquant::storage {

class VersionHint {
 public:
  // Opens (creating) the hint file of the writer of the catalog in `dir`.
  static StatusOr<std::unique_ptr<VersionHint>> Open(const std::string& catalog_dir);
  ~VersionHint();

  void Publish(uint64_t version);

  // What the writer last published; 0 when no writer ever did.
  static uint64_t Read(const std::string& catalog_dir);

 private:
  explicit VersionHint(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace turboquant::storage

#endif  // TURBOQUANT_STORAGE_VERSION_HINT_H_
