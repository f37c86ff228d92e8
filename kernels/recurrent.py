"""lstm_cell: two cuBLAS matmuls, then ONE fused kernel (cuda/lstm.cu) for gates and state."""

from __future__ import annotations

import numpy as np

from . import _sources
from ._dispatch import THREADS_PER_BLOCK, array_module, as_float, blocks_for, float_dtype, output, record


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """One step of a Keras ``LSTM`` (gate order i, f, c, o; sigmoid gates, tanh).

    ``x_t`` ``(batch, input_dim)``, ``h`` and ``c`` ``(batch, units)``,
    ``kernel`` ``(input_dim, 4*units)``, ``recurrent_kernel`` ``(units, 4*units)``,
    ``bias`` ``(4*units,)``. Returns the new ``(h, c)``, each ``(batch, units)``.
    """
    xp = array_module(x_t, h, c, kernel, recurrent_kernel, bias)
    dtype = float_dtype(x_t, h, c, kernel, recurrent_kernel, bias)
    x_t, h, c, kernel, recurrent_kernel, bias = (
        as_float(xp, a, dtype) for a in (x_t, h, c, kernel, recurrent_kernel, bias)
    )
    batch, units = c.shape
    if (
        h.shape != c.shape
        or x_t.shape[:1] != (batch,)
        or kernel.shape != (x_t.shape[1], 4 * units)
        or recurrent_kernel.shape != (units, 4 * units)
        or bias.shape != (4 * units,)
    ):
        raise ValueError(
            "lstm_cell shapes do not line up: expected x_t (batch, input_dim), h and c (batch, units), "
            "kernel (input_dim, 4*units), recurrent_kernel (units, 4*units), bias (4*units,); received "
            f"x_t {x_t.shape}, h {h.shape}, c {c.shape}, kernel {kernel.shape}, "
            f"recurrent_kernel {recurrent_kernel.shape}, bias {bias.shape}"
        )
    from_input = x_t @ kernel  # two GEMMs; their sum is folded into the fused kernel
    from_state = h @ recurrent_kernel
    h_new, c_new = output(xp, c.shape, dtype), output(xp, c.shape, dtype)
    if xp is np:
        record("numpy")
        z = from_input + from_state + bias
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        c_new[...] = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h_new[...] = _sigmoid(o) * np.tanh(c_new)
        return h_new, c_new
    record("cupy")
    if c.size:
        kernel_fn = _sources.raw_kernel("kernels_lstm_cell", dtype)
        kernel_fn(
            (blocks_for(c.size),),
            (THREADS_PER_BLOCK,),
            (from_input, from_state, bias, c, h_new, c_new, np.int64(batch), np.int64(units)),
        )
    return h_new, c_new
