// turboquant.Index: TurboQuantIndex (include/turboquant/index.h) on numpy
// arrays. The GIL is released during every call that does real work (add,
// bulk_load, search, remove, get, flush, compact, verify, backup, refresh,
// create, open), so
// several Python threads can search one index at once.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "python/bindings.h"
#include "turboquant/index.h"

namespace turboquant::python {
namespace {

std::string PathString(const py::object& path) {
  return py::str(py::module_::import("os").attr("fspath")(path)).cast<std::string>();
}

IndexOptions MakeOptions(int dim, int bits, const std::string& metric,
                         const std::optional<std::string>& codec, std::optional<uint64_t> seed,
                         bool keep_vectors) {
  IndexOptions options;
  options.dim = dim;
  options.bits = bits;
  StatusOr<Metric> parsed_metric = ParseMetric(metric);
  ThrowIfError(parsed_metric.status());
  options.metric = *parsed_metric;
  if (codec.has_value()) {
    StatusOr<CodecKind> kind = ParseCodecKind(*codec);
    ThrowIfError(kind.status());
    options.codec = *kind;
  }
  if (seed.has_value()) options.seed = *seed;
  options.keep_vectors = keep_vectors;
  return options;
}

OpenOptions MakeTuning(std::optional<int64_t> seal_rows) {
  OpenOptions tuning;
  if (seal_rows.has_value()) {
    if (*seal_rows <= 0) throw py::value_error("seal_rows must be positive");
    tuning.seal_rows = *seal_rows;
  }
  return tuning;
}

struct SearchOutput {
  py::array_t<int64_t> ids;
  py::array_t<float> scores;
  double seconds = 0;  // the C++ Search call alone
};

class PyIndex {
 public:
  PyIndex(std::unique_ptr<TurboQuantIndex> index, std::string path, bool read_only = false)
      : index_(std::move(index)), path_(std::move(path)), read_only_(read_only) {}

  // The index for one call, checked open; the caller may then drop the GIL
  // (close() only drops this object's reference).
  std::shared_ptr<TurboQuantIndex> Get() const {
    if (!index_) throw py::value_error("the index is closed");
    return index_;
  }

  void Close() { index_.reset(); }
  bool closed() const { return index_ == nullptr; }
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }

  py::array_t<int64_t> Add(const py::handle& vectors, const py::handle& ids_object) {
    std::shared_ptr<TurboQuantIndex> index = Get();
    FloatMatrix rows = FloatArray(vectors, "vectors", {-1, index->options().dim});
    if (ids_object.is_none()) return AddWithNewIds(*index, rows);
    const int64_t n = rows.shape[0];
    py::array_t<int64_t, py::array::c_style> ids = IdArray(ids_object, "ids");
    if (ids.size() != n) {
      throw py::value_error(
          absl::StrFormat("ids has %d entries but vectors has %d rows", ids.size(), n));
    }
    Status status;
    {
      py::gil_scoped_release release;
      status = index->Add(absl::Span<const int64_t>(ids.data(), static_cast<size_t>(n)),
                          rows.span());
    }
    ThrowIfError(status);
    return ids;
  }

  // TurboQuantIndex::BulkLoad over the arrays, which are not copied.
  py::dict BulkLoad(const py::handle& vectors, const py::handle& ids_object, int threads) {
    std::shared_ptr<TurboQuantIndex> index = Get();
    if (threads < 0) throw py::value_error("threads must not be negative");
    FloatMatrix rows = FloatArray(vectors, "vectors", {-1, index->options().dim});
    const int64_t n = rows.shape[0];
    py::array_t<int64_t, py::array::c_style> ids;
    if (ids_object.is_none()) {
      if (index->size() != 0) {
        throw py::value_error(
            "ids=None numbers the rows 0..n-1, which needs an empty index; pass ids");
      }
      std::vector<int64_t> numbers(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) numbers[i] = i;
      ids = OwningArray(std::move(numbers), {n});
    } else {
      ids = IdArray(ids_object, "ids");
      if (ids.size() != n) {
        throw py::value_error(
            absl::StrFormat("ids has %d entries but vectors has %d rows", ids.size(), n));
      }
    }
    StatusOr<BulkLoadResult> result;
    {
      py::gil_scoped_release release;
      std::unique_ptr<RowSource> source =
          RowSourceFromSpans(absl::Span<const int64_t>(ids.data(), static_cast<size_t>(n)),
                             rows.span(), index->options().dim);
      result = index->BulkLoad(*source, {.threads = threads});
    }
    ThrowIfError(result.status());
    py::dict d;
    d["rows"] = result->rows;
    d["replaced"] = result->replaced;
    d["segments"] = result->segments;
    return d;
  }

  SearchOutput Search(const py::handle& queries, int k, int rerank, int rescore, int threads,
                      const py::handle& filter) {
    std::shared_ptr<TurboQuantIndex> index = Get();
    if (k <= 0) throw py::value_error(absl::StrCat("k must be positive, got ", k));
    FloatMatrix rows = FloatArray(queries, "queries", {-1, index->options().dim});
    const int64_t nq = rows.shape[0];
    SearchParams params;
    params.k = k;
    params.rerank = rerank;
    params.rescore = rescore;
    params.threads = threads;
    params.filter = SearchFilter(filter);
    SearchOutput output;
    if (nq == 0) {
      // Nothing to search (the library rejects an empty batch): validate the
      // parameters the same way, then return the "no result" rows.
      if (rerank < 0 || rescore < 0 || threads < 0) {
        throw py::value_error("rescore, rerank and threads must not be negative");
      }
      std::vector<int64_t> ids(static_cast<size_t>(nq) * k, -1);
      std::vector<float> scores(ids.size(), std::numeric_limits<float>::quiet_NaN());
      output.ids = OwningArray(std::move(ids), {nq, k});
      output.scores = OwningArray(std::move(scores), {nq, k});
      return output;
    }
    StatusOr<SearchResults> results;
    {
      py::gil_scoped_release release;
      const auto start = std::chrono::steady_clock::now();
      results = index->Search(rows.span(), params);
      output.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    ThrowIfError(results.status());
    const size_t slots = static_cast<size_t>(nq) * k;
    if (results->ids.empty() && results->scores.empty()) {
      // An empty index answers with no rows at all; Python gets the
      // documented "no result" slots instead.
      results->ids.assign(slots, -1);
      results->scores.assign(slots, std::numeric_limits<float>::quiet_NaN());
    }
    if (results->ids.size() != slots || results->scores.size() != slots) {
      throw std::runtime_error(absl::StrFormat(
          "internal error: search returned %d ids and %d scores for %d queries x k %d",
          results->ids.size(), results->scores.size(), nq, k));
    }
    output.ids = OwningArray(std::move(results->ids), {nq, k});
    output.scores = OwningArray(std::move(results->scores), {nq, k});
    return output;
  }

  int64_t Remove(const py::handle& ids_object) {
    std::shared_ptr<TurboQuantIndex> index = Get();
    py::array_t<int64_t, py::array::c_style> ids = IdArray(ids_object, "ids");
    StatusOr<int64_t> removed;
    {
      py::gil_scoped_release release;
      removed = index->Remove(absl::Span<const int64_t>(ids.data(), ids.size()));
    }
    ThrowIfError(removed.status());
    return *removed;
  }

  py::array_t<float> GetVector(int64_t id) {
    std::shared_ptr<TurboQuantIndex> index = Get();
    StatusOr<std::vector<float>> vector;
    {
      py::gil_scoped_release release;
      vector = index->Get(id);
    }
    ThrowIfError(vector.status(), NotFoundAs::kKeyError);
    const py::ssize_t dim = static_cast<py::ssize_t>(vector->size());
    return OwningArray(std::move(*vector), {dim});
  }

  template <typename Call>
  void Run(Call call) {
    std::shared_ptr<TurboQuantIndex> index = Get();
    Status status;
    {
      py::gil_scoped_release release;
      status = call(*index);
    }
    ThrowIfError(status);
  }

  py::dict Stats() {
    std::shared_ptr<TurboQuantIndex> index = Get();
    IndexStats stats;
    {
      py::gil_scoped_release release;
      stats = index->Stats();
    }
    const IndexOptions& options = index->options();
    py::dict d;
    d["count"] = stats.count;
    d["deleted"] = stats.deleted;
    d["unsealed"] = stats.unsealed;
    d["segments"] = stats.segments;
    d["code_bytes"] = stats.code_bytes;
    d["vector_bytes"] = stats.vector_bytes;
    d["bytes_per_vector"] = stats.bytes_per_vector;
    d["bytes_on_disk"] = stats.bytes_on_disk;
    d["dim"] = options.dim;
    d["bits"] = options.bits;
    d["metric"] = MetricName(options.metric);
    d["codec"] = CodecKindName(options.codec);
    d["keep_vectors"] = options.keep_vectors;
    d["seed"] = options.seed;
    d["path"] = path_.empty() ? py::none() : py::cast(path_);
    return d;
  }

  std::string Repr() const {
    if (!index_) return "<turboquant.Index (closed)>";
    const IndexOptions& o = index_->options();
    return absl::StrFormat("<turboquant.Index dim=%d bits=%d metric='%s' codec='%s'%s size=%d%s%s>",
                           o.dim, o.bits, MetricName(o.metric), CodecKindName(o.codec),
                           o.keep_vectors ? " keep_vectors=True" : "", index_->size(),
                           path_.empty() ? "" : absl::StrCat(" path='", path_, "'"),
                           read_only_ ? " read_only=True" : "");
  }

 private:
  // The library picks the ids under its writer lock, so threads (and other
  // objects on the same collection) adding at once never get the same ids.
  static py::array_t<int64_t> AddWithNewIds(TurboQuantIndex& index, const FloatMatrix& rows) {
    StatusOr<int64_t> first;
    {
      py::gil_scoped_release release;
      first = index.AddWithNewIds(rows.span());
    }
    ThrowIfError(first.status());
    std::vector<int64_t> ids(static_cast<size_t>(rows.shape[0]));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = *first + static_cast<int64_t>(i);
    return OwningArray(std::move(ids), {rows.shape[0]});
  }

  std::shared_ptr<TurboQuantIndex> index_;
  std::string path_;  // empty: in memory
  bool read_only_;
};

py::tuple SearchTuple(SearchOutput output) {
  return py::make_tuple(std::move(output.ids), std::move(output.scores));
}

std::unique_ptr<PyIndex> CreateDurable(const py::object& path_object, int dim, int bits,
                                       const std::string& metric,
                                       const std::optional<std::string>& codec,
                                       std::optional<uint64_t> seed, bool keep_vectors,
                                       std::optional<int64_t> seal_rows, const py::handle& data,
                                       const py::handle& ids) {
  const std::string path = PathString(path_object);
  const IndexOptions options = MakeOptions(dim, bits, metric, codec, seed, keep_vectors);
  const OpenOptions tuning = MakeTuning(seal_rows);
  if (data.is_none() && !ids.is_none()) throw py::value_error("ids given without data");
  StatusOr<std::unique_ptr<TurboQuantIndex>> index;
  {
    py::gil_scoped_release release;
    index = TurboQuantIndex::Create(path, options, tuning);
  }
  ThrowIfError(index.status());
  auto created = std::make_unique<PyIndex>(std::move(*index), path);
  if (!data.is_none()) created->BulkLoad(data, ids, 0);
  return created;
}

std::unique_ptr<PyIndex> OpenDurable(const py::object& path_object, bool read_only,
                                     std::optional<int64_t> seal_rows) {
  const std::string path = PathString(path_object);
  OpenOptions tuning = MakeTuning(seal_rows);
  tuning.read_only = read_only;
  StatusOr<std::unique_ptr<TurboQuantIndex>> index;
  {
    py::gil_scoped_release release;
    index = TurboQuantIndex::Open(path, tuning);
  }
  ThrowIfError(index.status());
  return std::make_unique<PyIndex>(std::move(*index), path, read_only);
}

}  // namespace

void RegisterIndex(py::module_& m) {
  py::class_<PyIndex>(m, "Index", R"doc(
Approximate top-k search over TurboQuant codes; nothing to train.

Index(dim, bits=4, metric="ip", codec=None, seed=None, keep_vectors=False)
    An in-memory index. metric: "ip" (larger inner product is better),
    "cosine" (vectors and queries normalized) or "l2" (scores are squared
    distances, smaller is better). codec: "mse" or "prod"; None picks the
    library's default (turboquant.DEFAULT_CODEC). keep_vectors also stores the
    float32 vectors so that search(rerank=...) can re-rank exactly.
Index.create(path, dim, ...) / Index.open(path, read_only=False)
    A durable collection in a directory (RocksDB catalog + segment files).

Vectors are (n, dim) arrays: float32 C-contiguous is used in place; float64
is converted (a copy); other dtypes raise TypeError, non-contiguous arrays
ValueError. Ids are 64-bit integers >= 0.
)doc")
      .def(py::init([](int dim, int bits, const std::string& metric,
                       const std::optional<std::string>& codec, std::optional<uint64_t> seed,
                       bool keep_vectors) {
             const IndexOptions options = MakeOptions(dim, bits, metric, codec, seed, keep_vectors);
             StatusOr<std::unique_ptr<TurboQuantIndex>> index = TurboQuantIndex::Create(options);
             ThrowIfError(index.status());
             return std::make_unique<PyIndex>(std::move(*index), "");
           }),
           py::arg("dim"), py::arg("bits") = 4, py::arg("metric") = "ip",
           py::arg("codec") = py::none(), py::kw_only(), py::arg("seed") = py::none(),
           py::arg("keep_vectors") = false)
      .def_static("create", &CreateDurable, py::arg("path"), py::arg("dim"), py::arg("bits") = 4,
                  py::arg("metric") = "ip", py::arg("codec") = py::none(), py::kw_only(),
                  py::arg("seed") = py::none(), py::arg("keep_vectors") = false,
                  py::arg("seal_rows") = py::none(), py::arg("data") = py::none(),
                  py::arg("ids") = py::none(),
                  "Creates a durable collection in directory `path` (which must not exist or be "
                  "empty). seal_rows: unsealed rows are written to a segment file once there "
                  "are this many. data: (n, dim) vectors to bulk load at once (see bulk_load), "
                  "with ids (default: 0..n-1); if that load fails, the collection stays, empty.")
      .def_static("open", &OpenDurable, py::arg("path"), py::kw_only(),
                  py::arg("read_only") = false, py::arg("seal_rows") = py::none(),
                  R"doc(Opens a durable collection, replaying acknowledged writes not yet sealed.
FileNotFoundError if there is none. One writer at a time: while another
process or Index holds the collection open for writing, this raises
ValueError ("open for writing elsewhere").

read_only=True writes nothing into the directory and works beside that
writer (and any number of other readers): searches see the collection as of
the open, or of the last refresh(); add/remove/flush/compact raise
ValueError.)doc")
      .def("add", &PyIndex::Add, py::arg("vectors"), py::arg("ids") = py::none(),
           R"doc(Adds (n, dim) vectors; returns their ids (int64 array of n).

ids: n distinct integers >= 0; an id already present is replaced (upsert).
Default (None): n new consecutive ids starting one past the largest id in the
index (0 when empty), chosen atomically with the write, so concurrent adds
(other threads, other objects on the collection) never share or replace
ids. Durable collections return after the write is synced. The GIL is
released.)doc")
      .def("bulk_load", &PyIndex::BulkLoad, py::arg("vectors"), py::arg("ids") = py::none(),
           py::kw_only(), py::arg("threads") = 0,
           R"doc(Adds (n, dim) vectors the fast way: encoded on `threads` threads (0 = all
cores) straight into new segment files, committed at once, so that a crash
leaves the index as it was or with every row. Returns a dict: rows,
replaced (ids that were present: upserted), segments (files written).

ids: n distinct integers >= 0 (a repeated id is a ValueError naming it).
Default (None): 0..n-1, for an empty index only. The GIL is released.)doc")
      .def(
          "search",
          [](PyIndex& self, const py::handle& queries, int k, int rerank, int rescore, int threads,
             const py::handle& filter) {
            return SearchTuple(self.Search(queries, k, rerank, rescore, threads, filter));
          },
          py::arg("queries"), py::arg("k"), py::kw_only(), py::arg("rerank") = 0,
          py::arg("rescore") = 0, py::arg("threads") = 1, py::arg("filter") = py::none(),
          R"doc(Top-k of every query: returns (ids, scores), int64 and float32 arrays of
shape (nq, k), best first. Scores are inner products ("ip"), cosines
("cosine") or squared distances ("l2"). Slots without a result hold id -1 and
score NaN.

rescore: candidates kept from the SIMD scan and re-scored with the codec's
float estimator (0 = max(4k, 64)). rerank: with keep_vectors, re-rank this
many of the best with the original vectors. threads: for this call (0 = all
cores). filter: None (no filter), a turboquant.Filter (allow, exclude or
bitmap), or a sequence/array of ids to allow only those (an empty one
returns nothing, so every slot holds -1). The GIL is released.)doc")
      .def(
          "_search_timed",
          [](PyIndex& self, const py::handle& queries, int k, int rerank, int rescore,
             int threads) {
            SearchOutput output = self.Search(queries, k, rerank, rescore, threads, py::none());
            const double seconds = output.seconds;
            return py::make_tuple(std::move(output.ids), std::move(output.scores), seconds);
          },
          py::arg("queries"), py::arg("k"), py::kw_only(), py::arg("rerank") = 0,
          py::arg("rescore") = 0, py::arg("threads") = 1,
          "search() that also returns the wall time (seconds) of the C++ Search call alone, "
          "for measuring the binding's overhead (bench/python_overhead.py).")
      .def("remove", &PyIndex::Remove, py::arg("ids"),
           "Deletes the ids that are present; returns how many were.")
      .def("get", &PyIndex::GetVector, py::arg("id"),
           "The stored vector of an id (float32, (dim,)): the original with keep_vectors, else "
           "the codec's reconstruction. KeyError if absent.")
      .def("__contains__", [](PyIndex& self, int64_t id) { return self.Get()->Contains(id); })
      .def("__len__", [](PyIndex& self) { return self.Get()->size(); })
      .def("flush", [](PyIndex& self) { self.Run([](TurboQuantIndex& i) { return i.Flush(); }); },
           "Seals every unsealed row into a segment file (durable collections).")
      .def("compact",
           [](PyIndex& self) { self.Run([](TurboQuantIndex& i) { return i.Compact(); }); },
           "Rewrites segments without their deleted rows.")
      .def("verify", [](PyIndex& self) { self.Run([](TurboQuantIndex& i) { return i.Verify(); }); },
           "Checks every checksum; raises turboquant.DataLossError naming a damaged file.")
      .def(
          "backup",
          [](PyIndex& self, const py::object& path) {
            const std::string dir = PathString(path);
            self.Run([&](TurboQuantIndex& i) { return i.Backup(dir); });
          },
          py::arg("path"), "A consistent copy of a durable collection in directory `path`.")
      .def("refresh",
           [](PyIndex& self) { self.Run([](TurboQuantIndex& i) { return i.Refresh(); }); },
           "Read-only opens: catches up with the writing process (its adds, removes, seals "
           "and compactions). No effect on other indexes, which are always current.")
      .def("stats", &PyIndex::Stats, "Counts and sizes as a dict (see IndexStats).")
      .def("close", &PyIndex::Close,
           "Releases the index (a durable collection's files and lock) once running calls "
           "finish; later calls raise ValueError.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyIndex& self, py::args) { self.Close(); })
      .def_property_readonly("closed", &PyIndex::closed)
      .def_property_readonly("read_only", &PyIndex::read_only)
      .def_property_readonly("dim", [](PyIndex& self) { return self.Get()->options().dim; })
      .def_property_readonly("bits", [](PyIndex& self) { return self.Get()->options().bits; })
      .def_property_readonly("metric",
                             [](PyIndex& self) { return MetricName(self.Get()->options().metric); })
      .def_property_readonly(
          "codec", [](PyIndex& self) { return CodecKindName(self.Get()->options().codec); })
      .def_property_readonly("keep_vectors",
                             [](PyIndex& self) { return self.Get()->options().keep_vectors; })
      .def_property_readonly("path",
                             [](PyIndex& self) -> py::object {
                               if (self.path().empty()) return py::none();
                               return py::str(self.path());
                             })
      .def("__repr__", &PyIndex::Repr);
}

}  // namespace turboquant::python
