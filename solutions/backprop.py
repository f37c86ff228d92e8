"""Backprop: the answer key."""

import numpy as np


def square_backward(dout, x):
    """d loss / d x for ``y = x ** 2`` (the solved example): ``2 * x * dout``."""
    return 2.0 * np.asarray(x, dtype=float) * np.asarray(dout, dtype=float)


def dense_backward(dout, x, kernel):
    """Gradients of a Dense layer ``y = x @ kernel + bias``.

    Args:
        dout: d loss / d y, shape ``(batch, units)``.
        x: the layer's input, ``(batch, input_dim)``.
        kernel: ``(input_dim, units)``.

    Returns:
        ``(dx, dkernel, dbias)`` with the shapes of x, kernel and bias.
        Each weight is used once per sample, so its gradient sums over the batch.
    """
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    return dout @ kernel.T, x.T @ dout, dout.sum(axis=0)


def numerical_gradient(f, x, eps=1e-6):
    """Central differences: ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every i.

    ``f`` maps an array shaped like ``x`` to a scalar. The error of central
    differences is O(eps**2), against O(eps) for one-sided ones. ``x`` is
    restored after each probe, and a copy is probed, so the caller's array never changes.
    """
    x = np.array(x, dtype=float)  # a private copy
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = float(f(x))
        x[index] = original - eps
        minus = float(f(x))
        x[index] = original
        grad[index] = (plus - minus) / (2.0 * eps)
    return grad


def glorot_uniform(shape, rng):
    """Keras's default kernel initializer: uniform in ``[-limit, limit]`` with
    ``limit = sqrt(6 / (fan_in + fan_out))``.

    For a Dense kernel ``(in, out)`` the fans are ``in`` and ``out``. For a
    convolution kernel ``(kh, kw, in_ch, out_ch)`` every position of the
    window is an input: ``fan_in = kh*kw*in_ch``, ``fan_out = kh*kw*out_ch``.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        fan_in = fan_out = shape[0] if shape else 1
    else:
        receptive_field = int(np.prod(shape[:-2]))
        fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    # Keras guards the average fan with max(1, ...) for degenerate shapes.
    limit = np.sqrt(6.0 / max(2.0, fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)
