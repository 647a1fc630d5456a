// Encode / decode / float-estimate throughput of both codecs, one thread.
//   build/bench/codec_bench --benchmark_filter=Encode
// items_per_second is vectors per second.
#include <cmath>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/util/random.h"
#include "turboquant/codec.h"

namespace turboquant {
namespace {

constexpr int kBatch = 4096;

std::vector<float> RandomVectors(int n, int dim) {
  internal::SeededRandom random(1);
  std::vector<float> out(static_cast<size_t>(n) * dim);
  for (float& v : out) v = static_cast<float>(random.Normal());
  return out;
}

std::unique_ptr<Codec> MakeCodec(const benchmark::State& state) {
  const CodecKind kind = state.range(0) == 0 ? CodecKind::kMse : CodecKind::kProd;
  return *Codec::Create(kind, {.dim = static_cast<int>(state.range(1)),
                               .bits = static_cast<int>(state.range(2))});
}

void BM_Encode(benchmark::State& state) {
  const auto codec = MakeCodec(state);
  const std::vector<float> x = RandomVectors(kBatch, codec->dim());
  std::vector<uint8_t> codes(kBatch * codec->code_size());
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      codec->EncodeOne(&x[static_cast<size_t>(i) * codec->dim()], &codes[i * codec->code_size()]);
    }
    benchmark::DoNotOptimize(codes.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(CodecKindName(codec->kind()));
}

void BM_Decode(benchmark::State& state) {
  const auto codec = MakeCodec(state);
  const std::vector<float> x = RandomVectors(kBatch, codec->dim());
  std::vector<uint8_t> codes(kBatch * codec->code_size());
  (void)codec->Encode(x, absl::MakeSpan(codes));
  std::vector<float> out(codec->dim());
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) codec->DecodeOne(&codes[i * codec->code_size()], out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(CodecKindName(codec->kind()));
}

// The float reference estimator (rotates the query for every code); the
// index's scan does not use this path.
void BM_EstimateReference(benchmark::State& state) {
  const auto codec = MakeCodec(state);
  const std::vector<float> x = RandomVectors(kBatch, codec->dim());
  std::vector<uint8_t> codes(kBatch * codec->code_size());
  (void)codec->Encode(x, absl::MakeSpan(codes));
  float sink = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) sink += codec->EstimateInnerProduct(x.data(), &codes[i * codec->code_size()]);
    benchmark::DoNotOptimize(sink);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(CodecKindName(codec->kind()));
}

void CodecArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"prod", "dim", "bits"});
  for (int kind : {0, 1}) {
    for (int dim : {128, 768, 1536}) b->Args({kind, dim, 4});
  }
}

BENCHMARK(BM_Encode)->Apply(CodecArgs);
BENCHMARK(BM_Decode)->Apply(CodecArgs);
BENCHMARK(BM_EstimateReference)->Apply(CodecArgs);

}  // namespace
}  // namespace turboquant
