"""im2col (a RawKernel from cuda/im2col.cu) and conv2d = im2col, one cuBLAS matmul, fused bias.

Shapes in Keras's words: ``x`` is NHWC ``(batch, height, width, channels)``,
``kernel`` is ``(kh, kw, in_channels, out_channels)``, ``bias`` is ``(out_channels,)``.
"""

from __future__ import annotations

import numpy as np

from . import _sources
from ._dispatch import THREADS_PER_BLOCK, array_module, as_float, blocks_for, float_dtype, output, record
from ._geometry import check_nhwc, pair, window
from .dense import _add_bias_and_activate


def _im2col(xp, x, kernel_size, strides, padding):
    """im2col on arrays already converted; returns (cols, geometry). Records the backend."""
    check_nhwc(x)
    batch, height, width, channels = x.shape
    (kh, kw), (sh, sw) = kernel_size, strides
    geo = window(height, width, kernel_size, strides, padding)
    cols = output(xp, (batch * geo.out_h * geo.out_w, kh * kw * channels), x.dtype)
    if xp is np:
        record("numpy")
        if cols.size == 0:  # no window fits (or an empty batch): nothing to copy
            return cols, geo
        padded = np.pad(x, ((0, 0), (geo.pad_top, geo.pad_bottom), (geo.pad_left, geo.pad_right), (0, 0)))
        # (batch, H', W', channels, kh, kw) views, every stride-th window
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
        windows = windows[:, : geo.out_h * sh : sh, : geo.out_w * sw : sw]
        # -> (batch, out_h, out_w, kh, kw, channels): the column order of kernel.reshape(-1, out)
        cols[...] = windows.transpose(0, 1, 2, 4, 5, 3).reshape(cols.shape)
        return cols, geo
    record("cupy")
    if cols.size:
        kernel = _sources.raw_kernel("kernels_im2col_nhwc", x.dtype)
        args = (x, cols) + tuple(
            np.int64(v)
            for v in (batch, height, width, channels, kh, kw, sh, sw, geo.pad_top, geo.pad_left, geo.out_h, geo.out_w)
        )
        kernel((blocks_for(cols.size),), (THREADS_PER_BLOCK,), args)
    return cols, geo


def im2col(x, kernel_size, strides=(1, 1), padding="valid"):
    """Every receptive field of ``x`` as one row: ``(batch*out_h*out_w, kh*kw*channels)``.

    Row ``(b*out_h + oy)*out_w + ox`` holds the window at output position
    ``(oy, ox)`` of image ``b``, flattened in ``(kh, kw, channels)`` order, the
    order of ``kernel.reshape(-1, out_channels)``. "same" padding adds zeros,
    the odd extra row/column at the bottom/right.
    """
    xp = array_module(x)
    x = as_float(xp, x, float_dtype(x))
    cols, _ = _im2col(xp, x, pair(kernel_size, "kernel_size"), pair(strides, "strides"), padding)
    return cols


def conv2d(x, kernel, bias, strides=(1, 1), padding="valid"):
    """A Keras ``Conv2D`` forward pass (no activation): ``(batch, out_h, out_w, out_channels)``."""
    xp = array_module(x, kernel, bias)
    dtype = float_dtype(x, kernel, bias)
    x, kernel = as_float(xp, x, dtype), as_float(xp, kernel, dtype)
    if kernel.ndim != 4 or x.ndim == 4 and kernel.shape[2] != x.shape[3]:
        raise ValueError(
            f"kernel must be (kh, kw, in_channels, out_channels) with in_channels = "
            f"x.shape[-1]; received kernel {tuple(kernel.shape)} for x {tuple(x.shape)}"
        )
    kh, kw, _, out_channels = kernel.shape
    bias = xp.zeros(out_channels, dtype) if bias is None else as_float(xp, bias, dtype)
    cols, geo = _im2col(xp, x, (kh, kw), pair(strides, "strides"), padding)
    product = cols @ kernel.reshape(-1, out_channels)  # cuBLAS GEMM on the GPU
    out = _add_bias_and_activate(xp, product, bias, None)
    return out.reshape(x.shape[0], geo.out_h, geo.out_w, out_channels)
