// TurboQuantIndex: creating and opening indexes, and the public methods,
// which forward to TurboQuantIndex::Impl (src/index/index_impl.h).
#include "turboquant/index.h"

#include <filesystem>

#include "absl/strings/str_format.h"
#include "src/index/index_impl.h"
#include "storage/file_util.h"

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
  CodecOptions codec_options;
  codec_options.dim = options.dim;
  codec_options.bits = options.bits;
  codec_options.seed = options.seed;
  return Codec::Create(options.codec, codec_options);
}

}  // namespace

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Create(const IndexOptions& options) {
  auto codec = MakeCodec(options);
  if (!codec.ok()) return codec.status();
  return std::unique_ptr<TurboQuantIndex>(new TurboQuantIndex(
      std::make_unique<Impl>(options, CollectionOptions(), std::move(*codec), "", nullptr)));
}

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Create(const std::string& dir,
                                                                   const IndexOptions& options,
                                                                   const CollectionOptions& tuning) {
  if (auto codec = MakeCodec(options); !codec.ok()) return codec.status();
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return absl::AlreadyExistsError(absl::StrFormat(
        "%s: directory exists and is not empty; open it, or choose a new directory", dir));
  }
  // Built under a temporary name and renamed into place, so that a crash
  // never leaves a half-created collection under the real name.
  fs::path target = fs::absolute(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "dir/"
  const fs::path staging = target.string() + ".creating";
  fs::remove_all(staging, error);
  fs::create_directories(staging / "segments", error);
  if (error) return absl::InternalError(absl::StrFormat("%s: %s", staging.string(), error.message()));
  if (auto catalog = storage::Catalog::Create((staging / "catalog").string(), options); !catalog.ok()) {
    return catalog.status();
  }
  fs::remove(target, error);  // an empty directory may stand in the way
  fs::rename(staging, target, error);
  if (error) return absl::InternalError(absl::StrFormat("%s: %s", dir, error.message()));
  if (Status s = storage::SyncDirectory(target.parent_path().string()); !s.ok()) return s;
  return Open(dir, tuning);
}

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Open(const std::string& dir,
                                                                 const CollectionOptions& tuning) {
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
  auto catalog = storage::Catalog::Open((fs::path(dir) / "catalog").string(), &contents);
  if (!catalog.ok()) return catalog.status();
  auto codec = MakeCodec(contents.options);
  if (!codec.ok()) return absl::DataLossError(absl::StrFormat("%s/catalog: %s", dir, codec.status().message()));
  auto impl = std::make_unique<Impl>(contents.options, tuning, std::move(*codec), dir,
                                     std::move(*catalog));
  if (Status s = impl->Recover(contents); !s.ok()) return s;
  return std::unique_ptr<TurboQuantIndex>(new TurboQuantIndex(std::move(impl)));
}

TurboQuantIndex::TurboQuantIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TurboQuantIndex::~TurboQuantIndex() = default;

Status TurboQuantIndex::Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors) {
  return impl_->Add(ids, vectors);
}
StatusOr<int64_t> TurboQuantIndex::Remove(absl::Span<const int64_t> ids) { return impl_->Remove(ids); }
StatusOr<std::vector<float>> TurboQuantIndex::Get(int64_t id) const { return impl_->Get(id); }
StatusOr<SearchResults> TurboQuantIndex::Search(absl::Span<const float> queries,
                                                const SearchParams& params) const {
  return impl_->Search(queries, params);
}
bool TurboQuantIndex::Contains(int64_t id) const { return impl_->Contains(id); }
int64_t TurboQuantIndex::size() const { return impl_->size(); }
const IndexOptions& TurboQuantIndex::options() const { return impl_->options(); }
IndexStats TurboQuantIndex::Stats() const { return impl_->Stats(); }
Status TurboQuantIndex::Flush() { return impl_->Flush(); }
Status TurboQuantIndex::Compact() { return impl_->Compact(); }
Status TurboQuantIndex::Verify() const { return impl_->Verify(); }
Status TurboQuantIndex::Backup(const std::string& dir) const { return impl_->Backup(dir); }

}  // namespace turboquant
