"""TurboQuant for ann-benchmarks (https://github.com/erikbern/ann-benchmarks).

Copy this folder to ann_benchmarks/algorithms/turboquant/ of an ann-benchmarks
checkout (see ../README.md). The index is built from the `turboquant` Python
module of this repository (python/), which the Dockerfile compiles.

Constructor arguments (config.yml): metric ("angular" -> cosine,
"euclidean" -> l2), bits per coordinate, and keep_vectors (also store float32
vectors so that queries can re-rank exactly). Query arguments: rescore (SIMD
scan candidates re-scored with the codec's float estimator; 0 = library
default max(4k, 64)) and rerank (candidates re-ranked with the original
vectors; needs keep_vectors).
"""
import numpy as np

try:
    from ..base.module import BaseANN
except ImportError:  # used outside the ann-benchmarks package
    from ann_benchmarks.algorithms.base.module import BaseANN

import turboquant

_METRICS = {"angular": "cosine", "euclidean": "l2", "ip": "ip", "dot": "ip"}


class TurboQuant(BaseANN):
    def __init__(self, metric, bits=4, keep_vectors=False, codec=None):
        if metric not in _METRICS:
            raise ValueError(f"TurboQuant does not support metric {metric!r}")
        self._metric = _METRICS[metric]
        self._bits = int(bits)
        self._keep_vectors = bool(keep_vectors)
        self._codec = codec
        self._index = None
        self._rescore = 0
        self._rerank = 0
        self.res = None
        self.name = f"TurboQuant(bits={self._bits})"

    def fit(self, X):
        X = np.ascontiguousarray(X, dtype=np.float32)
        self._index = turboquant.Index(X.shape[1], bits=self._bits, metric=self._metric,
                                       codec=self._codec, keep_vectors=self._keep_vectors)
        # ann-benchmarks expects neighbours as row numbers of X.
        self._index.add(X, ids=np.arange(len(X), dtype=np.int64))

    def set_query_arguments(self, rescore=0, rerank=0):
        self._rescore = int(rescore)
        self._rerank = int(rerank) if self._keep_vectors else 0
        self.name = (f"TurboQuant(bits={self._bits}, rescore={self._rescore}, "
                     f"rerank={self._rerank})")

    def _search(self, Q, n, threads):
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        rerank = min(self._rerank, len(self._index)) if self._rerank else 0
        rescore = max(self._rescore, rerank) if self._rescore else 0
        ids, _ = self._index.search(Q, n, rescore=rescore, rerank=rerank, threads=threads)
        return ids

    def query(self, q, n):
        ids = self._search(np.asarray(q).reshape(1, -1), n, threads=1)[0]
        return ids[ids >= 0]

    def batch_query(self, X, n):
        # Batch mode may use every core, as the other batch implementations do.
        ids = self._search(X, n, threads=0)
        self.res = [row[row >= 0] for row in ids]

    def get_batch_results(self):
        return self.res

    def get_memory_usage(self):
        """Bytes held by the index (codes, per-vector scalars, kept vectors) in kB."""
        if self._index is None:
            return 0
        stats = self._index.stats()
        return (stats["code_bytes"] + stats["vector_bytes"]) / 1024

    def get_additional(self):
        if self._index is None:
            return {}
        return {"bytes_per_vector": self._index.stats()["bytes_per_vector"]}

    def __str__(self):
        return self.name
