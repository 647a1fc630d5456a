import numpy as np
import pytest

import turboquant as tq


def vectors(n=200, dim=128, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.mark.parametrize("cls, bits", [(tq.MseCodec, 2), (tq.MseCodec, 4), (tq.ProdCodec, 3)])
def test_encode_decode_score(cls, bits):
    x = vectors()
    codec = cls(128, bits)
    assert (codec.dim, codec.bits, codec.kind) == (128, bits, "mse" if cls is tq.MseCodec else "prod")
    codes = codec.encode(x)
    assert codes.dtype == np.uint8 and codes.shape == (200, codec.code_size)
    decoded = codec.decode(codes)
    assert decoded.dtype == np.float32 and decoded.shape == x.shape
    # Reconstruction error shrinks with bits; 2 bits is still far better than nothing.
    relative = np.linalg.norm(decoded - x) / np.linalg.norm(x)
    assert relative < {2: 0.6, 3: 0.6, 4: 0.2}[bits]
    q = vectors(1, seed=5)[0]
    scores = codec.score(q, codes)
    assert scores.shape == (200,)
    exact = x @ q
    assert np.corrcoef(scores, exact)[0, 1] > 0.9


def test_codes_are_deterministic_and_seeded():
    x = vectors(10)
    a = tq.MseCodec(128, 4).encode(x)
    np.testing.assert_array_equal(a, tq.MseCodec(128, 4).encode(x))
    assert not np.array_equal(a, tq.MseCodec(128, 4, seed=7).encode(x))
    assert tq.MseCodec(128, 4, seed=7).seed == 7
    dense = tq.MseCodec(128, 4, rotation="dense")
    assert dense.rotation == "dense"


def test_prod_codec_is_unbiased():
    x = vectors(2000, 128, seed=3)
    q = vectors(1, 128, seed=4)[0]
    errors = []
    for seed in range(8):
        codec = tq.ProdCodec(128, 2, seed=seed)
        errors.append(codec.score(q, codec.encode(x)) - x @ q)
    mean_error = np.mean(errors)
    assert abs(mean_error) < 0.05 * np.std(x @ q)


def test_codec_errors():
    codec = tq.MseCodec(128, 4)
    with pytest.raises(ValueError):
        tq.MseCodec(128, 0)
    with pytest.raises(ValueError):
        tq.ProdCodec(128, 1)
    with pytest.raises(ValueError, match="unknown rotation"):
        tq.MseCodec(128, 4, rotation="fft")
    with pytest.raises(TypeError, match="uint8"):
        codec.decode(np.zeros((2, codec.code_size), np.int8))
    with pytest.raises(ValueError, match=r"must have shape \(n, %d\)" % codec.code_size):
        codec.decode(np.zeros((2, codec.code_size + 1), np.uint8))
    x = vectors(3)
    x[1, 5] = np.nan
    with pytest.raises(ValueError, match="row 1.*column 5|1.*5"):
        codec.encode(x)
    with pytest.raises(ValueError, match=r"query must have shape \(128,\)"):
        codec.score(vectors(1), codec.encode(vectors(2)))
