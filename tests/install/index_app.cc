// An in-memory collection through the installed headers and library.
#include <cstdio>
#include <vector>

#include "turboquant/index.h"

int main() {
  auto index = turboquant::TurboQuantIndex::Create({.dim = 8});
  if (!index.ok()) return 1;
  std::vector<float> vectors(16);
  for (size_t i = 0; i < vectors.size(); ++i) vectors[i] = static_cast<float>(i % 5);
  if (!(*index)->Add({1, 2}, vectors).ok()) return 1;
  auto results = (*index)->Search({vectors.data(), 8}, {.k = 1});
  if (!results.ok()) return 1;
  std::printf("index_app: %lld vectors, nearest to the first is %lld\n",
              static_cast<long long>((*index)->size()), static_cast<long long>(results->ids[0]));
  return results->ids[0] == 1 ? 0 : 1;
}
