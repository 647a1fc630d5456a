#include "src/codec/codebook.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>


namespace turboquant::internal {
namespace {

constexpr double kPi = 3.14159265358979323846;

// The coordinate density discretized into many equal-width atoms. With
// x = sin(phi) the density of phi is ~ cos(phi)^(dim - 2): smooth for every
// dim >= 2 (for dim = 2, x itself has the singular arcsine density). The atoms
// cover phi within 16 standard deviations, beyond which the mass is < 1e-50.
struct DiscreteDensity {
  std::vector<double> x;           // ascending atom positions
  std::vector<double> mass;        // prefix sums of atom mass (size + 1)
  std::vector<double> moment;      // prefix sums of mass * x
  std::vector<double> second;      // prefix sums of mass * x^2
};

DiscreteDensity Discretize(int dim) {
  constexpr int kAtoms = 1 << 17;
  const double half_width = std::min(kPi / 2, 16.0 / std::sqrt(static_cast<double>(dim)));
  const double step = 2 * half_width / kAtoms;
  DiscreteDensity density;
  density.x.resize(kAtoms);
  std::vector<double> weight(kAtoms);
  double total = 0;
  for (int k = 0; k < kAtoms; ++k) {
    const double phi = -half_width + (k + 0.5) * step;
    density.x[k] = std::sin(phi);
    weight[k] = std::exp((dim - 2) * std::log(std::cos(phi)));
    total += weight[k];
  }
  density.mass.assign(kAtoms + 1, 0.0);
  density.moment.assign(kAtoms + 1, 0.0);
  density.second.assign(kAtoms + 1, 0.0);
  for (int k = 0; k < kAtoms; ++k) {
    const double w = weight[k] / total;
    density.mass[k + 1] = density.mass[k] + w;
    density.moment[k + 1] = density.moment[k] + w * density.x[k];
    density.second[k + 1] = density.second[k] + w * density.x[k] * density.x[k];
  }
  return density;
}

// Index of the first atom above the threshold t.
size_t AtomsBelow(const DiscreteDensity& density, double t) {
  return std::upper_bound(density.x.begin(), density.x.end(), t) - density.x.begin();
}

// Centroids of the cells cut by the thresholds (conditional means).
std::vector<double> CellMeans(const DiscreteDensity& density, const std::vector<double>& cuts,
                              const std::vector<double>& fallback) {
  std::vector<double> means(cuts.size() + 1);
  size_t lo = 0;
  for (size_t j = 0; j < means.size(); ++j) {
    const size_t hi = j < cuts.size() ? AtomsBelow(density, cuts[j]) : density.x.size();
    const double mass = density.mass[hi] - density.mass[lo];
    means[j] = mass > 0 ? (density.moment[hi] - density.moment[lo]) / mass : fallback[j];
    lo = hi;
  }
  return means;
}

std::vector<double> Midpoints(const std::vector<double>& centroids) {
  std::vector<double> cuts(centroids.size() - 1);
  for (size_t j = 0; j < cuts.size(); ++j) cuts[j] = 0.5 * (centroids[j] + centroids[j + 1]);
  return cuts;
}

// Per-coordinate expected squared error of the quantizer.
double CoordinateMse(const DiscreteDensity& density, const std::vector<double>& centroids) {
  const std::vector<double> cuts = Midpoints(centroids);
  double mse = 0;
  size_t lo = 0;
  for (size_t j = 0; j < centroids.size(); ++j) {
    const size_t hi = j < cuts.size() ? AtomsBelow(density, cuts[j]) : density.x.size();
    const double c = centroids[j];
    mse += (density.second[hi] - density.second[lo]) - 2 * c * (density.moment[hi] - density.moment[lo]) +
           c * c * (density.mass[hi] - density.mass[lo]);
    lo = hi;
  }
  return mse;
}

// Lloyd-Max iteration from equal-mass initial cells; the density is symmetric,
// so the codebook is kept exactly antisymmetric.
std::vector<double> LloydMax(const DiscreteDensity& density, int levels) {
  std::vector<double> cuts(levels - 1);
  for (int j = 0; j + 1 < levels; ++j) {
    const double target = static_cast<double>(j + 1) / levels;
    const size_t k = std::lower_bound(density.mass.begin(), density.mass.end(), target) -
                     density.mass.begin();
    cuts[j] = density.x[std::min(k, density.x.size() - 1)];
  }
  std::vector<double> centroids = CellMeans(density, cuts, std::vector<double>(levels, 0.0));
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::vector<double> next = CellMeans(density, Midpoints(centroids), centroids);
    for (int j = 0; j < levels / 2; ++j) {
      const double magnitude = 0.5 * (next[levels - 1 - j] - next[j]);
      next[j] = -magnitude;
      next[levels - 1 - j] = magnitude;
    }
    double change = 0;
    for (int j = 0; j < levels; ++j) change = std::max(change, std::fabs(next[j] - centroids[j]));
    centroids = std::move(next);
    if (change < 1e-13) break;
  }
  return centroids;
}

}  // namespace

Codebook::Codebook(int dim, int bits) : dim_(dim), bits_(bits) {
  const DiscreteDensity density = Discretize(dim);
  const std::vector<double> centroids = LloydMax(density, 1 << bits);
  const std::vector<double> cuts = Midpoints(centroids);
  centroids_.assign(centroids.begin(), centroids.end());
  boundaries_.assign(cuts.begin(), cuts.end());
  expected_unit_mse_ = dim * CoordinateMse(density, centroids);
  if (levels() <= kTableSize) {
    const int last = levels() - 2;  // the largest boundary index
    for (int s = 0; s < 4; ++s) {
      for (int k = 0; k < kTableSize; ++k) {
        search_tables_[s][k] = boundaries_[std::min(k + (1 << s) - 1, last)];
      }
    }
    for (int k = 0; k < kTableSize; ++k) padded_centroids_[k] = centroids_[std::min(k, levels() - 1)];
  }
}

std::shared_ptr<const Codebook> Codebook::Get(int dim, int bits) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::pair<int, int>, std::shared_ptr<const Codebook>>();
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<const Codebook>& entry = (*cache)[{dim, bits}];
  if (!entry) entry = std::make_shared<const Codebook>(dim, bits);
  return entry;
}

void Codebook::QuantizeScalar(const float* y, size_t n, uint8_t* indices) const {
  for (size_t i = 0; i < n; ++i) {
    indices[i] = static_cast<uint8_t>(
        std::lower_bound(boundaries_.begin(), boundaries_.end(), y[i]) - boundaries_.begin());
  }
}

}  // namespace turboquant::internal
