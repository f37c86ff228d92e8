"""dense_forward: one cuBLAS matmul, then ONE fused kernel for bias + activation."""

from __future__ import annotations

import numpy as np

from . import _sources
from ._dispatch import array_module, as_float, float_dtype, output, record
from .activations import _relu_numpy, _sigmoid_numpy, _tanh_numpy

_NUMPY_ACTIVATIONS = {"relu": _relu_numpy, "sigmoid": _sigmoid_numpy, "tanh": _tanh_numpy}


def _activation_code(activation) -> int:
    try:
        return _sources.ACTIVATION_CODES[activation]
    except (KeyError, TypeError):
        raise ValueError(
            f'activation must be None, "relu", "sigmoid" or "tanh"; received activation={activation!r}'
        ) from None


def _add_bias_and_activate(xp, z, bias, activation):
    """``activation(z + bias)`` with ``bias`` broadcast along the last axis, into a new array."""
    code = _activation_code(activation)
    y = output(xp, z.shape, z.dtype)
    if xp is np:
        record("numpy")
        np.add(z, bias, out=y)
        if code:
            _NUMPY_ACTIVATIONS[activation](y, y)
        return y
    record("cupy")
    _sources.elementwise("bias_activation")(z, bias, np.int32(code), y)
    return y


def dense_forward(x, kernel, bias, activation=None):
    """A Keras ``Dense`` layer: ``activation(x @ kernel + bias)``.

    ``x`` is ``(..., input_dim)``, ``kernel`` ``(input_dim, units)``, ``bias``
    ``(units,)`` (or None for no bias); ``activation`` is None, "relu",
    "sigmoid" or "tanh". Output ``(..., units)``.
    """
    xp = array_module(x, kernel, bias)
    dtype = float_dtype(x, kernel, bias)
    x, kernel = as_float(xp, x, dtype), as_float(xp, kernel, dtype)
    _activation_code(activation)  # refuse a bad name before any work
    if kernel.ndim != 2 or x.shape[-1:] != kernel.shape[:1]:
        raise ValueError(
            f"x (..., input_dim) and kernel (input_dim, units) do not line up: "
            f"received x {tuple(x.shape)}, kernel {tuple(kernel.shape)}"
        )
    units = kernel.shape[1]
    bias = xp.zeros(units, dtype) if bias is None else as_float(xp, bias, dtype)
    if bias.shape != (units,):
        raise ValueError(f"bias must have shape ({units},); received {tuple(bias.shape)}")
    return _add_bias_and_activate(xp, x @ kernel, bias, activation)
