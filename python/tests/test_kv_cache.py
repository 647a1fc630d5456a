import numpy as np
import pytest

import turboquant as tq


def kv(tokens, heads=2, dim=64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(tokens, heads, dim)).astype(np.float32),
            rng.normal(size=(tokens, heads, dim)).astype(np.float32))


def test_config_keywords_and_validation():
    config = tq.KvCacheConfig(head_dim=64, num_kv_heads=2, num_query_heads=4, key_bits=3)
    assert (config.head_dim, config.key_bits, config.value_bits) == (64, 3, 3.5)
    config.validate()
    assert config.fp16_bytes_per_token() == 2 * 2 * 64 * 2
    with pytest.raises(ValueError, match="head_dim 65"):
        tq.KvCacheConfig(head_dim=65).validate()
    with pytest.raises(ValueError, match="num_query_heads 3 is not a multiple"):
        tq.KvCache(head_dim=64, num_kv_heads=2, num_query_heads=3)
    with pytest.raises(TypeError, match="either"):
        tq.KvCache(config, head_dim=64)


def test_attention_is_close_to_exact():
    config = tq.KvCacheConfig(head_dim=64, num_kv_heads=2, num_query_heads=4, key_bits=4,
                              value_bits=4, residual_window=8)
    cache = tq.KvCache(config)
    keys, values = kv(300)
    cache.append(keys[:200], values[:200])
    cache.append(keys[200:], values[200:])
    assert cache.num_tokens == len(cache) == 300
    assert cache.num_compressed_tokens == 292
    queries = np.random.default_rng(9).normal(size=(2, 4, 64)).astype(np.float32)
    out = cache.attention(queries)
    exact = tq.exact_attention(config, keys, values, queries)
    assert out.shape == exact.shape == queries.shape
    assert np.linalg.norm(out - exact) / np.linalg.norm(exact) < 0.25
    scores = cache.key_scores(queries)
    assert scores.shape == (2, 4, 300)
    k_hat, v_hat = cache.decompress()
    assert k_hat.shape == v_hat.shape == keys.shape
    np.testing.assert_array_equal(k_hat[-8:], keys[-8:])  # the float window is exact


def test_bytes_per_token_matches_bits():
    cache = tq.KvCache(head_dim=128, num_kv_heads=8, num_query_heads=32, key_bits=3.5,
                       value_bits=3.5)
    # 3.5 bits x 128 channels / 8 = 56 bytes per head, keys and values.
    assert cache.key_bytes_per_token_per_head() == cache.value_bytes_per_token_per_head() == 56
    assert cache.bytes_per_token() == 2 * 8 * 56
    assert cache.bytes_used() >= 0


def test_kv_errors():
    cache = tq.KvCache(head_dim=64, num_kv_heads=2, num_query_heads=4, residual_window=0)
    keys, values = kv(4)
    with pytest.raises(ValueError, match=r"keys must have shape \(n, 2, 64\)"):
        cache.append(keys[:, :1], values[:, :1])
    with pytest.raises(ValueError, match="keys hold 4 tokens but values hold 3"):
        cache.append(keys, values[:3])
    keys[1, 1, 3] = np.nan
    with pytest.raises(ValueError):
        cache.append(keys, values)
    assert cache.num_tokens == 0
    with pytest.raises(ValueError, match=r"queries must have shape \(n, 4, 64\)"):
        cache.attention(np.zeros((1, 2, 64), np.float32))
