"""Reference answers for the `speed` track, computed by TensorFlow/Keras in float64."""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, keras, tf


def pairwise_squared_distances(a, b) -> np.ndarray:
    """``sum((a[i] - b[j])**2)`` from the differences themselves (no expanded form, no cancellation)."""
    a, b = constant(a), constant(b)
    return tf().reduce_sum(tf().math.squared_difference(a[:, None, :], b[None, :, :]), axis=-1).numpy()


def attention(query, key, value, scale=None) -> np.ndarray:
    """``keras.ops.dot_product_attention`` with the scale ``1/sqrt(H)`` (or ``scale``) in float64.

    Keras rounds the scale to float32 even for float64 inputs (its default
    ``1/sqrt(float32(H))``, and a Python float passed as ``scale``; see
    keras/src/backend/tensorflow/nn.py), which moves outputs near zero by
    ~1e-5 relative. Passing the scale as a float64 tensor keeps it exact: what
    a float64 implementation computes, and the only departure from Keras's default.
    """
    if scale is None:
        scale = 1.0 / np.sqrt(np.shape(query)[-1])
    return (
        keras()
        .ops.dot_product_attention(constant(query), constant(key), constant(value), scale=constant(float(scale)))
        .numpy()
    )


cache_public_functions(globals())
