"""How much work an op does: bytes it must move and floating-point operations.

``cost(op, *args, **kwargs)`` takes the same arguments as the op itself and
returns ``Cost(bytes_moved, flops)``, so a benchmark can turn a median time
into achieved bandwidth (``bytes_moved / seconds``) and throughput
(``flops / seconds``).

Conventions (the same for every backend, so rows of a table compare):

* ``bytes_moved`` is the *compulsory* traffic: every input read once and
  every output written once, at the dtype's item size. Real kernels move more
  (conv2d's im2col matrix, softmax's three passes), which is exactly what the
  achieved-bandwidth figure then shows.
* ``flops`` counts a multiply-add as 2, and every other arithmetic operation,
  comparison, exp, tanh or division as 1. A matmul ``(m, k) @ (k, n)`` is
  ``2 * m * k * n``.
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

import numpy as np

from ._geometry import pair, window

# Operations per element in the element-wise bodies (see cuda/device_math.cu).
_ACTIVATION_FLOPS = {None: 0, "linear": 0, "relu": 1, "sigmoid": 4, "tanh": 1}


class Cost(NamedTuple):
    bytes_moved: int
    flops: int


def _itemsize(*arrays) -> int:
    return np.result_type(*[a.dtype for a in arrays if a is not None]).itemsize


def _elements(*arrays) -> int:
    return sum(int(prod(a.shape)) for a in arrays if a is not None)


def _elementwise(per_element):
    def count(x):
        n = int(prod(x.shape))
        return Cost(2 * n * _itemsize(x), per_element * n)

    return count


def _softmax(x):
    n = int(prod(x.shape))
    return Cost(2 * n * _itemsize(x), 5 * n)  # max, subtract, exp, sum, divide


def _dense_forward(x, kernel, bias, activation=None):
    units = kernel.shape[1]
    rows = int(prod(x.shape[:-1]))
    out = rows * units
    moved = (_elements(x, kernel, bias) + out) * _itemsize(x, kernel)
    return Cost(moved, 2 * rows * kernel.shape[0] * units + out * (1 + _ACTIVATION_FLOPS[activation]))


def _im2col(x, kernel_size, strides=(1, 1), padding="valid"):
    kh, kw = pair(kernel_size, "kernel_size")
    geo = window(x.shape[1], x.shape[2], (kh, kw), pair(strides, "strides"), padding)
    cols = x.shape[0] * geo.out_h * geo.out_w * kh * kw * x.shape[3]
    return Cost((_elements(x) + cols) * _itemsize(x), 0)


def _conv2d(x, kernel, bias, strides=(1, 1), padding="valid"):
    kh, kw, in_channels, out_channels = kernel.shape
    geo = window(x.shape[1], x.shape[2], (kh, kw), pair(strides, "strides"), padding)
    positions = x.shape[0] * geo.out_h * geo.out_w
    out = positions * out_channels
    moved = (_elements(x, kernel, bias) + out) * _itemsize(x, kernel)
    return Cost(moved, 2 * positions * kh * kw * in_channels * out_channels + out)


def _pool_geometry(x, pool_size, strides, padding):
    pool = pair(pool_size, "pool_size")
    strides = pool if strides is None else pair(strides, "strides")
    geo = window(x.shape[1], x.shape[2], pool, strides, padding)
    return pool, x.shape[0] * geo.out_h * geo.out_w * x.shape[3]


def _max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    (ph, pw), out = _pool_geometry(x, pool_size, strides, padding)
    return Cost((_elements(x) + out) * _itemsize(x), out * ph * pw)


def _max_pool2d_backward(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    (ph, pw), out = _pool_geometry(x, pool_size, strides, padding)
    # reads dout and x, writes dx; compares every window cell, one add per dout element
    return Cost((_elements(dout) + 2 * _elements(x)) * _itemsize(dout, x), out * (ph * pw + 1))


def _lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    batch, units = c.shape
    matmuls = 2 * batch * (x_t.shape[1] + units) * 4 * units
    # per unit: 3 adds per gate (12), 3 sigmoids (4 each), 2 tanh, c = f*c + i*g (3), h = o*tanh (1)
    elementwise = batch * units * (12 + 12 + 2 + 3 + 1)
    moved = (_elements(x_t, h, c, kernel, recurrent_kernel, bias) + 2 * batch * units) * _itemsize(x_t, kernel)
    return Cost(moved, matmuls + elementwise)


_COUNTERS = {
    "relu": _elementwise(1),
    "sigmoid": _elementwise(_ACTIVATION_FLOPS["sigmoid"]),
    "tanh": _elementwise(1),
    "softmax": _softmax,
    "dense_forward": _dense_forward,
    "im2col": _im2col,
    "conv2d": _conv2d,
    "max_pool2d": _max_pool2d,
    "max_pool2d_backward": _max_pool2d_backward,
    "lstm_cell": _lstm_cell,
}

OPS = tuple(_COUNTERS)


def cost(op, *args, **kwargs) -> Cost:
    """``Cost(bytes_moved, flops)`` of ``op`` (a name in :data:`OPS`, or the function itself)."""
    name = op if isinstance(op, str) else getattr(op, "__name__", repr(op))
    try:
        counter = _COUNTERS[name]
    except KeyError:
        raise ValueError(f"no cost model for op={name!r}; known ops: {', '.join(OPS)}") from None
    return counter(*args, **kwargs)
