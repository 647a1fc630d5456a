// TurboQuantIndex: creating and opening indexes, and the public methods,
// which forward to TurboQuantIndex::Impl (src/index/index_impl.h).
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/index/index_impl.h"
#include "storage/file_system.h"
#include "turboquant/index.h"

namespace turboquant {

namespace fs = std::filesystem;

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kInnerProduct:
      return "ip";
    case Metric::kCosine:
      return "cosine";
    case Metric::kL2:
      return "l2";
  }
  return "unknown";
}

StatusOr<Metric> ParseMetric(const std::string& name) {
  if (name == "ip") return Metric::kInnerProduct;
  if (name == "cosine") return Metric::kCosine;
  if (name == "l2") return Metric::kL2;
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown metric '%s': expected 'ip', 'cosine' or 'l2'", name));
}

namespace {

StatusOr<std::unique_ptr<Codec>> MakeCodec(const IndexOptions& options) {
  if (options.metric != Metric::kInnerProduct && options.metric != Metric::kCosine &&
      options.metric != Metric::kL2) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown metric %d", static_cast<int>(options.metric)));
  }
  CodecOptions codec_options;
  codec_options.dim = options.dim;
  codec_options.bits = options.bits;
  codec_options.seed = options.seed;
  return Codec::Create(options.codec, codec_options);
}

}  // namespace

namespace {

Status CheckPath(const std::string& dir) {
  return dir.empty() ? absl::InvalidArgumentError("the collection directory path is empty")
                     : absl::OkStatus();
}

Status CheckOpenOptions(const OpenOptions& open) {
  if (open.seal_rows < 1 || open.max_segment_rows < 1 || open.max_segment_rows > kMaxSegmentRows) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "seal_rows must be positive and max_segment_rows between 1 and %d (got %d and %d)",
        kMaxSegmentRows, open.seal_rows, open.max_segment_rows));
  }
  return absl::OkStatus();
}

// The exceptions that a public call must turn into a Status: allocation
// failures (sizes are checked first, but memory can still run out) and
// anything a standard library call throws.
template <typename Call>
auto WithoutExceptions(Call call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& e) {
    return internal::ExceptionStatus(e);
  }
}

}  // namespace

Status internal::ExceptionStatus(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return absl::ResourceExhaustedError("out of memory");
  }
  return absl::InternalError(absl::StrCat("unexpected exception: ", e.what()));
}

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Create(const IndexOptions& options) {
  // Starting the background thread can throw std::system_error.
  return WithoutExceptions([&]() -> StatusOr<std::unique_ptr<TurboQuantIndex>> {
    auto codec = MakeCodec(options);
    if (!codec.ok()) return codec.status();
    auto impl = std::make_unique<Impl>(options, OpenOptions(), std::move(*codec), "", nullptr);
    impl->StartBackgroundWork();
    return std::unique_ptr<TurboQuantIndex>(new TurboQuantIndex(std::move(impl)));
  });
}

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Create(const std::string& dir,
                                                                   const IndexOptions& options,
                                                                   const OpenOptions& open) {
  return WithoutExceptions([&]() -> StatusOr<std::unique_ptr<TurboQuantIndex>> {
    if (Status s = CheckPath(dir); !s.ok()) return s;
    if (auto codec = MakeCodec(options); !codec.ok()) return codec.status();
    if (Status s = CheckOpenOptions(open); !s.ok()) return s;
    if (open.read_only) return absl::InvalidArgumentError("Create cannot be read-only");
    std::error_code error;
    if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "%s: directory exists and is not empty; open it, or choose a new directory", dir));
    }
    // Built under a temporary name and renamed into place, so that a crash
    // never leaves a half-created collection under the real name.
    const storage::FileSystemPtr file_system = storage::OrDefault(open.file_system);
    fs::path target = fs::absolute(dir).lexically_normal();
    if (target.filename().empty()) target = target.parent_path();  // "dir/"
    const std::string staging = target.string() + ".creating";
    if (Status s = storage::RemoveTree(*file_system, staging); !s.ok()) return s;
    Status status = storage::CreateDirectory(*file_system, staging);
    if (status.ok()) status = storage::CreateDirectory(*file_system, staging + "/segments");
    if (status.ok()) {
      status = storage::Catalog::Create(staging + "/catalog", options, file_system).status();
    }
    // The staging directory's entries must be durable before the rename
    // makes them reachable under the real name.
    if (status.ok()) status = storage::SyncDirectory(*file_system, staging);
    if (status.ok() && fs::exists(target, error)) {
      status = storage::RemoveTree(*file_system, target.string());  // an empty directory
    }
    if (status.ok()) status = storage::RenamePath(*file_system, staging, target.string());
    if (status.ok()) status = storage::SyncDirectory(*file_system, target.parent_path().string());
    if (!status.ok()) return status;
    return Open(dir, open);
  });
}

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Open(const std::string& dir,
                                                                 const OpenOptions& open) {
  return WithoutExceptions([&]() -> StatusOr<std::unique_ptr<TurboQuantIndex>> {
    if (Status s = CheckPath(dir); !s.ok()) return s;
    if (Status s = CheckOpenOptions(open); !s.ok()) return s;
    std::error_code error;
    if (!fs::is_directory(dir, error)) {
      return absl::NotFoundError(absl::StrFormat("%s: no such directory", dir));
    }
    if (!fs::is_directory(fs::path(dir) / "catalog", error) ||
        !fs::is_directory(fs::path(dir) / "segments", error)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: not a TurboQuant collection (expected catalog/ and segments/ inside)", dir));
    }
    storage::CatalogContents contents;
    auto catalog =
        storage::Catalog::Open((fs::path(dir) / "catalog").string(),
                               storage::OrDefault(open.file_system), open.read_only, &contents);
    if (!catalog.ok()) return catalog.status();
    auto codec = MakeCodec(contents.options);
    if (!codec.ok()) {
      return absl::DataLossError(absl::StrFormat("%s/catalog: %s", dir, codec.status().message()));
    }
    auto impl =
        std::make_unique<Impl>(contents.options, open, std::move(*codec), dir, std::move(*catalog));
    if (Status s = impl->Recover(contents); !s.ok()) return s;
    if (!open.read_only) impl->StartBackgroundWork();
    return std::unique_ptr<TurboQuantIndex>(new TurboQuantIndex(std::move(impl)));
  });
}

TurboQuantIndex::TurboQuantIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TurboQuantIndex::~TurboQuantIndex() = default;

Status TurboQuantIndex::Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors) {
  return WithoutExceptions([&] { return impl_->Add(ids, vectors); });
}
StatusOr<int64_t> TurboQuantIndex::AddWithNewIds(absl::Span<const float> vectors) {
  return WithoutExceptions([&] { return impl_->AddWithNewIds(vectors); });
}
StatusOr<BulkLoadResult> TurboQuantIndex::BulkLoad(RowSource& source,
                                                   const BulkLoadOptions& options) {
  return WithoutExceptions([&] { return impl_->BulkLoad(source, options); });
}
StatusOr<int64_t> TurboQuantIndex::Remove(absl::Span<const int64_t> ids) {
  return WithoutExceptions([&] { return impl_->Remove(ids); });
}
StatusOr<std::vector<float>> TurboQuantIndex::Get(int64_t id) const {
  return WithoutExceptions([&] { return impl_->Get(id); });
}
StatusOr<SearchResults> TurboQuantIndex::Search(absl::Span<const float> queries,
                                                const SearchParams& params) const {
  return WithoutExceptions([&] { return impl_->Search(queries, params); });
}
bool TurboQuantIndex::Contains(int64_t id) const { return impl_->Contains(id); }
int64_t TurboQuantIndex::size() const { return impl_->size(); }
const IndexOptions& TurboQuantIndex::options() const { return impl_->options(); }
IndexStats TurboQuantIndex::Stats() const { return impl_->Stats(); }
Status TurboQuantIndex::Flush() {
  return WithoutExceptions([&] { return impl_->Flush(); });
}
Status TurboQuantIndex::Compact() {
  return WithoutExceptions([&] { return impl_->Compact(); });
}
Status TurboQuantIndex::WaitForBackgroundWork() {
  return WithoutExceptions([&] { return impl_->WaitForBackgroundWork(); });
}
Status TurboQuantIndex::Verify() const {
  return WithoutExceptions([&] { return impl_->Verify(); });
}
Status TurboQuantIndex::Backup(const std::string& dir) const {
  return WithoutExceptions([&] { return impl_->Backup(dir); });
}
Status TurboQuantIndex::Refresh() {
  return WithoutExceptions([&] { return impl_->Refresh(); });
}

}  // namespace turboquant
