"""Neurons: the answer key.

Each function accepts lists as well as arrays (the seed's examples use lists),
works in float64, and never modifies its inputs.
"""

import numpy as np


def step(z):
    """Heaviside step: 1.0 where ``z > 0``, else 0.0 (the solved example)."""
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, 1.0, 0.0)


def weighted_sum(inputs, weights):
    """``sum(inputs[i] * weights[i])``: a dot product of two vectors."""
    return float(np.dot(np.asarray(inputs, dtype=float), np.asarray(weights, dtype=float)))


def neuron(inputs, weights, bias, activation=None):
    """``activation(weighted_sum + bias)``; the identity when ``activation`` is None."""
    z = weighted_sum(inputs, weights) + bias
    # Keras calls a layer without activation "linear": the identity.
    return z if activation is None else activation(z)


def dense_forward(x, kernel, bias):
    """``x @ kernel + bias``. The kernel is ``(input_dim, units)``, as Keras stores
    it, so no transpose; the bias broadcasts over the batch dimension."""
    return np.asarray(x, dtype=float) @ np.asarray(kernel, dtype=float) + np.asarray(bias, dtype=float)
