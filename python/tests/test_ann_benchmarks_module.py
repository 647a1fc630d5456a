"""bench/ann_benchmarks/turboquant/module.py runs its fit/query cycle. When
ann-benchmarks is not installed, a stub BaseANN stands in for
ann_benchmarks.algorithms.base.module (the interface module.py relies on)."""
import importlib.util
import os
import sys
import types

import numpy as np
import pytest

from conftest import REPO
from helpers import clustered

MODULE_PATH = os.path.join(REPO, "bench", "ann_benchmarks", "turboquant", "module.py")


def _stub_base_ann():
    class BaseANN:
        def done(self):
            pass

        def get_memory_usage(self):
            return None

        def fit(self, X):
            pass

        def query(self, q, n):
            return []

        def batch_query(self, X, n):
            self.res = [self.query(q, n) for q in X]

        def get_batch_results(self):
            return self.res

        def get_additional(self):
            return {}

        def __str__(self):
            return self.name

    for name in ("ann_benchmarks", "ann_benchmarks.algorithms", "ann_benchmarks.algorithms.base",
                 "ann_benchmarks.algorithms.turboquant"):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = []
            sys.modules[name] = package
    base = types.ModuleType("ann_benchmarks.algorithms.base.module")
    base.BaseANN = BaseANN
    sys.modules["ann_benchmarks.algorithms.base.module"] = base


@pytest.fixture(scope="module")
def module():
    try:
        import ann_benchmarks.algorithms.base.module  # noqa: F401
    except ImportError:
        _stub_base_ann()
    spec = importlib.util.spec_from_file_location("ann_benchmarks.algorithms.turboquant.module",
                                                  MODULE_PATH)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def exact_neighbors(train, test, k, metric):
    if metric == "angular":
        t = train / np.linalg.norm(train, axis=1, keepdims=True)
        q = test / np.linalg.norm(test, axis=1, keepdims=True)
        return np.argsort(-(q @ t.T), axis=1)[:, :k]
    d = ((test[:, None, :].astype(np.float64) - train[None, :, :]) ** 2).sum(-1)
    return np.argsort(d, axis=1)[:, :k]


def mean_recall(results, truth):
    return np.mean([len(set(r) & set(t)) / len(t) for r, t in zip(results, truth)])


@pytest.mark.parametrize("metric", ["euclidean", "angular"])
@pytest.mark.parametrize("keep_vectors", [False, True])
def test_fit_query_batch_query(module, metric, keep_vectors):
    train = clustered(2000, 48, seed=3)
    test = clustered(30, 48, seed=4)
    truth = exact_neighbors(train, test, 10, metric)

    algo = module.TurboQuant(metric, 4, keep_vectors)
    assert algo.get_memory_usage() == 0
    algo.fit(train)
    assert algo.get_memory_usage() > 0
    algo.set_query_arguments(400, 100 if keep_vectors else 0)
    assert "bits=4" in str(algo) and "rescore=400" in str(algo)

    single = [algo.query(q, 10) for q in test]
    assert all(len(r) == 10 for r in single)
    algo.batch_query(test, 10)
    batch = algo.get_batch_results()
    for a, b in zip(single, batch):
        np.testing.assert_array_equal(a, b)
    floor = 0.99 if keep_vectors else 0.6
    assert mean_recall(single, truth) >= floor
    assert algo.get_additional()["bytes_per_vector"] > 0


def test_rejects_unknown_metric(module):
    with pytest.raises(ValueError, match="hamming"):
        module.TurboQuant("hamming", 4)


def test_config_names_the_constructor(module):
    text = open(os.path.join(os.path.dirname(MODULE_PATH), "config.yml")).read()
    assert "constructor: TurboQuant" in text and "module: ann_benchmarks.algorithms.turboquant" in text
    try:
        import yaml
    except ImportError:
        return
    config = yaml.safe_load(text)
    entry = config["float"]["any"][0]
    assert hasattr(module, entry["constructor"])
    for group in entry["run_groups"].values():
        for bits in group["args"][0]:
            assert bits in (2, 3, 4)
