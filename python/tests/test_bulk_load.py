"""Index.bulk_load and Index.create(data=...): parallel encoding straight into
segment files, committed at once."""
import numpy as np
import pytest

import turboquant as tq

DIM = 32


def vectors(n, seed):
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_create_with_data_equals_add(tmp_path):
    base = vectors(2000, 1)
    queries = vectors(10, 2)
    added = tq.Index.create(tmp_path / "added", DIM, metric="l2", keep_vectors=True)
    added.add(base, ids=np.arange(2000))
    added.flush()
    loaded = tq.Index.create(tmp_path / "loaded", DIM, metric="l2", keep_vectors=True, data=base)
    assert len(loaded) == 2000
    for rerank in (0, 50):
        ids_a, scores_a = added.search(queries, 10, rerank=rerank)
        ids_b, scores_b = loaded.search(queries, 10, rerank=rerank)
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(scores_a, scores_b)
    np.testing.assert_array_equal(loaded.get(1999), base[1999])
    loaded.verify()
    loaded.close()
    reopened = tq.Index.open(tmp_path / "loaded")
    assert len(reopened) == 2000
    assert reopened.stats()["unsealed"] == 0


def test_bulk_load_upserts_and_reports(tmp_path):
    index = tq.Index.create(tmp_path / "c", DIM, keep_vectors=True)
    index.add(vectors(100, 1), ids=np.arange(100))
    new = vectors(100, 2)
    result = index.bulk_load(new, ids=np.arange(50, 150), threads=2)
    assert result == {"rows": 100, "replaced": 50, "segments": 1}
    assert len(index) == 150
    np.testing.assert_array_equal(index.get(60), new[10])


def test_bulk_load_in_memory_and_errors():
    index = tq.Index(DIM)
    data = vectors(300, 3)
    with pytest.raises(ValueError, match="id 7 appears more than once"):
        index.bulk_load(data, ids=np.r_[np.arange(299), 7])
    bad = data.copy()
    bad[123, 4] = np.nan
    with pytest.raises(ValueError, match=r"id 123 \(row 123 of the load\)"):
        index.bulk_load(bad)
    assert len(index) == 0
    assert index.bulk_load(data)["rows"] == 300
    with pytest.raises(ValueError, match="needs an empty index"):
        index.bulk_load(data)
    with pytest.raises(ValueError, match="ids has 2 entries"):
        index.bulk_load(data, ids=[1, 2])


def test_bulk_load_refused_on_read_only(tmp_path):
    tq.Index.create(tmp_path / "c", DIM).close()
    reader = tq.Index.open(tmp_path / "c", read_only=True)
    with pytest.raises(ValueError, match="read-only"):
        reader.bulk_load(vectors(10, 1))
