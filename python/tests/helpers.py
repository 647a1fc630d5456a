import numpy as np


def brute_force(base, queries, k, metric):
    """Exact top-k ids (best first) in float64."""
    b = base.astype(np.float64)
    q = queries.astype(np.float64)
    if metric == "l2":
        d = (q * q).sum(1)[:, None] - 2 * q @ b.T + (b * b).sum(1)[None, :]
        return np.argsort(d, axis=1, kind="stable")[:, :k]
    if metric == "cosine":
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    return np.argsort(-(q @ b.T), axis=1, kind="stable")[:, :k]


def recall(found, truth):
    k = truth.shape[1]
    return np.mean([len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth)])


def clustered(n, dim, seed=0, clusters=20):
    """Data with structure (random Gaussian data has no meaningful neighbors)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)) * 3
    labels = rng.integers(0, clusters, size=n)
    return (centers[labels] + rng.normal(size=(n, dim))).astype(np.float32)
