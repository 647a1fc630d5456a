import os

import numpy as np
import pytest

import turboquant as tq
from conftest import SHARED_DATA

h5py = pytest.importorskip("h5py")


def test_reads_hdf5_datasets_written_by_h5py(tmp_path):
    path = str(tmp_path / "set.hdf5")
    rng = np.random.default_rng(0)
    train = rng.normal(size=(1000, 24)).astype(np.float32)
    test = rng.integers(0, 256, size=(7, 24)).astype(np.uint8)
    neighbors = rng.integers(0, 1000, size=(7, 10))  # int64, as ann-benchmarks stores them
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = "euclidean"
        f.create_dataset("train", data=train, chunks=(100, 24), compression="gzip")
        f.create_dataset("test", data=test)
        f.create_dataset("neighbors", data=neighbors)
        f.create_dataset("big_endian", data=train.astype(">f4"))
        f.create_dataset("float64", data=train.astype(np.float64))
    np.testing.assert_array_equal(tq.read_vectors(path), train)
    np.testing.assert_array_equal(tq.read_vectors(path, dataset="test"), test.astype(np.float32))
    np.testing.assert_array_equal(tq.read_ids(path, dataset="neighbors"), neighbors)
    np.testing.assert_array_equal(tq.read_vectors(path, dataset="big_endian"), train)
    np.testing.assert_array_equal(tq.read_vectors(path, dataset="float64"), train)
    with pytest.raises(KeyError, match="no dataset 'nope'; the file has: big_endian, float64, "
                                       "neighbors, test, train"):
        tq.read_vectors(path, dataset="nope")
    with pytest.raises(ValueError, match="cannot be read as integer ids"):
        tq.read_ids(path, dataset="train")
    with pytest.raises(FileNotFoundError):
        tq.read_vectors(str(tmp_path / "missing.h5"))


def test_reads_shared_texmex_files():
    path = os.path.join(SHARED_DATA, "siftsmall", "siftsmall_query.fvecs")
    if not os.path.exists(path):
        pytest.skip("shared datasets not found")
    queries = tq.read_vectors(path)
    assert queries.shape == (100, 128) and queries.dtype == np.float32
