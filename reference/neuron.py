"""Reference answers for the `neuron` track, computed by TensorFlow/Keras in float64."""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, keras, tf


def weighted_sum(inputs, weights) -> float:
    return float(tf().tensordot(constant(inputs), constant(weights), axes=1).numpy())


def neuron(inputs, weights, bias, activation: str | None = None) -> float:
    """``activation`` is a Keras activation name ("sigmoid", "tanh", "relu") or None."""
    z = tf().tensordot(constant(inputs), constant(weights), axes=1) + constant(bias)
    if activation is not None:
        z = keras().activations.get(activation)(z)
    return float(z.numpy())


def dense_forward(x, kernel, bias) -> np.ndarray:
    """A Keras ``Dense`` layer with this kernel and bias, applied to ``x``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    layer = keras().layers.Dense(kernel.shape[1], dtype="float64")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, np.asarray(bias, dtype=np.float64)])
    return layer(constant(x)).numpy()


cache_public_functions(globals())
