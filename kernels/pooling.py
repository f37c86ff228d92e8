"""max_pool2d and its backward pass: RawKernels from cuda/pooling.cu.

Keras's ``MaxPooling2D``: NHWC input, ``strides`` default to ``pool_size``,
"same" padding puts the odd extra row/column after, and padded cells never
win the max. The backward pass sends each upstream gradient to its window's
argmax (the first maximum in row-major order on ties, as TensorFlow's CPU
kernel does) and adds up where windows overlap.
"""

from __future__ import annotations

import numpy as np

from . import _sources
from ._dispatch import THREADS_PER_BLOCK, array_module, as_float, blocks_for, float_dtype, output, record
from ._geometry import check_nhwc, pair, window


def _setup(x, pool_size, strides, padding):
    check_nhwc(x)
    pool = pair(pool_size, "pool_size")
    strides = pool if strides is None else pair(strides, "strides")
    return pool, strides, window(x.shape[1], x.shape[2], pool, strides, padding)


def _windows_numpy(x, pool, strides, geo):
    """``(batch, out_h, out_w, channels, ph*pw)``: every window's cells, padding as -inf."""
    (ph, pw), (sh, sw) = pool, strides
    padded = np.pad(
        x, ((0, 0), (geo.pad_top, geo.pad_bottom), (geo.pad_left, geo.pad_right), (0, 0)), constant_values=-np.inf
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, (ph, pw), axis=(1, 2))
    windows = windows[:, : geo.out_h * sh : sh, : geo.out_w * sw : sw]
    return windows.reshape(windows.shape[:4] + (ph * pw,))


def _launch_args(x, pool, strides, geo):
    batch, height, width, channels = x.shape
    return tuple(
        np.int64(v)
        for v in (batch, height, width, channels, *pool, *strides, geo.pad_top, geo.pad_left, geo.out_h, geo.out_w)
    )


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """The maximum of each window: ``(batch, out_h, out_w, channels)``."""
    xp = array_module(x)
    x = as_float(xp, x, float_dtype(x))
    pool, strides, geo = _setup(x, pool_size, strides, padding)
    out = output(xp, (x.shape[0], geo.out_h, geo.out_w, x.shape[3]), x.dtype)
    if xp is np:
        record("numpy")
        if out.size:
            _windows_numpy(x, pool, strides, geo).max(axis=-1, out=out)
        return out
    record("cupy")
    if out.size:
        kernel = _sources.raw_kernel("kernels_max_pool_forward", x.dtype)
        kernel((blocks_for(out.size),), (THREADS_PER_BLOCK,), (x, out) + _launch_args(x, pool, strides, geo))
    return out


def max_pool2d_backward(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    """d loss / d x, given ``dout`` = d loss / d max_pool2d(x): the shape of ``x``.

    Each ``dout`` element goes to the argmax of its window; an input that is
    the argmax of several overlapping windows receives the sum. On the GPU
    that sum is built with atomicAdd, so its rounding may differ in the last
    bit from run to run; every other element of dx is exactly 0.
    """
    xp = array_module(dout, x)
    dtype = float_dtype(dout, x)
    dout, x = as_float(xp, dout, dtype), as_float(xp, x, dtype)
    pool, strides, geo = _setup(x, pool_size, strides, padding)
    expected = (x.shape[0], geo.out_h, geo.out_w, x.shape[3])
    if tuple(dout.shape) != expected:
        raise ValueError(f"dout must have the shape of max_pool2d(x), {expected}; received {tuple(dout.shape)}")
    # Accumulation needs zeros to start from, so dx is never NaN-filled.
    if xp is np:
        record("numpy")
        if dout.size == 0:
            return np.zeros_like(x)
        (_, pw), (sh, sw) = pool, strides
        batch, height, width, channels = x.shape
        best = _windows_numpy(x, pool, strides, geo).argmax(axis=-1)  # first max on ties
        b, oy, ox, c = np.indices(best.shape, sparse=True)
        rows = oy * sh - geo.pad_top + best // pw
        cols = ox * sw - geo.pad_left + best % pw
        flat = ((b * height + rows) * width + cols) * channels + c
        # bincount adds up repeated indices (overlapping windows) in one vectorised pass
        summed = np.bincount(flat.ravel(), weights=dout.ravel(), minlength=x.size)
        return summed.reshape(x.shape).astype(dtype, copy=False)
    record("cupy")
    dx = xp.zeros(x.shape, dtype)
    if dout.size:
        kernel = _sources.raw_kernel("kernels_max_pool_backward", dtype)
        kernel((blocks_for(dout.size),), (THREADS_PER_BLOCK,), (dout, x, dx) + _launch_args(x, pool, strides, geo))
    return dx
