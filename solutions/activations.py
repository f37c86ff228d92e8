"""Activations: the answer key.

Every function is elementwise unless it says otherwise, accepts lists or
arrays, returns float64 arrays and leaves its inputs unchanged.
"""

import numpy as np
from scipy.special import erf


def linear(x):
    """The identity, as a float64 array (the solved example of katas/activations.py)."""
    return np.array(x, dtype=float)


def relu(x):
    """``max(x, 0)``."""
    return np.maximum(np.asarray(x, dtype=float), 0.0)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow.

    ``exp(-x)`` overflows for x < -709. Both branches below only ever
    exponentiate ``-|x|``, which lies in (-inf, 0]: no overflow, and no
    cancellation for large |x|.
    """
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(x):
    return np.tanh(np.asarray(x, dtype=float))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max for stability.

    Subtracting the max changes nothing mathematically (it cancels between
    numerator and denominator) but keeps every exponent <= 0.
    """
    x = np.asarray(x, dtype=float)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def leaky_relu(x, negative_slope=0.2):
    """``x`` for x >= 0, ``negative_slope * x`` below (Keras's default slope is 0.2)."""
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below. ``expm1`` keeps precision near 0."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def gelu(x):
    """Exact GELU: ``x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))``."""
    x = np.asarray(x, dtype=float)
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    x = np.asarray(x, dtype=float)
    return x * sigmoid(x)


def softplus(x):
    """``log(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))``: no overflow at the top (exp of a
    non-positive number), no lost digits at the bottom (log1p keeps exp(x) when it is tiny)."""
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def relu_backward(dout, x):
    """``dout * (x > 0)``: the gradient passes where the input was positive (0 at x == 0, as TF)."""
    return np.asarray(dout, dtype=float) * (np.asarray(x) > 0)


def sigmoid_backward(dout, x):
    """``dout * s * (1 - s)`` with ``s = sigmoid(x)``."""
    s = sigmoid(x)
    return np.asarray(dout, dtype=float) * s * (1.0 - s)


def tanh_backward(dout, x):
    """``dout * (1 - tanh(x)**2)``."""
    t = np.tanh(np.asarray(x, dtype=float))
    return np.asarray(dout, dtype=float) * (1.0 - t * t)


def softmax_backward(dout, x, axis=-1):
    """Vector-Jacobian product of softmax: ``s * (dout - sum(dout * s))`` along ``axis``.

    The Jacobian is ``diag(s) - s s^T``; multiplying it by ``dout`` never needs
    the matrix itself.
    """
    s = softmax(x, axis=axis)
    dout = np.asarray(dout, dtype=float)
    return s * (dout - np.sum(dout * s, axis=axis, keepdims=True))
