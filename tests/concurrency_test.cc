// Writers, readers, backups and Verify at once on one durable collection
// (issue 10): every read must see each write acknowledged before it started
// and never a removed or half-written row. `make test` runs this under
// ThreadSanitizer (build-tsan), on a loaded 2-core machine, so every loop is
// bounded by counts of operations, never by time.
//
// The writers record what they have acknowledged in per-id atomics, and a
// global clock orders removes: a remove takes a clock value once Remove has
// returned, a search reads the clock before it starts, so a search that
// returns an id removed at or before its start value saw a remove that had
// already been acknowledged.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

constexpr int kDim = 16;
constexpr int kSealRows = 40;  // seals every few writes

// Writers: each owns ids WriterId(w, 0..kIdsPerWriter). Every fourth id is
// "doomed": added once, removed once, never written again (so a removed id
// seen by a search is a stale read, never a re-add). The others are "kept":
// never removed, upserted with new versions.
constexpr int kWriters = 3;
constexpr int kRounds = 24;
constexpr int kFreshPerRound = 12;
constexpr int kUpsertsPerRound = 4;
constexpr int kRemovesPerRound = 3;
constexpr int kIdsPerWriter = kRounds * kFreshPerRound;
constexpr int64_t kWriterIdStride = int64_t{1} << 20;

// Anchors: a tight cluster far from every other vector, never removed, so
// each anchor's top kAnchors is exactly the anchors in a fixed order. Their
// ids are the largest, so AddWithNewIds hands out ids above them and never
// one a writer owns.
constexpr int kAnchors = 8;
constexpr int64_t kFirstAnchorId = int64_t{1} << 40;
constexpr float kAnchorCenter = 100.0f;  // other vectors lie within norm 4 of 0
constexpr float kAnchorRadius = 20.0f;

constexpr int kReaders = 3;
constexpr int kMinReaderRounds = 60;
constexpr int kBackups = 3;
constexpr int kAutoIdThreads = 2;
constexpr int kAutoIdCalls = 12;
constexpr int kAutoIdBatch = 5;

int64_t WriterId(int writer, int index) { return (writer + 1) * kWriterIdStride + index; }
bool Doomed(int index) { return index % 4 == 0; }

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Version `version` of the vector of `id`: components in [-1, 1).
std::vector<float> VectorFor(int64_t id, int version) {
  uint64_t state = static_cast<uint64_t>(id) * 1000003 + static_cast<uint64_t>(version);
  std::vector<float> vector(kDim);
  for (float& v : vector) v = static_cast<float>(SplitMix(&state) >> 40) / (1 << 23) - 1.0f;
  return vector;
}

// What the writers did to one id, as the readers may observe it.
struct IdState {
  std::atomic<int> acked{0};    // the latest version whose Add returned OK
  std::atomic<int> writing{0};  // the version being written (>= acked)
  std::atomic<bool> removing{false};
  std::atomic<uint64_t> removed_at{0};  // clock value once Remove returned; 0 = not removed
};

// Broken expectations of one kind, counted, with the first few described.
class Violations {
 public:
  void Add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (++count_ <= 10) examples_ += "\n  " + what;
  }
  int count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  std::string examples() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return examples_;
  }

 private:
  mutable std::mutex mutex_;
  int count_ = 0;
  std::string examples_;
};

#define EXPECT_NONE(violations) EXPECT_EQ((violations).count(), 0) << (violations).examples()

std::string Str(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += std::to_string(id) + " ";
  return out;
}

class Workload {
 public:
  Workload(TurboQuantIndex* index, std::string root)
      : index_(*index), root_(std::move(root)), states_(kWriters * kIdsPerWriter) {
    const std::vector<float> directions = testing::UnitVectors(kAnchors, kDim, 7);
    for (int a = 0; a < kAnchors; ++a) {
      std::vector<float> anchor(directions.begin() + a * kDim, directions.begin() + (a + 1) * kDim);
      for (float& v : anchor) v *= kAnchorRadius;
      anchor[0] += kAnchorCenter;
      anchors_.push_back(anchor);
      anchor_ids_.push_back(kFirstAnchorId + a);
    }
    for (int a = 0; a < kAnchors; ++a) anchor_order_.push_back(ExactAnchorOrder(a));
  }

  Status AddAnchors() {
    std::vector<float> flat;
    for (const auto& anchor : anchors_) flat.insert(flat.end(), anchor.begin(), anchor.end());
    return index_.Add(anchor_ids_, flat);
  }

  const std::vector<float>& anchor(int a) const { return anchors_[a]; }
  const std::vector<int64_t>& anchor_order(int a) const { return anchor_order_[a]; }

  void RunWriter(int w);
  void RunReader(int r);
  void RunBackups();
  void RunAutoIds(int t);
  void FinishWriters() { writers_done_ = true; }
  int64_t searches_after_a_remove() const { return searches_after_a_remove_; }
  int backups_checked() const { return backups_checked_; }

  // With every thread joined: exactly the acknowledged state.
  void ExpectFinalState(const TurboQuantIndex& index, Violations* wrong) const;
  // The ids AddWithNewIds handed out are unique, above every id added with
  // an explicit id, and hold what was added.
  void ExpectAutoIdsUnique(const TurboQuantIndex& index, Violations* wrong) const;

  Violations writes, searches, duplicates, anchors, removed_seen, unknown_ids, filtered, gets,
      contains, backups;

 private:
  IdState& State(int w, int i) { return states_[w * kIdsPerWriter + i]; }
  const IdState& State(int w, int i) const { return states_[w * kIdsPerWriter + i]; }
  const IdState* StateOf(int64_t id) const;
  std::vector<int64_t> ExactAnchorOrder(int a) const;

  void WriteRound(int w, int round, std::mt19937_64* rng, std::vector<int>* doomed);
  void RemoveRound(int w, std::vector<int>* doomed);
  void Maintain(int w, int round);

  // Runs a search and checks what holds for every search; returns its ids
  // (empty on failure).
  std::vector<int64_t> CheckedSearch(const std::vector<float>& query, const SearchParams& params);
  void CheckAnchorSearch(int a, const Filter& filter, std::vector<int64_t> expected);
  void CheckNoiseSearch(int round, std::mt19937_64* rng);
  void CheckGet(int w, int i);
  void CheckContains(int w, int i);
  bool RandomWrittenId(std::mt19937_64* rng, int* w, int* i) const;

  // What the writers had acknowledged for one id at some moment.
  struct Acknowledged {
    int w, i, acked;
    bool removed;
  };
  std::vector<Acknowledged> AcknowledgedNow() const;
  void CheckBackup(int b);
  void CheckBackupHolds(const TurboQuantIndex& copy, const Acknowledged& x);

  TurboQuantIndex& index_;
  const std::string root_;
  std::vector<std::vector<float>> anchors_;
  std::vector<int64_t> anchor_ids_;
  std::vector<std::vector<int64_t>> anchor_order_;

  std::vector<IdState> states_;
  std::atomic<int> published_[kWriters] = {};  // ids [0, published) of each writer are acked
  std::atomic<uint64_t> clock_{0};
  std::atomic<int> rounds_done_{0};
  std::atomic<bool> writers_done_{false};
  std::atomic<int64_t> searches_after_a_remove_{0};
  std::atomic<int> backups_checked_{0};

  std::mutex auto_mutex_;
  std::vector<std::pair<int64_t, int>> auto_ranges_;  // (first id, thread * kAutoIdCalls + call)
};

std::vector<int64_t> Workload::ExactAnchorOrder(int a) const {
  std::vector<std::pair<double, int64_t>> scored;
  for (int b = 0; b < kAnchors; ++b) {
    double d = 0;
    for (int j = 0; j < kDim; ++j) d += std::pow(double(anchors_[a][j]) - anchors_[b][j], 2);
    scored.push_back({d, anchor_ids_[b]});
  }
  std::sort(scored.begin(), scored.end());
  std::vector<int64_t> order;
  for (const auto& s : scored) order.push_back(s.second);
  return order;
}

const IdState* Workload::StateOf(int64_t id) const {
  const int64_t w = id / kWriterIdStride - 1;
  const int64_t i = id % kWriterIdStride;
  if (id < 0 || w < 0 || w >= kWriters || i >= kIdsPerWriter) return nullptr;
  return &State(static_cast<int>(w), static_cast<int>(i));
}

// --- Writers -----------------------------------------------------------------

void Workload::RunWriter(int w) {
  std::mt19937_64 rng(100 + w);
  std::vector<int> doomed;  // added and not yet removed
  for (int round = 0; round < kRounds; ++round) {
    WriteRound(w, round, &rng, &doomed);
    RemoveRound(w, &doomed);
    Maintain(w, round);
    ++rounds_done_;
  }
}

// One Add: this round's fresh ids (version 1) and upserts of kept ids from
// earlier rounds (their next version).
void Workload::WriteRound(int w, int round, std::mt19937_64* rng, std::vector<int>* doomed) {
  std::vector<int> indexes;
  for (int i = 0; i < kFreshPerRound; ++i) indexes.push_back(round * kFreshPerRound + i);
  std::set<int> upserts;
  for (int tries = 0; round > 0 && upserts.size() < kUpsertsPerRound && tries < 100; ++tries) {
    const int i = static_cast<int>((*rng)() % (round * kFreshPerRound));
    if (!Doomed(i)) upserts.insert(i);
  }
  indexes.insert(indexes.end(), upserts.begin(), upserts.end());
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  for (int i : indexes) {
    IdState& s = State(w, i);
    const int version = s.acked + 1;
    s.writing = version;
    ids.push_back(WriterId(w, i));
    const std::vector<float> v = VectorFor(ids.back(), version);
    vectors.insert(vectors.end(), v.begin(), v.end());
  }
  if (Status status = index_.Add(ids, vectors); !status.ok()) {
    writes.Add("Add: " + status.ToString());
    return;
  }
  for (int i : indexes) State(w, i).acked = State(w, i).writing.load();
  published_[w] = (round + 1) * kFreshPerRound;
  for (int i = 0; i < kFreshPerRound; ++i) {
    if (Doomed(round * kFreshPerRound + i)) doomed->push_back(round * kFreshPerRound + i);
  }
}

// Removes the oldest doomed ids, then stamps them with the clock.
void Workload::RemoveRound(int w, std::vector<int>* doomed) {
  const size_t n = std::min<size_t>(kRemovesPerRound, doomed->size());
  if (n == 0) return;
  const std::vector<int> chosen(doomed->begin(), doomed->begin() + n);
  doomed->erase(doomed->begin(), doomed->begin() + n);
  std::vector<int64_t> ids;
  for (int i : chosen) {
    State(w, i).removing = true;
    ids.push_back(WriterId(w, i));
  }
  auto removed = index_.Remove(ids);
  if (!removed.ok() || *removed != static_cast<int64_t>(n)) {
    writes.Add(
        "Remove of " + Str(ids) + ": " +
        (removed.ok() ? std::to_string(*removed) + " removed" : removed.status().ToString()));
    return;
  }
  const uint64_t now = ++clock_;
  for (int i : chosen) State(w, i).removed_at = now;
}

// Every round one writer compacts or seals, so the segments under the
// readers keep changing.
void Workload::Maintain(int w, int round) {
  const int turn = round % (2 * kWriters);
  if (turn == 2 * w) {
    if (Status s = index_.Compact(); !s.ok()) writes.Add("Compact: " + s.ToString());
  } else if (turn == 2 * w + 1) {
    if (Status s = index_.Flush(); !s.ok()) writes.Add("Flush: " + s.ToString());
  }
}

// --- Readers -----------------------------------------------------------------

std::vector<int64_t> Workload::CheckedSearch(const std::vector<float>& query,
                                             const SearchParams& params) {
  const uint64_t start = clock_;
  auto results = index_.Search(query, params);
  if (!results.ok()) {
    searches.Add(results.status().ToString());
    return {};
  }
  if (start > 0) ++searches_after_a_remove_;
  std::set<int64_t> seen;
  for (int64_t id : results->ids) {
    if (id == -1) continue;
    if (!seen.insert(id).second)
      duplicates.Add("id " + std::to_string(id) + " in " + Str(results->ids));
    if (id >= kFirstAnchorId) continue;  // an anchor or an automatic id
    const IdState* s = StateOf(id);
    if (s == nullptr || s->writing == 0) {
      unknown_ids.Add("id " + std::to_string(id) + " was never written");
    } else if (const uint64_t removed = s->removed_at; removed != 0 && removed <= start) {
      removed_seen.Add("id " + std::to_string(id) + " removed at " + std::to_string(removed) +
                       ", search started at " + std::to_string(start));
    }
  }
  return results->ids;
}

// The top kAnchors of an anchor is the anchors, nearest first, whatever
// the writers are doing; `expected` lists those the filter lets through.
void Workload::CheckAnchorSearch(int a, const Filter& filter, std::vector<int64_t> expected) {
  SearchParams params;
  params.k = static_cast<int>(expected.size());
  params.rerank = 32;
  params.threads = 1 + a % 2;
  params.filter = filter;
  const std::vector<int64_t> ids = CheckedSearch(anchors_[a], params);
  if (!ids.empty() && ids != expected) {
    anchors.Add("anchor " + std::to_string(a) + ": got " + Str(ids) + "expected " + Str(expected));
  }
}

// A query among the writers' vectors, unfiltered or with a filter over
// writer ids, whose results must respect the filter.
void Workload::CheckNoiseSearch(int round, std::mt19937_64* rng) {
  std::vector<int64_t> listed;
  for (int j = 0; j < 40; ++j) {
    listed.push_back(WriterId(static_cast<int>((*rng)() % kWriters),
                              static_cast<int>((*rng)() % kIdsPerWriter)));
  }
  SearchParams params;
  params.k = kAnchors;  // the index never holds fewer
  const bool allow = round % 3 == 1, exclude = round % 3 == 2;
  if (allow) params.filter = Filter::AllowOnly(listed);
  if (exclude) params.filter = Filter::Exclude(listed);
  for (int64_t id : CheckedSearch(VectorFor(-1 - round, 0), params)) {
    if (id == -1) continue;
    const bool is_listed = std::find(listed.begin(), listed.end(), id) != listed.end();
    if ((allow && !is_listed) || (exclude && is_listed)) {
      filtered.Add("id " + std::to_string(id) + (allow ? " not allowed" : " excluded"));
    }
  }
}

bool Workload::RandomWrittenId(std::mt19937_64* rng, int* w, int* i) const {
  *w = static_cast<int>((*rng)() % kWriters);
  const int published = published_[*w];
  if (published == 0) return false;
  *i = static_cast<int>((*rng)() % published);
  return true;
}

// Get returns the version acknowledged before it started, or one written
// meanwhile; a removed id is gone, and only a remove in flight may make a
// not-yet-removed id disappear.
void Workload::CheckGet(int w, int i) {
  const IdState& s = State(w, i);
  const int64_t id = WriterId(w, i);
  const int acked_before = s.acked;
  const bool removed_before = s.removed_at != 0;
  auto got = index_.Get(id);
  const int writing_after = s.writing;
  const bool removing_after = s.removing;
  const std::string what = "Get(" + std::to_string(id) + ")";
  if (removed_before || !got.ok()) {
    if (got.ok() || got.status().code() != absl::StatusCode::kNotFound || !removing_after) {
      gets.Add(what + " after removed=" + std::to_string(removed_before) + ": " +
               got.status().ToString());
    }
    return;
  }
  for (int version = acked_before; version <= writing_after; ++version) {
    if (*got == VectorFor(id, version)) return;
  }
  gets.Add(what + " matches no version in " + std::to_string(acked_before) + ".." +
           std::to_string(writing_after));
}

void Workload::CheckContains(int w, int i) {
  const IdState& s = State(w, i);
  const bool removed_before = s.removed_at != 0;
  const bool present = index_.Contains(WriterId(w, i));
  const bool removing_after = s.removing;
  if (present ? removed_before : !removing_after) {
    contains.Add("Contains(" + std::to_string(WriterId(w, i)) + ") = " + std::to_string(present) +
                 " with removed=" + std::to_string(removed_before));
  }
}

void Workload::RunReader(int r) {
  std::mt19937_64 rng(200 + r);
  for (int round = 0; round < kMinReaderRounds || !writers_done_; ++round) {
    const int a = static_cast<int>(rng() % kAnchors);
    const std::vector<int64_t>& order = anchor_order_[a];
    switch ((round + r) % 4) {
      case 0:
        CheckAnchorSearch(a, Filter(), order);
        break;
      case 1: {
        std::vector<int64_t> allow = anchor_ids_;
        allow.push_back(WriterId(0, 1));
        CheckAnchorSearch(a, Filter::AllowOnly(allow), order);
        break;
      }
      case 2: {
        const int64_t dropped = anchor_ids_[(a + 1) % kAnchors];
        std::vector<int64_t> expected = order;
        expected.erase(std::find(expected.begin(), expected.end(), dropped));
        CheckAnchorSearch(a, Filter::Exclude({dropped}), expected);
        break;
      }
      case 3:
        CheckNoiseSearch(round, &rng);
        break;
    }
    int w, i;
    if (RandomWrittenId(&rng, &w, &i)) CheckGet(w, i);
    if (RandomWrittenId(&rng, &w, &i)) CheckContains(w, i);
  }
}

// --- Backups and automatic ids ----------------------------------------------

void Workload::RunBackups() {
  for (int b = 0; b < kBackups; ++b) {
    // Spread the backups over the writers' run; waiting on their progress
    // rather than on a clock keeps this bounded by operation counts.
    const int target = (b + 1) * kWriters * kRounds / (kBackups + 1);
    while (rounds_done_ < target && !writers_done_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (Status s = index_.Verify(); !s.ok()) backups.Add("Verify: " + s.ToString());
    CheckBackup(b);
  }
}

std::vector<Workload::Acknowledged> Workload::AcknowledgedNow() const {
  std::vector<Acknowledged> now;
  for (int w = 0; w < kWriters; ++w) {
    const int published = published_[w];
    for (int i = 0; i < published; ++i) {
      now.push_back({w, i, State(w, i).acked, State(w, i).removed_at != 0});
    }
  }
  return now;
}

// A backup opens and verifies, and holds every write acknowledged before it
// began and no id whose remove was.
void Workload::CheckBackup(int b) {
  const std::vector<Acknowledged> before = AcknowledgedNow();
  const std::string dir = root_ + "/backup" + std::to_string(b);
  if (Status s = index_.Backup(dir); !s.ok()) {
    backups.Add("Backup: " + s.ToString());
    return;
  }
  auto copy = TurboQuantIndex::Open(dir);
  if (!copy.ok()) {
    backups.Add("Open backup: " + copy.status().ToString());
    return;
  }
  if (Status s = (*copy)->Verify(); !s.ok()) backups.Add("Verify backup: " + s.ToString());
  for (int64_t id : anchor_ids_) {
    if (!(*copy)->Contains(id)) backups.Add("backup lacks anchor " + std::to_string(id));
  }
  for (const Acknowledged& x : before) CheckBackupHolds(**copy, x);
  ++backups_checked_;
}

// Writes after `x` was taken may or may not be in the backup: a newer
// version, or the absence of a doomed id whose remove has started since.
void Workload::CheckBackupHolds(const TurboQuantIndex& copy, const Acknowledged& x) {
  const IdState& s = State(x.w, x.i);
  const int64_t id = WriterId(x.w, x.i);
  auto got = copy.Get(id);
  if (x.removed) {
    if (got.ok()) backups.Add("backup holds removed id " + std::to_string(id));
    return;
  }
  if (!got.ok() && Doomed(x.i) && s.removing) return;
  for (int version = x.acked; got.ok() && version <= s.writing; ++version) {
    if (*got == VectorFor(id, version)) return;
  }
  backups.Add("backup: id " + std::to_string(id) + " lacks version " + std::to_string(x.acked) +
              " or a later one");
}

void Workload::RunAutoIds(int t) {
  for (int call = 0; call < kAutoIdCalls; ++call) {
    const int key = t * kAutoIdCalls + call;
    std::vector<float> vectors;
    for (int j = 0; j < kAutoIdBatch; ++j) {
      const std::vector<float> v = VectorFor(-1000 - key, j);
      vectors.insert(vectors.end(), v.begin(), v.end());
    }
    auto first = index_.AddWithNewIds(vectors);
    if (!first.ok()) {
      writes.Add("AddWithNewIds: " + first.status().ToString());
      continue;
    }
    std::lock_guard<std::mutex> lock(auto_mutex_);
    auto_ranges_.push_back({*first, key});
  }
}

// --- Final checks ------------------------------------------------------------

void Workload::ExpectFinalState(const TurboQuantIndex& index, Violations* wrong) const {
  int64_t live = kAnchors + static_cast<int64_t>(auto_ranges_.size()) * kAutoIdBatch;
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < published_[w]; ++i) {
      const int64_t id = WriterId(w, i);
      auto got = index.Get(id);
      if (State(w, i).removed_at != 0) {
        if (got.ok()) wrong->Add("removed id " + std::to_string(id) + " is back");
        continue;
      }
      ++live;
      if (!got.ok() || *got != VectorFor(id, State(w, i).acked)) {
        wrong->Add("id " + std::to_string(id) + " lacks version " +
                   std::to_string(State(w, i).acked));
      }
    }
  }
  if (index.size() != live)
    wrong->Add("size " + std::to_string(index.size()) + " != " + std::to_string(live));
  if (Status s = index.Verify(); !s.ok()) wrong->Add("Verify: " + s.ToString());
}

void Workload::ExpectAutoIdsUnique(const TurboQuantIndex& index, Violations* wrong) const {
  std::vector<std::pair<int64_t, int>> ranges = auto_ranges_;
  std::sort(ranges.begin(), ranges.end());
  for (size_t r = 0; r < ranges.size(); ++r) {
    const auto [first, key] = ranges[r];
    if (first < kFirstAnchorId + kAnchors)
      wrong->Add("automatic id " + std::to_string(first) + " below the anchors");
    if (r > 0 && ranges[r - 1].first + kAutoIdBatch > first) {
      wrong->Add("automatic ids from " + std::to_string(ranges[r - 1].first) + " and " +
                 std::to_string(first) + " overlap");
    }
    for (int j = 0; j < kAutoIdBatch; ++j) {
      auto got = index.Get(first + j);
      if (!got.ok() || *got != VectorFor(-1000 - key, j)) {
        wrong->Add("automatic id " + std::to_string(first + j) + " does not hold its vector");
      }
    }
  }
}

TEST(ConcurrencyTest, ReadersWritersAndBackupsAgreeOnEveryAcknowledgedWrite) {
  const std::string root = testing::MakeTempDir("concurrency");
  auto created = TurboQuantIndex::Create(
      root + "/c", {.dim = kDim, .bits = 4, .metric = Metric::kL2, .keep_vectors = true},
      {.seal_rows = kSealRows});
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<TurboQuantIndex> index = std::move(*created);
  Workload work(index.get(), root);
  ASSERT_TRUE(work.AddAnchors().ok());
  for (int a = 0; a < kAnchors; ++a) {  // the premise of the anchor checks
    SearchParams params;
    params.k = kAnchors;
    params.rerank = 32;
    auto results = index->Search(work.anchor(a), params);
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->ids, work.anchor_order(a));
  }

  std::vector<std::thread> writers, others;
  for (int w = 0; w < kWriters; ++w) writers.emplace_back([&, w] { work.RunWriter(w); });
  for (int t = 0; t < kAutoIdThreads; ++t) writers.emplace_back([&, t] { work.RunAutoIds(t); });
  for (int r = 0; r < kReaders; ++r) others.emplace_back([&, r] { work.RunReader(r); });
  others.emplace_back([&] { work.RunBackups(); });
  for (std::thread& t : writers) t.join();
  work.FinishWriters();
  for (std::thread& t : others) t.join();

  EXPECT_NONE(work.writes);
  EXPECT_NONE(work.searches);
  EXPECT_NONE(work.duplicates);
  EXPECT_NONE(work.anchors);
  EXPECT_NONE(work.removed_seen);
  EXPECT_NONE(work.unknown_ids);
  EXPECT_NONE(work.filtered);
  EXPECT_NONE(work.gets);
  EXPECT_NONE(work.contains);
  EXPECT_NONE(work.backups);
  EXPECT_GT(work.searches_after_a_remove(), 0) << "no search ran after a remove";
  EXPECT_EQ(work.backups_checked(), kBackups);

  Violations final_state, auto_ids;
  work.ExpectFinalState(*index, &final_state);
  work.ExpectAutoIdsUnique(*index, &auto_ids);
  EXPECT_NONE(final_state);
  EXPECT_NONE(auto_ids);
  // Everything acknowledged is durable: the reopened collection agrees.
  index.reset();
  auto reopened = TurboQuantIndex::Open(root + "/c");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  Violations after_reopen;
  work.ExpectFinalState(**reopened, &after_reopen);
  EXPECT_NONE(after_reopen);
}

// Two threads taking automatic ids while a third compacts (which rebuilds
// the id map that the next automatic id comes from): no id is handed out
// twice, and each holds the vector it was given.
TEST(ConcurrencyTest, ConcurrentAddWithNewIdsNeverHandsOutAnIdTwice) {
  auto created =
      TurboQuantIndex::Create(IndexOptions{.dim = kDim, .bits = 4, .keep_vectors = true});
  ASSERT_TRUE(created.ok()) << created.status();
  TurboQuantIndex& index = **created;
  constexpr int kCalls = 1000;
  std::vector<int64_t> firsts[2];
  std::atomic<int> failures{0}, adders_running{2};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; call < kCalls; ++call) {
        std::vector<float> vectors = VectorFor(t * kCalls + call, 0);
        const std::vector<float> second = VectorFor(t * kCalls + call, 1);
        vectors.insert(vectors.end(), second.begin(), second.end());
        auto first = index.AddWithNewIds(vectors);
        if (!first.ok()) ++failures;
        firsts[t].push_back(first.ok() ? *first : -1);
      }
      --adders_running;
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 20 || adders_running > 0; ++i) {
      if (!index.Compact().ok()) ++failures;
    }
  });
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  std::set<int64_t> handed_out;
  for (int t = 0; t < 2; ++t) {
    for (int call = 0; call < kCalls; ++call) {
      const int64_t first = firsts[t][call];
      for (int j = 0; j < 2; ++j) {
        EXPECT_TRUE(handed_out.insert(first + j).second)
            << "id " << first + j << " handed out twice";
        auto got = index.Get(first + j);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(*got, VectorFor(t * kCalls + call, j)) << "id " << first + j;
      }
    }
  }
  EXPECT_EQ(index.size(), 2 * kCalls * 2);
  EXPECT_EQ(*handed_out.rbegin(), 2 * kCalls * 2 - 1);  // consecutive from 0
}

}  // namespace
}  // namespace turboquant
