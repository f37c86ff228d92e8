"""Convolutional networks: the answer key.

Keras's layout throughout: images are NHWC ``(batch, height, width,
channels)``, a kernel is ``(kh, kw, in_channels, filters)``. Keras (like every
deep learning library) computes a cross-correlation: the kernel is *not*
flipped.

Padding, as Keras/TensorFlow define it:

* ``"valid"``: no padding; ``out = floor((in - k) / stride) + 1``.
* ``"same"``: ``out = ceil(in / stride)``; the padding needed for that,
  ``total = max((out - 1) * stride + k - in, 0)``, is split with the smaller
  half *before* (top/left) and the odd extra row/column *after* (bottom/right).

Every function leaves its inputs unchanged and works in float64.
"""

from __future__ import annotations

import numpy as np

from .backprop import glorot_uniform
from .model import Layer, get_activation


def conv1d_valid(signal, kernel):
    """The solved example: a 1-D "valid" cross-correlation with one loop."""
    signal, kernel = np.asarray(signal, dtype=float), np.asarray(kernel, dtype=float)
    out = np.empty(len(signal) - len(kernel) + 1)
    for i in range(len(out)):
        out[i] = signal[i : i + len(kernel)] @ kernel
    return out


# ------------------------------------------------------------------ helpers


def _pair(value):
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``, as Keras accepts both."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    first, second = value
    return int(first), int(second)


def _padding_mode(padding):
    mode = str(padding).lower()
    if mode not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same'. Received: padding={padding!r}")
    return mode


def _output_size(size, k, stride, padding):
    if padding == "same":
        return -(-size // stride)  # ceil without floats
    return (size - k) // stride + 1


def _pads(size, k, stride, padding):
    """(before, after) for one spatial axis; the odd extra goes after, as in TF."""
    if padding == "valid":
        return 0, 0
    out = _output_size(size, k, stride, padding)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _geometry(x_shape, kernel_size, strides, padding):
    """Output size and padding of both spatial axes."""
    (kh, kw), (sh, sw), mode = _pair(kernel_size), _pair(strides), _padding_mode(padding)
    _, height, width, _ = x_shape
    out_h, out_w = _output_size(height, kh, sh, mode), _output_size(width, kw, sw, mode)
    return out_h, out_w, _pads(height, kh, sh, mode), _pads(width, kw, sw, mode)


def _pad(x, pads_h, pads_w, value=0.0):
    if not any(pads_h) and not any(pads_w):  # "valid": np.pad would still copy the whole batch
        return x
    return np.pad(x, ((0, 0), pads_h, pads_w, (0, 0)), constant_values=value)


# ------------------------------------------------------------ convolution


def conv2d_naive(x, kernel, bias, strides=(1, 1), padding="valid"):
    """Keras ``Conv2D`` forward, one output value at a time: the definition, written as loops.

    ``out[b, i, j, f]`` is the window of the padded input that starts at row
    ``i * sh``, column ``j * sw``, multiplied elementwise by filter ``f`` and
    summed, plus ``bias[f]``. Deliberately slow (four Python loops): it is the
    yardstick that ``conv2d`` is timed against.
    """
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    sh, sw = _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    padded = _pad(x, pads_h, pads_w)
    out = np.empty((x.shape[0], out_h, out_w, filters))
    for b in range(x.shape[0]):
        for i in range(out_h):
            for j in range(out_w):
                window = padded[b, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
                for f in range(filters):
                    out[b, i, j, f] = np.sum(window * kernel[:, :, :, f]) + bias[f]
    return out


def _patches(x, kernel_size, strides, padding):
    """Every window, as a contiguous ``(batch, out_h, out_w, kh, kw, in_ch)`` array.

    ``sliding_window_view`` sees every window of the padded input without
    copying (a view whose strides step through the input); slicing it with the
    strides keeps the windows the convolution uses, and one
    ``ascontiguousarray`` then copies them, in one pass of NumPy's C loop,
    into the order of ``kernel.reshape(-1, filters)``. (Nine strided slice
    assignments, one per kernel offset, copy the same bytes about twice as slowly.)
    """
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    windows = np.lib.stride_tricks.sliding_window_view(_pad(x, pads_h, pads_w), (kh, kw), axis=(1, 2))
    # windows: (batch, rows, cols, in_ch, kh, kw); keep every sh-th row and sw-th column, channels last.
    used = windows[:, : sh * (out_h - 1) + 1 : sh, : sw * (out_w - 1) + 1 : sw]
    return np.ascontiguousarray(used.transpose(0, 1, 2, 4, 5, 3))


def im2col(x, kernel_size, strides=(1, 1), padding="valid"):
    """All windows as the rows of one matrix, ``(batch*out_h*out_w, kh*kw*in_ch)``.

    Rows run over batch, then output row, then output column; a row holds its
    window in ``(kh, kw, in_ch)`` order, the order of ``kernel.reshape(-1, filters)``.
    """
    x = np.asarray(x, dtype=float)
    patches = _patches(x, kernel_size, strides, padding)
    return patches.reshape(-1, int(np.prod(patches.shape[3:])))


def conv2d(x, kernel, bias, strides=(1, 1), padding="valid"):
    """Keras ``Conv2D`` forward as one matrix product: ``im2col(x) @ kernel.reshape(-1, filters)``."""
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    kh, kw, _, filters = kernel.shape
    out_h, out_w, _, _ = _geometry(x.shape, (kh, kw), strides, padding)
    columns = im2col(x, (kh, kw), strides, padding)
    out = columns @ kernel.reshape(-1, filters)
    out += bias  # in place: no second output-sized array
    return out.reshape(x.shape[0], out_h, out_w, filters)


def conv2d_backward(dout, x, kernel, strides=(1, 1), padding="valid"):
    """Gradients of ``conv2d`` w.r.t. its input, kernel and bias.

    The forward pass is ``out = columns @ K + bias`` with ``K =
    kernel.reshape(-1, filters)``, so as for a Dense layer: ``dK = columns.T @
    dout``, ``dcolumns = dout @ K.T``, ``dbias = dout`` summed over everything
    but the filter axis. ``dcolumns`` is then scattered back ("col2im"): every
    input pixel that sat in several windows *adds up* their gradients.
    """
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    kh, kw, in_ch, filters = kernel.shape
    sh, sw = _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, (kh, kw), (sh, sw), padding)
    flat_dout = dout.reshape(-1, filters)
    dkernel = (im2col(x, (kh, kw), (sh, sw), padding).T @ flat_dout).reshape(kernel.shape)
    dbias = flat_dout.sum(axis=0)
    dpatches = (flat_dout @ kernel.reshape(-1, filters).T).reshape(x.shape[0], out_h, out_w, kh, kw, in_ch)
    dpadded = np.zeros((x.shape[0], x.shape[1] + sum(pads_h), x.shape[2] + sum(pads_w), in_ch))
    for di in range(kh):
        for dj in range(kw):
            dpadded[:, di : di + sh * (out_h - 1) + 1 : sh, dj : dj + sw * (out_w - 1) + 1 : sw, :] += dpatches[
                :, :, :, di, dj, :
            ]
    dx = dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]
    return dx, dkernel, dbias


# ---------------------------------------------------------------- pooling


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """Keras ``MaxPooling2D``: the maximum of each window, channel by channel.

    ``strides=None`` means the pool size (windows side by side). With "same"
    padding the padded cells never win (TF pads with -inf).
    """
    x = np.asarray(x, dtype=float)
    pool = _pair(pool_size)
    strides = pool if strides is None else _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, pool, strides, padding)
    return _window_maxima(_pad(x, pads_h, pads_w, -np.inf), _window_cells(pool, strides, out_h, out_w))


def _window_cells(pool, strides, out_h, out_w):
    """One index per cell ``(di, dj)`` of the window, in row-major order.

    ``padded[index]`` is a strided view ``(batch, out_h, out_w, channels)``
    holding that cell of *every* window at once: the cell at offset
    ``(di, dj)`` of window ``(i, j)`` is pixel ``(i * sh + di, j * sw + dj)``.
    So a pooling loops over the few cells of one window (4 for 2x2), never
    over the thousands of windows.
    """
    (ph, pw), (sh, sw) = pool, strides
    return [
        (slice(None), slice(di, di + sh * (out_h - 1) + 1, sh), slice(dj, dj + sw * (out_w - 1) + 1, sw))
        for di in range(ph)
        for dj in range(pw)
    ]


def _window_maxima(padded, cells):
    """The maximum of every window: ``np.maximum`` over the window's cells, in place in one array.

    (Faster than ``.max(axis=(3, 4))`` over a copy of every window: no
    window-sized copy, and NumPy's reduction over two tiny trailing axes is slow.)
    """
    maxima = padded[cells[0]].copy()
    for cell in cells[1:]:
        np.maximum(maxima, padded[cell], out=maxima)
    return maxima


def max_pool2d_backward(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    """Gradient of ``max_pool2d``: each window's gradient goes to its maximum.

    Where windows overlap (stride < pool size) one input can be the maximum of
    several windows, so the gradients are *added* (``+=``). Ties go to the
    first maximum in row-major order of the window (as TF's CPU kernel does):
    walking the window's cells in that order, a cell wins where it equals the
    maximum and no earlier cell has won (``unclaimed``).
    """
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    pool = _pair(pool_size)
    strides = pool if strides is None else _pair(strides)
    out_h, out_w, pads_h, pads_w = _geometry(x.shape, pool, strides, padding)
    padded = _pad(x, pads_h, pads_w, -np.inf)
    cells = _window_cells(pool, strides, out_h, out_w)
    maxima = _window_maxima(padded, cells)
    unclaimed = np.ones(maxima.shape, dtype=bool)
    dpadded = np.zeros(padded.shape)
    for cell in cells:
        wins = padded[cell] == maxima
        wins &= unclaimed
        dpadded[cell] += dout * wins
        unclaimed ^= wins  # this window's gradient is given: later equal cells get none
    return dpadded[:, pads_h[0] : pads_h[0] + x.shape[1], pads_w[0] : pads_w[0] + x.shape[2], :]


def flatten(x):
    """``(batch, h, w, c) -> (batch, h*w*c)`` in row-major (C) order, as Keras's ``Flatten``."""
    x = np.asarray(x, dtype=float)
    return x.reshape(x.shape[0], -1)


# ----------------------------------------------------------------- layers


class Conv2D(Layer):
    """``activation(conv2d(x, kernel, bias))``. Kernel ``(kh, kw, in_ch, filters)``
    Glorot-uniform (fans multiplied by kh*kw), bias zeros.

    Input shape: ``(batch, height, width, in_ch)``.
    Output shape: ``(batch, out_h, out_w, filters)``.
    """

    def __init__(
        self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None, name=None, input_shape=None
    ):
        super().__init__(name=name, input_shape=input_shape)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
        self.padding = _padding_mode(padding)
        self.activation = activation
        self._forward_activation, self._backward_activation = get_activation(activation)

    def build(self, input_shape, rng):
        shape = self.kernel_size + (input_shape[-1], self.filters)
        self.weights = [glorot_uniform(shape, rng), np.zeros(self.filters)]
        self.built = True

    def compute_output_shape(self, input_shape):
        out_h, out_w, _, _ = _geometry((None,) + tuple(input_shape), self.kernel_size, self.strides, self.padding)
        return out_h, out_w, self.filters

    def forward(self, x, training=False):
        kernel, bias = self.weights
        self._x = x
        self._z = conv2d(x, kernel, bias, self.strides, self.padding)
        return self._forward_activation(self._z)

    def backward(self, dout):
        dz = self._backward_activation(dout, self._z)
        dx, dkernel, dbias = conv2d_backward(dz, self._x, self.weights[0], self.strides, self.padding)
        self.grads = [dkernel, dbias]
        return dx


class MaxPooling2D(Layer):
    """``max_pool2d`` as a layer (no weights). Strides default to the pool size."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.pool_size = _pair(pool_size)
        self.strides = self.pool_size if strides is None else _pair(strides)
        self.padding = _padding_mode(padding)

    def compute_output_shape(self, input_shape):
        out_h, out_w, _, _ = _geometry((None,) + tuple(input_shape), self.pool_size, self.strides, self.padding)
        return out_h, out_w, input_shape[-1]

    def forward(self, x, training=False):
        self._x = x
        return max_pool2d(x, self.pool_size, self.strides, self.padding)

    def backward(self, dout):
        return max_pool2d_backward(dout, self._x, self.pool_size, self.strides, self.padding)


class Flatten(Layer):
    """``(batch, ...) -> (batch, product of the rest)``; backward reshapes back."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self._shape = x.shape
        return flatten(x)

    def backward(self, dout):
        return np.asarray(dout).reshape(self._shape)
