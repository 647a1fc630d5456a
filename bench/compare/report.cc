#include "bench/compare/report.h"

#include <cmath>

namespace tqbench {
namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string Cell(double v, const char* format) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

}  // namespace

void PrintTableHeader(const RunInfo& info, FILE* out) {
  std::fprintf(out, "data set: %s (%lld base x %d, %lld queries, metric %s, k=%d)\n",
               info.dataset.c_str(), static_cast<long long>(info.num_base), info.dim,
               static_cast<long long>(info.num_queries), BenchMetricName(info.metric), info.k);
  std::fprintf(out, "ground truth: %s\n", info.ground_truth.c_str());
  std::fprintf(out, "FAISS: %s\n", info.faiss_build.c_str());
  std::fprintf(out, "environment: %s\n", info.environment.c_str());
  std::fprintf(out, "single-core memory read bandwidth: %.2f GB/s; all threads = %d\n",
               info.memory_bandwidth / 1e9, info.threads);
  std::fprintf(out, "%-17s %-34s %4s %6s %8s %8s %7s %7s %9s %9s %9s %7s\n", "method", "params",
               "bits", "rerank", "B/vec", "build_s", "R@10", "R1@10", "lat_ms", "qps_1t",
               "qps_all", "bw_frac");
  std::fflush(out);
}

void PrintTableRow(const Row& row, FILE* out) {
  std::fprintf(out, "%-17s %-34s %4s %6d %8s %8s %7s %7s %9s %9s %9s %7s\n", row.method.c_str(),
               row.params.c_str(), Cell(row.bits_per_dim, "%.0f").c_str(), row.rerank,
               Cell(row.bytes_per_vector, "%.1f").c_str(), Cell(row.build_s, "%.2f").c_str(),
               Cell(row.recall_at_k, "%.4f").c_str(), Cell(row.recall_1_at_k, "%.4f").c_str(),
               Cell(row.latency_ms, "%.3f").c_str(), Cell(row.qps_1t, "%.1f").c_str(),
               Cell(row.qps_all, "%.1f").c_str(), Cell(row.bandwidth_fraction, "%.3f").c_str());
  std::fflush(out);
}

void PrintJson(const RunInfo& info, const std::vector<Row>& rows, FILE* out) {
  std::fprintf(out, "[");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::string s = i == 0 ? "\n  {" : ",\n  {";
    s += "\"method\": " + JsonString(r.method);
    s += ", \"params\": " + JsonString(r.params);
    s += ", \"rerank\": " + std::to_string(r.rerank);
    s += ", \"bits_per_dim\": " + JsonNumber(r.bits_per_dim);
    s += ", \"bytes_per_vector\": " + JsonNumber(r.bytes_per_vector);
    s += ", \"build_s\": " + JsonNumber(r.build_s);
    s += ", \"recall_at_10\": " + JsonNumber(r.recall_at_k);
    s += ", \"recall_1_at_10\": " + JsonNumber(r.recall_1_at_k);
    s += ", \"latency_ms\": " + JsonNumber(r.latency_ms);
    s += ", \"qps_1t\": " + JsonNumber(r.qps_1t);
    s += ", \"qps_all\": " + JsonNumber(r.qps_all);
    s += ", \"bandwidth_fraction\": " + JsonNumber(r.bandwidth_fraction);
    if (!r.build_options.empty()) s += ", \"build_options\": " + JsonString(r.build_options);
    s += ", \"latency_queries\": " + std::to_string(r.latency_queries);
    s += ", \"qps_1t_queries\": " + std::to_string(r.qps_1t_queries);
    s += ", \"dataset\": " + JsonString(info.dataset);
    s += ", \"metric\": " + JsonString(BenchMetricName(info.metric));
    s += ", \"n\": " + std::to_string(info.num_base);
    s += ", \"dim\": " + std::to_string(info.dim);
    s += ", \"queries\": " + std::to_string(info.num_queries);
    s += ", \"k\": " + std::to_string(info.k);
    s += ", \"threads\": " + std::to_string(info.threads);
    s += ", \"memory_bandwidth_gbs\": " + JsonNumber(info.memory_bandwidth / 1e9);
    s += ", \"environment\": " + JsonString(info.environment);
    s += "}";
    std::fputs(s.c_str(), out);
  }
  std::fprintf(out, "\n]\n");
  std::fflush(out);
}

}  // namespace tqbench
