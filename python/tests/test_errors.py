"""Bad input from Python raises TypeError/ValueError with a clear message."""
import numpy as np
import pytest

import turboquant as tq

DIM = 32


@pytest.fixture(scope="module")
def index():
    index = tq.Index(DIM, metric="l2")
    index.add(np.random.default_rng(0).normal(size=(200, DIM)).astype(np.float32))
    return index


def queries(n=3):
    return np.random.default_rng(1).normal(size=(n, DIM)).astype(np.float32)


@pytest.mark.parametrize("bad, error, message", [
    (queries().astype(np.int32), TypeError, "must be a float32 array, got dtype int32"),
    (queries().astype(np.complex64), TypeError, "got dtype complex64"),
    (np.array([["a"] * DIM]), TypeError, "must be a float32 array"),
    (np.asfortranarray(queries()), ValueError, "not C-contiguous"),
    (np.zeros((3, 2 * DIM), np.float32)[:, ::2], ValueError, "not C-contiguous"),
    (queries()[0], ValueError, r"must have shape \(n, 32\), got \(32,\)"),
    (np.zeros((2, 3, DIM), np.float32), ValueError, r"must have shape \(n, 32\), got \(2, 3, 32\)"),
    (np.zeros((2, DIM + 1), np.float32), ValueError, r"got \(2, 33\)"),
])
def test_bad_query_arrays(index, bad, error, message):
    with pytest.raises(error, match=message):
        index.search(bad, 5)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values(index, value):
    q = queries()
    q[2, 7] = value
    with pytest.raises(ValueError, match="query 2 has a non-finite component .* at index 7"):
        index.search(q, 5)
    with pytest.raises(ValueError, match="vector 2 has a non-finite component .* at index 7"):
        index.add(q)
    before = len(index)
    assert len(index) == before


@pytest.mark.parametrize("k", [0, -1])
def test_k_must_be_positive(index, k):
    with pytest.raises(ValueError, match="k must be positive"):
        index.search(queries(), k)


def test_k_beyond_size_and_negative_params(index):
    with pytest.raises(ValueError, match="exceeds the 200 vectors"):
        index.search(queries(), 201)
    with pytest.raises(ValueError, match="must not be negative"):
        index.search(queries(), 5, rescore=-1)
    with pytest.raises(TypeError):
        index.search(queries(), "5")


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown metric 'euclid'"):
        tq.Index(DIM, metric="euclid")
    with pytest.raises(ValueError, match="unknown codec 'pq'"):
        tq.Index(DIM, codec="pq")
    with pytest.raises(ValueError):
        tq.Index(1)
    with pytest.raises(ValueError):
        tq.Index(DIM, bits=9)
