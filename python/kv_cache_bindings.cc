// turboquant.KvCacheConfig / KvCache / exact_attention
// (include/turboquant/kv_cache.h) on numpy arrays of shape
//   keys, values: (tokens, num_kv_heads, head_dim)
//   queries, outputs: (query_tokens, num_query_heads, head_dim)
// The C++ cache forbids Append concurrently with Attention; the binding
// releases the GIL and serializes them with a reader-writer lock instead.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "python/bindings.h"
#include "turboquant/kv_cache.h"

namespace turboquant::python {
namespace {

struct PyKvCache {
  std::unique_ptr<KvCache> cache;
  mutable std::shared_mutex mutex;  // exclusive: append; shared: the const calls
};

std::vector<py::ssize_t> KvShape(const KvCacheConfig& c) { return {-1, c.num_kv_heads, c.head_dim}; }
std::vector<py::ssize_t> QueryShape(const KvCacheConfig& c) {
  return {-1, c.num_query_heads, c.head_dim};
}

KvCacheConfig ConfigFrom(const py::object& config, const py::kwargs& kwargs) {
  py::object type = py::module_::import("turboquant").attr("KvCacheConfig");
  if (config.is_none()) return type(**kwargs).cast<KvCacheConfig>();
  if (kwargs.size() != 0) {
    throw py::type_error("pass either a KvCacheConfig or keyword arguments, not both");
  }
  if (!py::isinstance(config, type)) throw py::type_error("config must be a turboquant.KvCacheConfig");
  return config.cast<KvCacheConfig>();
}

std::string ConfigRepr(const KvCacheConfig& c) {
  return absl::StrFormat(
      "KvCacheConfig(head_dim=%d, num_kv_heads=%d, num_query_heads=%d, key_bits=%g, "
      "value_bits=%g, residual_window=%d, softmax_scale=%g, seed=%d)",
      c.head_dim, c.num_kv_heads, c.num_query_heads, c.key_bits, c.value_bits, c.residual_window,
      c.softmax_scale, c.seed);
}

}  // namespace

void RegisterKvCache(py::module_& m) {
  const KvCacheConfig defaults;
  py::class_<KvCacheConfig>(m, "KvCacheConfig", R"doc(
KV-cache shape and compression: head_dim (multiple of 64, 64..512),
num_kv_heads, num_query_heads (a multiple of num_kv_heads), key_bits and
value_bits (2, 2.5, 3, 3.5 or 4), residual_window (newest tokens kept in
float32), softmax_scale (0 = 1/sqrt(head_dim)), seed. Checked by validate()
and when a KvCache is made.)doc")
      .def(py::init([](int head_dim, int num_kv_heads, int num_query_heads, double key_bits,
                       double value_bits, int residual_window, double softmax_scale,
                       uint64_t seed) {
             KvCacheConfig c;
             c.head_dim = head_dim;
             c.num_kv_heads = num_kv_heads;
             c.num_query_heads = num_query_heads;
             c.key_bits = key_bits;
             c.value_bits = value_bits;
             c.residual_window = residual_window;
             c.softmax_scale = softmax_scale;
             c.seed = seed;
             return c;
           }),
           py::kw_only(), py::arg("head_dim") = defaults.head_dim,
           py::arg("num_kv_heads") = defaults.num_kv_heads,
           py::arg("num_query_heads") = defaults.num_query_heads,
           py::arg("key_bits") = defaults.key_bits, py::arg("value_bits") = defaults.value_bits,
           py::arg("residual_window") = defaults.residual_window,
           py::arg("softmax_scale") = defaults.softmax_scale, py::arg("seed") = defaults.seed)
      .def_readwrite("head_dim", &KvCacheConfig::head_dim)
      .def_readwrite("num_kv_heads", &KvCacheConfig::num_kv_heads)
      .def_readwrite("num_query_heads", &KvCacheConfig::num_query_heads)
      .def_readwrite("key_bits", &KvCacheConfig::key_bits)
      .def_readwrite("value_bits", &KvCacheConfig::value_bits)
      .def_readwrite("residual_window", &KvCacheConfig::residual_window)
      .def_readwrite("softmax_scale", &KvCacheConfig::softmax_scale)
      .def_readwrite("seed", &KvCacheConfig::seed)
      .def("validate", [](const KvCacheConfig& c) { ThrowIfError(c.Validate()); },
           "Raises ValueError naming the offending field.")
      .def("fp16_bytes_per_token", &KvCacheConfig::fp16_bytes_per_token,
           "Bytes of float16 keys + values per token over all KV heads.")
      .def("__repr__", &ConfigRepr);

  py::class_<PyKvCache>(m, "KvCache", R"doc(
One layer's compressed KV cache: KvCache(config) or KvCache(**config_kwargs).
Keys are ProdCodec codes, values MseCodec codes; attention runs on the codes.
Arrays: keys/values (tokens, num_kv_heads, head_dim), queries/outputs
(query_tokens, num_query_heads, head_dim), float32 (float64 is converted).)doc")
      .def(py::init([](const py::object& config, const py::kwargs& kwargs) {
             const KvCacheConfig c = ConfigFrom(config, kwargs);
             StatusOr<std::unique_ptr<KvCache>> cache = KvCache::Create(c);
             ThrowIfError(cache.status());
             auto result = std::make_unique<PyKvCache>();
             result->cache = std::move(*cache);
             return result;
           }),
           py::arg("config") = py::none())
      .def(
          "append",
          [](PyKvCache& self, const py::handle& keys, const py::handle& values) {
            const KvCacheConfig& c = self.cache->config();
            FloatMatrix k = FloatArray(keys, "keys", KvShape(c));
            FloatMatrix v = FloatArray(values, "values", KvShape(c));
            if (k.shape[0] != v.shape[0]) {
              throw py::value_error(absl::StrFormat("keys hold %d tokens but values hold %d",
                                                    k.shape[0], v.shape[0]));
            }
            Status status;
            {
              py::gil_scoped_release release;
              std::unique_lock<std::shared_mutex> lock(self.mutex);
              status = self.cache->Append(k.span(), v.span());
            }
            ThrowIfError(status);
          },
          py::arg("keys"), py::arg("values"),
          "Appends tokens; non-finite components raise ValueError naming token, head and "
          "channel, and nothing is appended.")
      .def(
          "attention",
          [](const PyKvCache& self, const py::handle& queries) {
            const KvCacheConfig& c = self.cache->config();
            FloatMatrix q = FloatArray(queries, "queries", QueryShape(c));
            py::array_t<float> out(q.shape);
            Status status;
            {
              py::gil_scoped_release release;
              std::shared_lock<std::shared_mutex> lock(self.mutex);
              status = self.cache->Attention(q.span(),
                                             absl::Span<float>(out.mutable_data(), out.size()));
            }
            ThrowIfError(status);
            return out;
          },
          py::arg("queries"),
          "softmax(q . K^T * scale) . V over every cached token, computed on the codes; returns "
          "an array shaped like queries.")
      .def(
          "key_scores",
          [](const PyKvCache& self, const py::handle& queries) {
            const KvCacheConfig& c = self.cache->config();
            FloatMatrix q = FloatArray(queries, "queries", QueryShape(c));
            py::ssize_t tokens;
            py::array_t<float> scores;
            Status status;
            {
              // The token count must not change between sizing and filling.
              std::shared_lock<std::shared_mutex> lock(self.mutex);
              tokens = self.cache->num_tokens();
              scores = py::array_t<float>({q.shape[0], q.shape[1], tokens});
              float* dst = scores.mutable_data();
              const size_t size = scores.size();
              py::gil_scoped_release release;
              status = self.cache->KeyScores(q.span(), absl::Span<float>(dst, size));
            }
            ThrowIfError(status);
            return scores;
          },
          py::arg("queries"),
          "The estimated <q, k> of every cached token (no softmax scale): (query_tokens, "
          "num_query_heads, num_tokens).")
      .def(
          "decompress",
          [](const PyKvCache& self) {
            const KvCacheConfig& c = self.cache->config();
            std::vector<float> keys, values;
            Status status;
            {
              py::gil_scoped_release release;
              std::shared_lock<std::shared_mutex> lock(self.mutex);
              status = self.cache->Decompress(&keys, &values);
            }
            ThrowIfError(status);
            const py::ssize_t tokens =
                static_cast<py::ssize_t>(keys.size() / (size_t(c.num_kv_heads) * c.head_dim));
            return py::make_tuple(OwningArray(std::move(keys), {tokens, c.num_kv_heads, c.head_dim}),
                                  OwningArray(std::move(values), {tokens, c.num_kv_heads, c.head_dim}));
          },
          "(keys, values) as the cache represents them, each (tokens, num_kv_heads, head_dim).")
      .def_property_readonly("config", [](const PyKvCache& self) { return self.cache->config(); })
      .def_property_readonly("num_tokens", [](const PyKvCache& self) { return self.cache->num_tokens(); })
      .def_property_readonly("num_compressed_tokens",
                             [](const PyKvCache& self) { return self.cache->num_compressed_tokens(); })
      .def("__len__", [](const PyKvCache& self) { return self.cache->num_tokens(); })
      .def("bytes_used",
           [](const PyKvCache& self) {
             std::shared_lock<std::shared_mutex> lock(self.mutex);
             return self.cache->bytes_used();
           },
           "Everything held: codes, scalars, the float window, channel maps.")
      .def("bytes_per_token", [](const PyKvCache& self) { return self.cache->bytes_per_token(); },
           "Bytes per compressed token over all KV heads, keys + values.")
      .def("key_bytes_per_token_per_head",
           [](const PyKvCache& self) { return self.cache->key_bytes_per_token_per_head(); })
      .def("value_bytes_per_token_per_head",
           [](const PyKvCache& self) { return self.cache->value_bytes_per_token_per_head(); });

  m.def(
      "exact_attention",
      [](const KvCacheConfig& c, const py::handle& keys, const py::handle& values,
         const py::handle& queries) {
        ThrowIfError(c.Validate());
        FloatMatrix k = FloatArray(keys, "keys", KvShape(c));
        FloatMatrix v = FloatArray(values, "values", KvShape(c));
        FloatMatrix q = FloatArray(queries, "queries", QueryShape(c));
        if (k.shape[0] != v.shape[0]) {
          throw py::value_error(absl::StrFormat("keys hold %d tokens but values hold %d",
                                                k.shape[0], v.shape[0]));
        }
        py::array_t<float> out(q.shape);
        Status status;
        {
          py::gil_scoped_release release;
          status = ExactAttention(c, k.span(), v.span(), q.span(),
                                  absl::Span<float>(out.mutable_data(), out.size()));
        }
        ThrowIfError(status);
        return out;
      },
      py::arg("config"), py::arg("keys"), py::arg("values"), py::arg("queries"),
      "Exact float32 attention over uncompressed keys and values (the reference).");
}

}  // namespace turboquant::python
