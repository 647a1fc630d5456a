"""search(filter=...) means what the C++ Filter means, over sealed segments,
unsealed rows, tombstones and upserts: an empty allow set matches nothing."""
import numpy as np
import pytest

import turboquant as tq

DIM = 32
K = 10


def bool_bitmap(ids, size=1000):
    bits = np.zeros(size, dtype=bool)
    bits[[i for i in ids if i < size]] = True
    return bits


def word_bitmap(ids, words=16):
    out = np.zeros(words, dtype=np.uint64)
    for i in ids:
        out[i // 64] |= np.uint64(1) << np.uint64(i % 64)
    return out


@pytest.fixture
def collection(tmp_path):
    """A durable collection of several sealed segments plus unsealed rows,
    with removed ids and upserted ids in both, and the live vectors by id."""
    rng = np.random.default_rng(5)
    path = tmp_path / "c"
    index = tq.Index.create(path, DIM, metric="l2", keep_vectors=True, seal_rows=100)
    live = {}
    for start in range(0, 450, 50):  # 4 sealed segments, 50 unsealed rows
        rows = rng.normal(size=(50, DIM)).astype(np.float32)
        index.add(rows, ids=np.arange(start, start + 50))
        live.update(zip(range(start, start + 50), rows))
    assert index.stats()["segments"] >= 4 and index.stats()["unsealed"] > 0
    removed = [0, 7, 150, 299, 420, 449]  # sealed and unsealed rows
    assert index.remove(removed) == len(removed)
    for i in removed:
        del live[i]
    upserted = [1, 160, 430]
    rows = rng.normal(size=(len(upserted), DIM)).astype(np.float32)
    index.add(rows, ids=upserted)
    live.update(zip(upserted, rows))
    yield path, index, live
    index.close()


def exact_top_k(live, queries, allowed):
    ids = np.array(sorted(i for i in live if allowed(i)), dtype=np.int64)
    out = np.full((len(queries), K), -1, dtype=np.int64)
    if len(ids) == 0:
        return out
    vectors = np.stack([live[i] for i in ids]).astype(np.float64)
    for q, query in enumerate(queries.astype(np.float64)):
        order = np.argsort(((vectors - query) ** 2).sum(1), kind="stable")[:K]
        out[q, :len(order)] = ids[order]
    return out


def queries_for(live):
    # Vectors of upserted ids (new and replaced values), of removed ids and
    # random ones.
    rng = np.random.default_rng(6)
    return np.concatenate([np.stack([live[1], live[430]]),
                           rng.normal(size=(6, DIM)).astype(np.float32)])


ALLOWED = [1, 2, 7, 150, 151, 160, 300, 420, 430, 431, 448, 999]
FILTERS = {
    "allow list": (lambda: ALLOWED, lambda i: i in ALLOWED),
    "allow array": (lambda: np.array(ALLOWED, dtype=np.uint32), lambda i: i in ALLOWED),
    "Filter.allow": (lambda: tq.Filter.allow(ALLOWED), lambda i: i in ALLOWED),
    "Filter.exclude": (lambda: tq.Filter.exclude(ALLOWED), lambda i: i not in ALLOWED),
    "Filter.exclude empty": (lambda: tq.Filter.exclude([]), lambda i: True),
    "bitmap bool": (lambda: tq.Filter.bitmap(bool_bitmap(ALLOWED)), lambda i: i in ALLOWED),
    "bitmap words": (lambda: tq.Filter.bitmap(word_bitmap(ALLOWED)), lambda i: i in ALLOWED),
    # Ids past the end of a bitmap do not match.
    "short bitmap": (lambda: tq.Filter.bitmap(bool_bitmap(ALLOWED, size=300)),
                     lambda i: i in ALLOWED and i < 300),
    "odd ids": (lambda: tq.Filter.bitmap(np.arange(1000) % 2 == 1), lambda i: i % 2 == 1),
    "empty list": (lambda: [], lambda i: False),
    "empty array": (lambda: np.zeros(0, dtype=np.int64), lambda i: False),
    "Filter.allow empty": (lambda: tq.Filter.allow([]), lambda i: False),
    "empty bitmap": (lambda: tq.Filter.bitmap(np.zeros(0, dtype=np.uint64)), lambda i: False),
}


def check_filters(index, live):
    queries = queries_for(live)
    for name, (make, allowed) in FILTERS.items():
        # Re-ranking every candidate with the kept vectors makes the search exact.
        ids, scores = index.search(queries, K, rescore=1000, rerank=1000, filter=make())
        np.testing.assert_array_equal(ids, exact_top_k(live, queries, allowed), err_msg=name)
        assert np.isnan(scores[ids == -1]).all() and not np.isnan(scores[ids != -1]).any(), name


def test_filters_over_segments_tombstones_and_upserts(collection):
    _, index, live = collection
    check_filters(index, live)


def test_filters_after_reopen_read_only(collection):
    path, index, live = collection
    index.close()
    with tq.Index.open(path, read_only=True) as reader:
        check_filters(reader, live)


def test_filters_after_compaction(collection):
    _, index, live = collection
    index.compact()
    check_filters(index, live)


def test_empty_allow_set_returns_nothing_anywhere(collection):
    _, index, live = collection
    queries = queries_for(live)
    for empty in ([], (), np.array([], dtype=np.int64), tq.Filter.allow([])):
        ids, scores = index.search(queries, 5, filter=empty)
        assert (ids == -1).all() and np.isnan(scores).all()


def test_one_filter_serves_many_searches(collection):
    _, index, live = collection
    only = tq.Filter.allow([2, 3])
    for _ in range(3):
        ids, _ = index.search(queries_for(live), 4, filter=only)
        assert set(ids[:, :2].ravel()) == {2, 3} and (ids[:, 2:] == -1).all()


def test_filter_repr():
    assert repr(tq.Filter.allow([1, 2])) == "<turboquant.Filter allow 2 ids>"
    assert repr(tq.Filter.exclude([])) == "<turboquant.Filter exclude 0 ids>"
    assert "bitmap" in repr(tq.Filter.bitmap(np.ones(3, dtype=bool)))


@pytest.mark.parametrize("make, error, message", [
    (lambda: tq.Filter.bitmap(np.array([1, 2])), TypeError, "uint64 array of words"),
    (lambda: tq.Filter.bitmap([0.5]), TypeError, "got dtype float64"),
    (lambda: tq.Filter.bitmap(np.zeros((2, 2), dtype=bool)), ValueError, "1-D"),
    (lambda: tq.Filter.allow([1.5]), TypeError, "integers"),
    (lambda: tq.Filter.exclude([[1, 2]]), ValueError, "1-D"),
])
def test_bad_filters(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_filter_argument_of_search():
    index = tq.Index(DIM)
    index.add(np.ones((3, DIM), dtype=np.float32))
    with pytest.raises(TypeError, match="filter must hold integers"):
        index.search(np.ones((1, DIM), dtype=np.float32), 2, filter=["a"])
    with pytest.raises(TypeError):
        tq.Filter()  # made only by allow, exclude or bitmap
