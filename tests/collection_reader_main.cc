// Child process of read_only_test: opens a collection read-only, searches,
// verifies and backs it up, then prints "COUNT n" and "OK" (or the error).
// Started as root, it first becomes the unprivileged user nobody, for whom a
// directory without write permission really is read-only. (It drops the
// privileges itself rather than being started as nobody, which could not
// reach a binary under a private build directory.)
//   collection_reader DIR BACKUP_DIR
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "turboquant/index.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: collection_reader DIR BACKUP_DIR\n");
    return 2;
  }
  constexpr uid_t kNobody = 65534;
  if (geteuid() == 0 && (setgid(kNobody) != 0 || setuid(kNobody) != 0)) {
    std::printf("could not become nobody\n");
    return 1;
  }
  using turboquant::TurboQuantIndex;
  auto index = TurboQuantIndex::Open(argv[1], {.read_only = true});
  if (!index.ok()) {
    std::printf("open: %s\n", index.status().ToString().c_str());
    return 1;
  }
  const std::vector<float> query((*index)->options().dim, 0.5f);
  turboquant::Status status = (*index)->Search(query, {.k = 3}).status();
  if (status.ok()) status = (*index)->Verify();
  if (status.ok()) status = (*index)->Refresh();
  if (status.ok()) status = (*index)->Backup(argv[2]);
  std::printf("COUNT %lld\n", static_cast<long long>((*index)->size()));
  std::printf("%s\n", status.ok() ? "OK" : status.ToString().c_str());
  return status.ok() ? 0 : 1;
}
