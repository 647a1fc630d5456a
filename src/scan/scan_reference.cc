// Scalar paths: the float reference used by tests, the generic path for wide
// indices, and the scalar statement of the nibble-table kernel.
#include <algorithm>
#include <vector>

#include "src/scan/scan_kernels.h"
#include "src/scan/top_candidates.h"

namespace turboquant::internal {

void ScanForCandidatesReference(const ScanLayout& layout, const Codec& codec, const float* queries,
                                size_t num_queries, ScanObjective objective, RowMask allowed,
                                size_t keep, std::vector<std::vector<Candidate>>* best) {
  if (best->size() < num_queries) best->resize(num_queries);
  std::vector<uint8_t> code(codec.code_size());
  Codec::PreparedQuery prepared;
  for (size_t q = 0; q < num_queries; ++q) {
    codec.PrepareQuery(queries + q * codec.dim(), &prepared);
    TopCandidates top(&(*best)[q], keep);
    for (size_t row = 0; row < layout.size(); ++row) {
      if (!allowed.Row(row)) continue;
      layout.ExtractCode(row, code.data());
      const float ip = codec.EstimateInnerProduct(prepared, code.data());
      top.Push(ObjectiveScore(objective, ip, codec.StoredNorm(code.data())),
               static_cast<uint32_t>(row));
    }
  }
}

void ScanBlocksGeneric(const ScanLayout::Data& layout, const QueryTables::Data& tables,
                       size_t block_begin, size_t block_end, RowMask allowed, size_t keep,
                       std::vector<Candidate>* best) {
  const Codec& codec = *tables.codec;
  std::vector<uint8_t> code(codec.code_size());
  std::vector<TopCandidates> top;
  top.reserve(tables.num_queries);
  for (size_t q = 0; q < tables.num_queries; ++q) top.emplace_back(&best[q], keep);
  for (size_t b = block_begin; b < block_end; ++b) {
    const uint32_t bits = allowed.Block(b) & BlockValidBits(layout.size, b);
    for (size_t v = 0; v < kBlockVectors; ++v) {
      if (!((bits >> v) & 1)) continue;
      const size_t row = b * kBlockVectors + v;
      ExtractCodeFromData(layout, row, code.data());
      const float norm = codec.StoredNorm(code.data());
      for (size_t q = 0; q < tables.num_queries; ++q) {
        const float ip = codec.EstimateInnerProduct(tables.prepared[q], code.data());
        top[q].Push(ObjectiveScore(tables.objective, ip, norm), static_cast<uint32_t>(row));
      }
    }
  }
}

void ScanBlocksLutScalar(const ScanLayout::Data& layout, const QueryTables::Data& tables,
                         size_t block_begin, size_t block_end, RowMask allowed,
                         size_t keep, std::vector<Candidate>* best, bool int8_mse) {
  const CodeShape& s = layout.shape;
  for (size_t q = 0; q < tables.num_queries; ++q) {
    TopCandidates top(&best[q], keep);
    const uint8_t* table = tables.tables_of(q);
    const QueryScale& scale = tables.scales[q];
    for (size_t b = block_begin; b < block_end; ++b) {
      const uint32_t bits = allowed.Block(b) & BlockValidBits(layout.size, b);
      if (bits == 0) continue;
      const uint8_t* block = layout.block(b);
      for (size_t p = 0; p < kBlockVectors; ++p) {
        const size_t v = VectorAtPosition(p);
        // Sum the u8 table entries of each section's nibbles (for dense
        // 3-bit codes, of the bytes E the kernel rebuilds: scan_layout.h);
        // with int8_mse only the sign section's, which alone has tables then.
        uint32_t sums[2] = {0, 0};
        for (size_t g = int8_mse ? s.mse.groups : 0; g < s.groups; ++g) {
          const uint8_t byte =
              g < s.mse.groups
                  ? MseGroupByte(s, block, g, v)
                  : block[s.mse.block_bytes + BlockByteOffset(g - s.mse.groups, v)];
          const uint8_t* pair_tables = table + 64 * (g / 2) + 16 * (g % 2);
          sums[g >= s.mse.groups] += pair_tables[byte & 0x0F] + pair_tables[32 + (byte >> 4)];
        }
        float mse_delta = scale.mse_delta, mse_offset = scale.mse_offset;
        if (int8_mse) {
          // One index per nibble: nibble j = 2 g + high holds dim NibbleDim(j).
          const int8_t* q8 = tables.int8_query_of(q);
          int32_t dot = 0;
          for (size_t j = 0; j < 2 * s.mse.groups; ++j) {
            const uint8_t byte = MseGroupByte(s, block, j / 2, v);
            const unsigned nibble = j % 2 ? byte >> 4 : byte & 0x0F;
            dot += int32_t(tables.int8_codebook.biased[NibbleIndex(s, j, nibble)]) * q8[j];
          }
          sums[0] = static_cast<uint32_t>(dot - scale.int8_bias);
          mse_delta = scale.int8_delta;
          mse_offset = 0.0f;
        }
        const size_t at = b * kBlockVectors + p;
        const float norm = layout.norms[at];
        float ip = static_cast<float>(static_cast<int32_t>(sums[0])) * mse_delta + mse_offset;
        if (s.signs) {
          const float qjl = static_cast<float>(sums[1]) * scale.sign_delta + scale.sign_offset;
          ip = norm * (ip + layout.scalars[at] * qjl);
        } else {
          ip = ip * layout.scalars[at];
        }
        const float score = ObjectiveScore(tables.objective, ip, norm);
        if (score > top.threshold() && ((bits >> v) & 1)) {
          top.Push(score, static_cast<uint32_t>(b * kBlockVectors + v));
        }
      }
    }
  }
}

}  // namespace turboquant::internal
