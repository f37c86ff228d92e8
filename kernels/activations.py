"""Activations: relu, sigmoid, tanh (ElementwiseKernels) and softmax (a RawKernel per row).

Each function keeps the input's shape and float dtype and never modifies it.
"""

from __future__ import annotations

import numpy as np

from . import _sources
from ._dispatch import MAX_BLOCKS, array_module, as_float, float_dtype, output, record

SOFTMAX_BLOCK = 256  # must equal KERNELS_SOFTMAX_BLOCK in cuda/softmax.cu


def _elementwise(name: str, x, numpy_version):
    xp = array_module(x)
    dtype = float_dtype(x)
    x = as_float(xp, x, dtype)
    y = output(xp, x.shape, dtype)
    if xp is np:
        record("numpy")
        numpy_version(x, y)
    else:
        record("cupy")
        _sources.elementwise(name)(x, y)
    return y


def _relu_numpy(x, y):
    np.maximum(x, 0, out=y)


def _sigmoid_numpy(x, y):
    # Stable: exp only of -|x|, so sigmoid(+-1000) is exactly 1 or 0, no overflow warning.
    z = np.exp(-np.abs(x))
    np.divide(np.where(x >= 0, 1, z), 1 + z, out=y)


def _tanh_numpy(x, y):
    np.tanh(x, out=y)


def relu(x):
    """max(x, 0), element-wise."""
    return _elementwise("relu", x, _relu_numpy)


def sigmoid(x):
    """1 / (1 + exp(-x)), element-wise, computed without overflow for any |x|."""
    return _elementwise("sigmoid", x, _sigmoid_numpy)


def tanh(x):
    """Hyperbolic tangent, element-wise."""
    return _elementwise("tanh", x, _tanh_numpy)


def softmax(x):
    """Softmax over the last axis (max-shifted, so large logits do not overflow).

    GPU: one thread block per row of ``x.reshape(-1, x.shape[-1])``.
    """
    xp = array_module(x)
    dtype = float_dtype(x)
    x = as_float(xp, x, dtype)
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis; received a scalar")
    y = output(xp, x.shape, dtype)
    if xp is np:
        record("numpy")
        if y.size == 0:  # max() of an empty axis would raise
            return y
        shifted = x - x.max(axis=-1, keepdims=True)
        np.exp(shifted, out=y)
        y /= y.sum(axis=-1, keepdims=True)
        return y
    record("cupy")
    cols = x.shape[-1]
    rows = x.size // cols if cols else 0
    if rows and cols:
        kernel = _sources.raw_kernel("kernels_softmax_rows", dtype)
        kernel((min(rows, MAX_BLOCKS),), (SOFTMAX_BLOCK,), (x, y, np.int64(rows), np.int64(cols)))
    return y
