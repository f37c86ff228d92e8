"""The answer key raises no warning of its own: a check run with ``-W error::RuntimeWarning`` against
``--impl solutions`` must fail only where the learner's code would, never in the key.

Padded keys often hold garbage (inf, NaN); Keras's masked softmax puts -1e9 in place of their scores.
The key's matmul once computed ``query @ inf`` first ("invalid value encountered in matmul"), though the
result was right: it now zeroes a key that every query masks before the matmul, with the same results.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest

from dojo.course.implementation import Implementation

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("garbage", [np.inf, -np.inf, np.nan, 1e300])
def test_attention_over_masked_garbage_warns_nothing_and_ignores_it(garbage):
    attention = Implementation(ROOT / "solutions").module("attention")
    rng = np.random.default_rng(0)
    query, key, value = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    mask = (np.arange(5)[None, :] < np.array([3, 4])[:, None])[:, None, :]  # (2, 1, 5)
    clean = attention.scaled_dot_product_attention(query, key, value, mask)
    dirty = key.copy()
    dirty[~mask[:, 0, :]] = garbage
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output, weights = attention.scaled_dot_product_attention(query, dirty, value, mask)
    np.testing.assert_array_equal(output, clean[0])
    np.testing.assert_array_equal(weights, clean[1])


def test_a_key_masked_for_some_queries_only_is_used_where_it_is_not():
    """Only keys that EVERY query masks are zeroed: a causal mask's keys still count where allowed."""
    attention = Implementation(ROOT / "solutions").module("attention")
    rng = np.random.default_rng(1)
    query, key, value = rng.normal(size=(1, 4, 3)), rng.normal(size=(1, 4, 3)), rng.normal(size=(1, 4, 2))
    causal = np.tril(np.ones((4, 4), dtype=bool))[None]
    _, weights = attention.scaled_dot_product_attention(query, key, value, causal)
    scores = query @ key.transpose(0, 2, 1) / np.sqrt(3)
    last = np.exp(scores[0, -1] - scores[0, -1].max())
    np.testing.assert_allclose(weights[0, -1], last / last.sum(), rtol=1e-12)
