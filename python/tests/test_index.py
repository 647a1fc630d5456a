import concurrent.futures
import os

import numpy as np
import pytest

import turboquant as tq
from helpers import brute_force, clustered, recall

DIM = 64


@pytest.fixture(scope="module")
def data():
    base = clustered(3000, DIM, seed=1)
    queries = clustered(50, DIM, seed=2)
    return base, queries


@pytest.mark.parametrize("metric", ["ip", "l2", "cosine"])
@pytest.mark.parametrize("bits", [2, 4])
def test_search_matches_brute_force(data, metric, bits):
    base, queries = data
    index = tq.Index(DIM, bits=bits, metric=metric)
    index.add(base)
    ids, scores = index.search(queries, 10, rescore=200)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert ids.shape == scores.shape == (len(queries), 10)
    truth = brute_force(base, queries, 10, metric)
    # Clustered data with isotropic noise: near neighbours are almost equidistant,
    # so these are loose floors (measured: 4 bits 0.73-0.81, 2 bits 0.30-0.45).
    assert recall(ids, truth) >= (0.65 if bits == 4 else 0.25)
    # Scores are ordered best first.
    if metric == "l2":
        assert np.all(np.diff(scores, axis=1) >= -1e-3)
    else:
        assert np.all(np.diff(scores, axis=1) <= 1e-3)


def test_rerank_with_kept_vectors_is_exact(data):
    base, queries = data
    index = tq.Index(DIM, bits=4, metric="l2", keep_vectors=True)
    index.add(base)
    ids, scores = index.search(queries, 10, rerank=100, rescore=200)
    truth = brute_force(base, queries, 10, "l2")
    assert recall(ids, truth) >= 0.99
    expected = ((base[ids[0]] - queries[0]) ** 2).sum(1)
    np.testing.assert_allclose(scores[0], expected, rtol=1e-4)
    np.testing.assert_array_equal(index.get(int(ids[0, 0])), base[ids[0, 0]])


def test_rerank_needs_kept_vectors(data):
    base, queries = data
    index = tq.Index(DIM)
    index.add(base[:100])
    with pytest.raises(ValueError, match="keep_vectors"):
        index.search(queries, 5, rerank=10)


def test_default_codec_and_properties():
    index = tq.Index(DIM)
    assert index.codec == tq.DEFAULT_CODEC == "mse"
    assert (index.dim, index.bits, index.metric, index.keep_vectors) == (DIM, 4, "ip", False)
    assert index.path is None
    assert tq.Index(DIM, codec="prod").codec == "prod"
    assert "dim=64" in repr(index)


def test_automatic_ids_start_past_the_largest_id(data):
    base, _ = data
    index = tq.Index(DIM)
    np.testing.assert_array_equal(index.add(base[:10]), np.arange(10))
    np.testing.assert_array_equal(index.add(base[10:15]), np.arange(10, 15))
    assert len(index) == 15
    other = tq.Index(DIM)
    other.add(base[:3], ids=[1, 7, 3])
    np.testing.assert_array_equal(other.add(base[3:6]), [8, 9, 10])  # never replaces id 3
    assert len(other) == 6
    assert other.add(base[:0]).shape == (0,)


@pytest.mark.parametrize("durable", [False, True])
def test_concurrent_automatic_ids_are_distinct(tmp_path, data, durable):
    base, _ = data
    if durable:
        index = tq.Index.create(tmp_path / "c", DIM, keep_vectors=True, seal_rows=64)
    else:
        index = tq.Index(DIM, keep_vectors=True)
    index.add(base[:5], ids=[100, 3, 4, 5, 6])

    def add_rows(worker):  # 25 adds of 4 rows each; returns (first row, ids) per add
        rows = range(worker * 100, (worker + 1) * 100, 4)
        return [(r, index.add(base[r:r + 4])) for r in rows]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        adds = [a for worker_adds in pool.map(add_rows, range(8)) for a in worker_adds]
    ids = np.concatenate([b for _, b in adds])
    assert len(np.unique(ids)) == len(ids) == 800
    assert ids.min() == 101  # one past the largest id before the threads started
    assert len(index) == 805
    for first_row, batch in adds:
        np.testing.assert_array_equal(batch, np.arange(batch[0], batch[0] + 4))
        for row, i in zip(range(first_row, first_row + 4), batch):
            np.testing.assert_array_equal(index.get(int(i)), base[row])


def test_explicit_ids_upsert_remove_get(data):
    base, queries = data
    index = tq.Index(DIM, metric="l2", keep_vectors=True)
    ids = np.array([10**12, 5, 77], dtype=np.int64)
    np.testing.assert_array_equal(index.add(base[:3], ids=ids), ids)
    assert 10**12 in index and 6 not in index
    index.add(base[3:4], ids=[5])  # upsert: replaces id 5
    assert len(index) == 3
    np.testing.assert_array_equal(index.get(5), base[3])
    assert index.remove([5, 6]) == 1
    assert len(index) == 2
    with pytest.raises(KeyError, match="id 5 is not in the index"):
        index.get(5)
    # ids of other integer dtypes are widened; duplicates and negatives fail.
    index.add(base[4:6], ids=np.array([1, 2], dtype=np.int32))
    with pytest.raises(ValueError, match="more than once"):
        index.add(base[:2], ids=[9, 9])
    with pytest.raises(ValueError, match="negative"):
        index.add(base[:1], ids=[-1])
    with pytest.raises(TypeError, match="integers"):
        index.add(base[:1], ids=[1.5])
    with pytest.raises(ValueError, match="ids has 1 entries but vectors has 2 rows"):
        index.add(base[:2], ids=[3])


def test_filter_allow_list(data):
    base, queries = data
    index = tq.Index(DIM, metric="l2")
    index.add(base)
    allowed = np.arange(0, 3000, 7)
    ids, _ = index.search(queries, 5, filter=allowed)
    assert np.isin(ids, allowed).all()
    # Fewer qualifying ids than k: -1 and NaN fill the rest.
    ids, scores = index.search(queries[:2], 5, filter=[3, 4])
    assert (ids[:, 2:] == -1).all() and np.isnan(scores[:, 2:]).all()
    # An empty allow-list allows nothing.
    ids, scores = index.search(queries[:2], 5, filter=[])
    assert (ids == -1).all() and np.isnan(scores).all()


def test_empty_query_batch_and_empty_index(data):
    base, queries = data
    index = tq.Index(DIM)
    ids, scores = index.search(queries[:3], 4)
    assert (ids == -1).all() and np.isnan(scores).all()
    index.add(base[:10])
    ids, scores = index.search(np.zeros((0, DIM), np.float32), 4)
    assert ids.shape == (0, 4) and scores.shape == (0, 4)


def test_float64_is_converted(data):
    base, queries = data
    index = tq.Index(DIM, metric="l2")
    index.add(base.astype(np.float64))
    a, _ = index.search(queries, 5)
    b, _ = index.search(queries.astype(np.float64), 5)
    np.testing.assert_array_equal(a, b)


def test_concurrent_searches_release_the_gil(data):
    base, queries = data
    index = tq.Index(DIM, metric="l2")
    index.add(base)
    expected, _ = index.search(queries, 10)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: index.search(queries, 10)[0], range(16)))
    for r in results:
        np.testing.assert_array_equal(r, expected)
    # threads=0 (all cores) gives the same answer.
    np.testing.assert_array_equal(index.search(queries, 10, threads=0)[0], expected)


def test_search_timed_reports_cpp_time(data):
    base, queries = data
    index = tq.Index(DIM)
    index.add(base)
    ids, scores, seconds = index._search_timed(queries, 10)
    assert ids.shape == (len(queries), 10) and 0 < seconds < 10


def test_durable_collection_round_trip(tmp_path, data):
    base, queries = data
    path = tmp_path / "collection"
    with tq.Index.create(path, DIM, bits=4, metric="l2", seal_rows=1000) as index:
        index.add(base)
        assert index.path == str(path)
        index.remove(np.arange(100))
        expected, _ = index.search(queries, 10)
        index.flush()
        index.compact()
        index.verify()
        stats = index.stats()
        assert stats["count"] == 2900 and stats["bytes_on_disk"] > 0
        assert stats["path"] == str(path)
    assert index.closed
    with pytest.raises(ValueError, match="closed"):
        len(index)
    reopened = tq.Index.open(str(path))
    assert len(reopened) == 2900 and reopened.metric == "l2"
    np.testing.assert_array_equal(reopened.search(queries, 10)[0], expected)
    reopened.backup(tmp_path / "backup")
    reopened.close()
    assert len(tq.Index.open(tmp_path / "backup")) == 2900


def test_durable_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        tq.Index.open(tmp_path / "missing")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(FileExistsError):
        tq.Index.create(busy, DIM)


def test_read_only_open_beside_a_writer(tmp_path, data):
    base, _ = data
    path = tmp_path / "c"
    writer = tq.Index.create(path, DIM, metric="l2", keep_vectors=True, seal_rows=100)
    writer.add(base[:150])
    with pytest.raises(ValueError, match="open for writing elsewhere"):
        tq.Index.open(path)
    reader = tq.Index.open(path, read_only=True)
    assert reader.read_only and not writer.read_only and "read_only=True" in repr(reader)
    assert len(reader) == 150
    # The reader keeps its snapshot until refresh().
    new_ids = writer.add(base[150:400])
    writer.remove([0, 1])
    writer.flush()
    assert len(reader) == 150 and 160 not in reader
    reader.refresh()
    assert len(reader) == 398 and 160 in reader and 0 not in reader
    ids, _ = reader.search(base[new_ids[-5:]], 1, rerank=10)
    np.testing.assert_array_equal(ids[:, 0], new_ids[-5:])
    np.testing.assert_array_equal(reader.get(399), base[399])
    reader.verify()
    reader.backup(tmp_path / "backup")
    # Writes on the reader raise and change nothing.
    for write in (lambda: reader.add(base[:1]), lambda: reader.add(base[:1], ids=[5000]),
                  lambda: reader.remove([2]), reader.flush, reader.compact):
        with pytest.raises(ValueError, match="read-only"):
            write()
    writer.close()
    reader.refresh()
    assert len(reader) == 398 and 2 in reader
    reader.close()
    with tq.Index.open(tmp_path / "backup") as copy:
        assert len(copy) == 398


def test_refresh_is_a_no_op_for_writers(tmp_path, data):
    base, _ = data
    with tq.Index.create(tmp_path / "c", DIM) as writer:
        writer.add(base[:10])
        writer.refresh()
        assert len(writer) == 10
    in_memory = tq.Index(DIM)
    in_memory.refresh()
    assert not in_memory.read_only


def test_damaged_segment_raises_data_loss(tmp_path, data):
    base, _ = data
    path = tmp_path / "c"
    index = tq.Index.create(path, DIM, seal_rows=100)
    index.add(base[:500])
    index.flush()
    index.close()
    segments = sorted((path / "segments").iterdir())
    assert segments
    with open(segments[0], "r+b") as f:
        f.seek(os.path.getsize(segments[0]) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    try:
        damaged = tq.Index.open(path)
    except tq.DataLossError:
        return  # damage found at open: also fine
    with pytest.raises(tq.DataLossError):
        damaged.verify()
    assert issubclass(tq.DataLossError, RuntimeError)
