// Encodes and decodes one vector with the installed codec library alone.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "turboquant/codec.h"

int main() {
  auto codec = turboquant::MseCodec::Create(/*dim=*/64, /*bits=*/4);
  if (!codec.ok()) return 1;
  std::vector<float> vector(64), decoded(64);
  for (int i = 0; i < 64; ++i) vector[i] = std::sin(0.1f * i);
  std::vector<uint8_t> code((*codec)->code_size());
  if (!(*codec)->Encode(vector, absl::MakeSpan(code)).ok()) return 1;
  if (!(*codec)->Decode(code, absl::MakeSpan(decoded)).ok()) return 1;
  double error = 0, norm = 0;
  for (int i = 0; i < 64; ++i) {
    error += (vector[i] - decoded[i]) * (vector[i] - decoded[i]);
    norm += vector[i] * vector[i];
  }
  std::printf("codec_app: %zu-byte code, relative error %.3f\n", code.size(), error / norm);
  return error / norm < 0.05 ? 0 : 1;
}
