#!/usr/bin/python3
"""Recall vs. QPS of TurboQuant, FAISS and hnswlib on the shared datasets,
measured the way ann-benchmarks measures them.

    /usr/bin/python3 bench/ann/run.py --dataset siftsmall
    /usr/bin/python3 bench/ann/run.py --dataset all
    /usr/bin/python3 bench/ann/run.py --dataset fashion-mnist --max-queries 1000

Runs with Debian's /usr/bin/python3 (python3-numpy, -h5py, -faiss, -hnswlib,
-matplotlib) and the `turboquant` module built by CMake (TQ_BUILD_PYTHON; found
in build-py/python or build/python, or give --module-dir).

1. Converts a dataset of ../shared/data (TEXMEX files; fashion-mnist is built
   from the Debian package dataset-fashion-mnist only when asked for) into an
   ann-benchmarks HDF5 file in the cache directory: datasets train, test,
   neighbors (int32, top 100) and distances (float32), attributes distance
   ("euclidean" or "angular"), type, point_type and dimension. Distances are
   ann-benchmarks': euclidean = ||q - x||, angular = 1 - cos(q, x).
2. Builds every method once per build parameter and sweeps its query
   parameters, timing a single-query loop (one query per call, one thread),
   as ann-benchmarks does in its default non-batch mode; QPS = 1 / mean query
   time, best of --runs runs.
3. Recall is ann-benchmarks' k-nn recall: a returned neighbour counts when its
   distance is <= the true k-th distance + 1e-3.
4. Writes <out>/<dataset>.csv and <out>/<dataset>.png (recall vs QPS, log
   scale), and prints each method's Pareto frontier in the recall >= 0.9 region
   (also written to <out>/<dataset>_pareto.md).

The cache directory defaults to $XDG_CACHE_HOME/turboquant-ann (or
~/.cache/turboquant-ann); results go to <cache>/results unless --out is given.
"""
import argparse
import csv
import glob
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")
EPSILON = 1e-3  # ann-benchmarks' k-nn recall threshold slack

# name -> (folder, base file, query file, ann-benchmarks distance)
DATASETS = {
    "siftsmall": ("siftsmall", "siftsmall_base.fvecs", "siftsmall_query.fvecs", "euclidean"),
    "bigann10k": ("bigann10k", "bigann10k_base.bvecs", "bigann10k_query.bvecs", "euclidean"),
    "cohere-768": ("cohere-768", "cohere1k_base.fvecs", "cohere1k_query.fvecs", "angular"),
    "bge-m3-sentence": ("bge-m3-1024", "bge_m3_sentence_base.fvecs",
                        "bge_m3_sentence_query.fvecs", "angular"),
    "bge-m3-paragraph": ("bge-m3-1024", "bge_m3_paragraph_base.fvecs",
                         "bge_m3_paragraph_query.fvecs", "angular"),
    "fashion-mnist": (None, "fashion-mnist_base.fvecs", "fashion-mnist_query.fvecs", "euclidean"),
}
SMALL_SETS = ["siftsmall", "bigann10k", "cohere-768", "bge-m3-sentence", "bge-m3-paragraph"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def import_turboquant(module_dir):
    candidates = [module_dir] if module_dir else [os.path.join(REPO, b, "python")
                                                  for b in ("build-py", "build")]
    for d in candidates:
        if d and glob.glob(os.path.join(d, "turboquant*.so")):
            sys.path.insert(0, d)
            break
    try:
        import turboquant
    except ImportError as e:
        sys.exit(f"cannot import turboquant ({e}); build it with "
                 "cmake -DTQ_BUILD_PYTHON=ON and pass --module-dir")
    return turboquant


# ---------------------------------------------------------------- datasets

def read_vecs(path):
    """TEXMEX .fvecs/.bvecs/.ivecs as a numpy array (float32 or int32)."""
    dtype = {".fvecs": "<f4", ".bvecs": "u1", ".ivecs": "<i4"}[os.path.splitext(path)[1]]
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(raw[:4].view("<i4")[0])
    width = 4 + dim * np.dtype(dtype).itemsize
    rows = raw.reshape(-1, width)[:, 4:]
    values = rows.copy().view(dtype).reshape(len(rows), dim)
    return values.astype(np.int32 if dtype == "<i4" else np.float32)


def ann_distances(train, queries, distance):
    """ann-benchmarks distances of every query to every train row (float64)."""
    t = train.astype(np.float64)
    q = queries.astype(np.float64)
    if distance == "angular":
        t = t / np.linalg.norm(t, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        return 1.0 - q @ t.T
    d2 = (q * q).sum(1)[:, None] - 2.0 * q @ t.T + (t * t).sum(1)[None, :]
    return np.sqrt(np.maximum(d2, 0.0))


def exact_neighbors(train, test, distance, count=100, block=256):
    neighbors = np.empty((len(test), count), np.int32)
    distances = np.empty((len(test), count), np.float32)
    for s in range(0, len(test), block):
        d = ann_distances(train, test[s:s + block], distance)
        top = np.argsort(d, axis=1, kind="stable")[:, :count]
        neighbors[s:s + block] = top
        distances[s:s + block] = np.take_along_axis(d, top, axis=1)
    return neighbors, distances


def fashion_mnist_source(cache):
    """Builds the Fashion-MNIST .fvecs from the Debian package (once)."""
    out = os.path.join(cache, "fashion-mnist-src")
    if not os.path.exists(os.path.join(out, "fashion-mnist_query.fvecs")):
        script = os.path.join(SHARED_DATA, "scripts", "fashion_mnist_from_debian.py")
        log(f"building Fashion-MNIST from the Debian package into {out} ...")
        os.makedirs(out, exist_ok=True)
        subprocess.run([sys.executable, script, out, "--metrics", "l2"], check=True)
    return out


def hdf5_dataset(name, data_dir, cache):
    """The ann-benchmarks HDF5 file of a dataset, converted on first use."""
    import h5py
    folder, base_file, query_file, distance = DATASETS[name]
    path = os.path.join(cache, f"{name}-{distance}.hdf5")
    if os.path.exists(path):
        return path
    src = fashion_mnist_source(cache) if folder is None else os.path.join(data_dir, folder)
    train = read_vecs(os.path.join(src, base_file))
    test = read_vecs(os.path.join(src, query_file))
    log(f"{name}: computing exact neighbours of {len(test)} queries over {len(train)} rows ...")
    neighbors, distances = exact_neighbors(train, test, distance)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["type"] = "dense"
        f.attrs["distance"] = distance
        f.attrs["dimension"] = train.shape[1]
        f.attrs["point_type"] = "float"
        f.create_dataset("train", data=train)
        f.create_dataset("test", data=test)
        f.create_dataset("neighbors", data=neighbors)
        f.create_dataset("distances", data=distances)
    os.replace(tmp, path)
    log(f"wrote {path}")
    return path


def load_hdf5(path):
    import h5py
    with h5py.File(path, "r") as f:
        return (np.asarray(f["train"], np.float32), np.asarray(f["test"], np.float32),
                np.asarray(f["neighbors"]), np.asarray(f["distances"]),
                str(f.attrs["distance"]))


# ---------------------------------------------------------------- methods
# Each method: family name, build parameters, a build(train) that returns an
# object with .query(q, k) -> ids and .set(param) for query parameters,
# .bytes (index size) and the list of query parameters to sweep.

def unit_rows(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class TurboQuantMethod:
    def __init__(self, tq, distance, bits, keep_vectors):
        self.tq, self.bits, self.keep = tq, bits, keep_vectors
        self.metric = "cosine" if distance == "angular" else "l2"
        self.family = f"turboquant-{bits}bit" + ("+rerank" if keep_vectors else "")
        self.build_params = f"bits={bits}" + (" keep_vectors" if keep_vectors else "")

    def build(self, train):
        self.index = self.tq.Index(train.shape[1], bits=self.bits, metric=self.metric,
                                   keep_vectors=self.keep)
        self.index.add(train, ids=np.arange(len(train)))
        stats = self.index.stats()
        self.bytes = stats["code_bytes"] + stats["vector_bytes"]

    def sweep(self, k, n):
        if not self.keep:
            return [{"rescore": r} for r in (10, 20, 40, 80, 160, 320, 640, 1280) if r >= k]
        return [{"rescore": r, "rerank": rr} for r in (20, 40, 80, 160, 320)
                for rr in (10, 20, 40, 80) if k <= rr <= r]

    def set(self, p):
        self.rescore = min(p["rescore"], len(self.index))
        self.rerank = min(p.get("rerank", 0), self.rescore)

    def query(self, q, k):
        ids, _ = self.index.search(q[None, :], k, rescore=self.rescore, rerank=self.rerank)
        return ids[0]


class FaissMethod:
    """IndexFlat, IndexPQFastScan (optionally + IndexRefineFlat), IndexHNSWFlat, IVF-PQ."""

    def __init__(self, faiss, distance, kind, **params):
        self.faiss, self.kind, self.params = faiss, kind, params
        self.angular = distance == "angular"
        self.family = {"flat": "faiss-Flat", "pqfs": "faiss-PQFastScan",
                       "pqfs_refine": "faiss-PQFastScan+refine", "hnsw": "faiss-HNSWFlat",
                       "ivfpq": "faiss-IVFPQ"}[kind]
        self.build_params = " ".join(f"{k}={v}" for k, v in params.items())

    def build(self, train):
        faiss = self.faiss
        x = unit_rows(train) if self.angular else np.ascontiguousarray(train)
        d = x.shape[1]
        metric = faiss.METRIC_INNER_PRODUCT if self.angular else faiss.METRIC_L2
        if self.kind == "flat":
            index = faiss.IndexFlat(d, metric)
        elif self.kind in ("pqfs", "pqfs_refine"):
            index = faiss.IndexPQFastScan(d, self.params["M"], 4, metric)
            if self.kind == "pqfs_refine":
                index = faiss.IndexRefineFlat(index)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.params["M"], metric)
            index.hnsw.efConstruction = self.params["efConstruction"]
        elif self.kind == "ivfpq":
            quantizer = faiss.IndexFlat(d, metric)
            index = faiss.IndexIVFPQ(quantizer, d, self.params["nlist"], self.params["M"],
                                     self.params["nbits"], metric)
            self.quantizer = quantizer  # keep it alive
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        if not index.is_trained:
            index.train(x)
        index.add(x)
        faiss.omp_set_num_threads(1)
        self.index = index
        self.bytes = self._bytes(d, len(x))

    def _bytes(self, d, n):
        p = self.params
        if self.kind == "flat":
            return 4 * d * n
        if self.kind == "pqfs":
            return n * p["M"] // 2
        if self.kind == "pqfs_refine":
            return n * p["M"] // 2 + 4 * d * n
        if self.kind == "hnsw":
            return 4 * d * n + n * p["M"] * 2 * 4  # vectors + level-0 links (approx.)
        return n * (p["M"] * p["nbits"] // 8 + 8)  # IVF-PQ codes + ids

    def sweep(self, k, n):
        if self.kind == "hnsw":
            return [{"efSearch": e} for e in (10, 20, 40, 80, 160, 320, 640) if e >= k]
        if self.kind == "ivfpq":
            nlist = self.params["nlist"]
            return [{"nprobe": p} for p in (1, 2, 4, 8, 16, 32, 64, 128) if p <= nlist]
        if self.kind == "pqfs_refine":
            return [{"k_factor": f} for f in (1, 2, 4, 8, 16, 32)]
        return [{}]

    def set(self, p):
        if "efSearch" in p:
            self.index.hnsw.efSearch = p["efSearch"]
        if "nprobe" in p:
            self.index.nprobe = p["nprobe"]
        if "k_factor" in p:
            self.index.k_factor = p["k_factor"]

    def query(self, q, k):
        if self.angular:
            q = q / np.linalg.norm(q)
        _, ids = self.index.search(q[None, :].astype(np.float32), k)
        return ids[0]


class HnswlibMethod:
    def __init__(self, hnswlib, distance, M, ef_construction):
        self.hnswlib, self.M, self.efc = hnswlib, M, ef_construction
        self.space = "cosine" if distance == "angular" else "l2"
        self.family = "hnswlib"
        self.build_params = f"M={M} efConstruction={ef_construction}"

    def build(self, train):
        index = self.hnswlib.Index(space=self.space, dim=train.shape[1])
        index.init_index(max_elements=len(train), ef_construction=self.efc, M=self.M)
        index.set_num_threads(os.cpu_count() or 1)
        index.add_items(train, np.arange(len(train)))
        index.set_num_threads(1)
        self.index = index
        self.bytes = len(train) * (4 * train.shape[1] + self.M * 2 * 4 + 8)

    def sweep(self, k, n):
        return [{"ef": e} for e in (10, 20, 40, 80, 160, 320, 640) if e >= k]

    def set(self, p):
        self.index.set_ef(p["ef"])

    def query(self, q, k):
        ids, _ = self.index.knn_query(q[None, :], k=k)
        return ids[0]


def divisors_near(d, targets):
    """For each target, the divisor of d closest to it (PQ needs M | d)."""
    divs = [m for m in range(1, d + 1) if d % m == 0]
    return sorted({min(divs, key=lambda m: (abs(m - t), m)) for t in targets})


def methods_for(args, tq, distance, n, d):
    import faiss
    import hnswlib
    out = []
    wanted = set(args.methods.split(","))
    if "turboquant" in wanted:
        for bits in (2, 3, 4):
            out.append(TurboQuantMethod(tq, distance, bits, False))
            out.append(TurboQuantMethod(tq, distance, bits, True))
    if "faiss" in wanted:
        out.append(FaissMethod(faiss, distance, "flat"))
        # 4-bit PQ: M/2 bytes per vector; M = d/2 is 2 bits per dimension.
        for m in divisors_near(d, (d // 4, d // 2)):
            if m % 2 == 0 or m == 1:
                out.append(FaissMethod(faiss, distance, "pqfs", M=m))
        out.append(FaissMethod(faiss, distance, "pqfs_refine", M=divisors_near(d, (d // 2,))[0]))
        out.append(FaissMethod(faiss, distance, "hnsw", M=32, efConstruction=200))
        nlist = max(4, int(round(np.sqrt(n))))
        nbits = 8 if n >= 256 * 39 else 6
        out.append(FaissMethod(faiss, distance, "ivfpq", nlist=nlist,
                               M=divisors_near(d, (d // 4,))[0], nbits=nbits))
    if "hnswlib" in wanted:
        out.append(HnswlibMethod(hnswlib, distance, M=32, ef_construction=200))
    return out


# ---------------------------------------------------------------- measuring

def knn_recall(train, test, results, gt_distances, k, distance):
    """ann-benchmarks k-nn recall: mean over queries of |{returned j : dist_j <=
    d_k + eps}| / k, distances recomputed from the returned ids."""
    total = 0.0
    for q, ids, gt in zip(test, results, gt_distances):
        ids = ids[ids >= 0][:k]
        if len(ids) == 0:
            continue
        d = ann_distances(train[ids], q[None, :], distance)[0]
        total += np.count_nonzero(d <= gt[k - 1] + EPSILON)
    return total / (k * len(test))


def time_queries(method, test, k, runs):
    best = None
    results = None
    for _ in range(runs):
        out = []
        times = np.empty(len(test))
        for i, q in enumerate(test):
            start = time.perf_counter()
            ids = method.query(q, k)
            times[i] = time.perf_counter() - start
            out.append(ids)
        mean = times.mean()
        if best is None or mean < best:
            best, results = mean, out
    return 1.0 / best, results


def pareto(points):
    """Points (recall, qps, ...) not dominated by another of higher recall and qps."""
    frontier = []
    for p in sorted(points, key=lambda p: (-p[0], -p[1])):
        if not frontier or p[1] > frontier[-1][1]:
            frontier.append(p)
    return sorted(frontier)


def run_dataset(name, args, tq):
    cache = args.cache
    os.makedirs(cache, exist_ok=True)
    path = hdf5_dataset(name, args.data_dir, cache)
    train, test, _, gt_distances, distance = load_hdf5(path)
    if args.max_queries and len(test) > args.max_queries:
        test, gt_distances = test[:args.max_queries], gt_distances[:args.max_queries]
    k = args.k
    log(f"{name}: {len(train)} x {train.shape[1]} {distance}, {len(test)} queries, k={k}")
    rows = []
    for method in methods_for(args, tq, distance, len(train), train.shape[1]):
        start = time.perf_counter()
        try:
            method.build(train)
        except Exception as e:  # a FAISS configuration this small set cannot train
            log(f"  {method.family} {method.build_params}: build failed: {e}")
            continue
        build_s = time.perf_counter() - start
        for p in method.sweep(k, len(train)):
            method.set(p)
            qps, results = time_queries(method, test, k, args.runs)
            recall = knn_recall(train, test, results, gt_distances, k, distance)
            params = " ".join(f"{a}={b}" for a, b in p.items())
            rows.append({"dataset": name, "family": method.family,
                         "build_params": method.build_params, "query_params": params,
                         "recall": round(recall, 4), "qps": round(qps, 1),
                         "build_s": round(build_s, 3), "index_bytes": int(method.bytes)})
            log(f"  {method.family:26s} {method.build_params:28s} {params:24s} "
                f"recall {recall:.4f}  qps {qps:9.1f}")
    return rows, distance, len(train), len(test)


def write_outputs(name, rows, distance, n, nq, args):
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, f"{name}.csv")
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)

    import faiss
    families = sorted({r["family"] for r in rows})
    # Debian's python3-faiss is compiled without SIMD; say so next to its rows.
    lines = [f"### {name} ({n} base, {nq} queries, {distance}, k={args.k}; "
             "single-query loop, 1 thread)", "",
             f"FAISS compile options: `{faiss.get_compile_options()}`", "",
             "| method | build params | query params | recall | QPS | bytes/vector |",
             "|---|---|---|---|---|---|"]
    for family in families:
        points = [(r["recall"], r["qps"], r) for r in rows if r["family"] == family]
        frontier = [p for p in pareto(points) if p[0] >= 0.9]
        if not frontier:
            best = max(points, key=lambda p: p[0])
            lines.append(f"| {family} | {best[2]['build_params']} | {best[2]['query_params']} | "
                         f"{best[0]:.4f} (max; < 0.9) | {best[1]:.0f} | "
                         f"{best[2]['index_bytes'] / n:.0f} |")
            continue
        for recall, qps, r in frontier:
            lines.append(f"| {family} | {r['build_params']} | {r['query_params']} | "
                         f"{recall:.4f} | {qps:.0f} | {r['index_bytes'] / n:.0f} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, f"{name}_pareto.md"), "w") as f:
        f.write(table)
    print(table)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 6))
    cmap = plt.get_cmap("tab20")
    markers = "os^vD<>ph*"
    for i, family in enumerate(families):
        points = [(r["recall"], r["qps"]) for r in rows if r["family"] == family]
        frontier = pareto(points)
        ax.plot([p[0] for p in frontier], [p[1] for p in frontier], marker=markers[i % 10],
                color=cmap(i % 20), label=family, linewidth=1.5, markersize=5)
        ax.scatter([p[0] for p in points], [p[1] for p in points], color=cmap(i % 20),
                   s=8, alpha=0.35)
    ax.set_yscale("log")
    ax.set_xlabel(f"k-nn recall@{args.k} (ann-benchmarks definition, eps {EPSILON})")
    ax.set_ylabel("queries per second (1 thread, one query per call)")
    ax.set_title(f"{name}: {n} x {distance}, {nq} queries")
    lo = max(0.0, min(r["recall"] for r in rows) - 0.02)
    ax.set_xlim(lo, 1.005)
    ax.axvline(0.9, color="grey", linestyle=":", linewidth=1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    png_path = os.path.join(args.out, f"{name}.png")
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    log(f"wrote {csv_path}, {png_path}")


def main():
    cache_root = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="siftsmall",
                        help="one of %s, 'all' (the shared sets) or a comma list"
                        % ", ".join(DATASETS))
    parser.add_argument("--data-dir", default=SHARED_DATA)
    parser.add_argument("--cache", default=os.path.join(cache_root, "turboquant-ann"),
                        help="HDF5 files and the Fashion-MNIST build (outside the repository)")
    parser.add_argument("--out", default=None, help="CSV/PNG directory (default <cache>/results)")
    parser.add_argument("--methods", default="turboquant,faiss,hnswlib")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per setting; best counts")
    parser.add_argument("--max-queries", type=int, default=0,
                        help="use only the first N queries (0 = all)")
    parser.add_argument("--module-dir", default=None, help="folder holding turboquant*.so")
    args = parser.parse_args()
    args.out = args.out or os.path.join(args.cache, "results")
    names = SMALL_SETS if args.dataset == "all" else args.dataset.split(",")
    for name in names:
        if name not in DATASETS:
            parser.error(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    tq = import_turboquant(args.module_dir)
    for name in names:
        rows, distance, n, nq = run_dataset(name, args, tq)
        write_outputs(name, rows, distance, n, nq, args)


if __name__ == "__main__":
    main()
