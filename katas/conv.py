"""Convolutional networks.

A Dense layer gives every pixel its own weight. A convolution slides one small
*kernel* over the image instead, so the same few weights look for the same
pattern (an edge, a curve) everywhere:

    input 4x4, kernel 3x3, stride 1, padding "valid"  ->  output 2x2

    step (0, 0)            step (0, 1)            step (1, 0)  ...
    [a b c] d              a [b c d]              a  b  c  d
    [e f g] h              e [f g h]              [e f g] h
    [i j k] l              i [j k l]              [i j k] l
     m n o  p              m  n o p               [m n o] p

    out[0, 0] = a*K00 + b*K01 + c*K02 + e*K10 + ... + k*K22 + bias

Keras's layout (the only one used here):

* images are NHWC: ``(batch, height, width, channels)``;
* a kernel is ``(kh, kw, in_ch, filters)``: ``kernel[..., f]`` is filter f, one
  ``(kh, kw)`` grid of weights per input channel; every filter gives one
  output channel, summing over all input channels;
* the kernel is NOT flipped: deep learning's "convolution" is a
  cross-correlation.

Output size and padding (per spatial axis; ``in`` input size, ``k`` kernel
size, ``s`` stride):

* ``padding="valid"``: no padding, ``out = floor((in - k) / s) + 1``;
* ``padding="same"``: ``out = ceil(in / s)``. TensorFlow pads
  ``total = max((out - 1) * s + k - in, 0)`` zeros, ``total // 2`` before
  (top/left) and the rest after (bottom/right). When ``total`` is odd
  (stride 2 on an even size, an even kernel) the extra row/column goes after:
  Keras's "same" is not symmetric.

    in = 6, k = 3, s = 2, "same": out = 3, total = (3-1)*2 + 3 - 6 = 1 -> pad 0 before, 1 after
    x0 x1 x2 x3 x4 x5 [0]
    [x0 x1 x2]            -> out 0
          [x2 x3 x4]      -> out 1
                [x4 x5  0] -> out 2

Run ``pytest`` after each kata; it tells you what to do next.
"""

import numpy as np

from .backprop import glorot_uniform
from .model import Layer, get_activation


# A solved example, to show the shape of an answer: the same sliding window in
# one dimension, "valid" padding, stride 1.
def conv1d_valid(signal, kernel):
    """1-D cross-correlation: ``out[i] = sum_k signal[i + k] * kernel[k]``.

    Example:
        >>> conv1d_valid([1.0, 2.0, 3.0, 4.0], [1.0, -1.0])
        array([-1., -1., -1.])           # 1-2, 2-3, 3-4
    """
    signal, kernel = np.asarray(signal, dtype=float), np.asarray(kernel, dtype=float)
    out = np.empty(len(signal) - len(kernel) + 1)
    for i in range(len(out)):
        out[i] = signal[i : i + len(kernel)] @ kernel
    return out


def conv2d_naive(x, kernel, bias, strides=(1, 1), padding="valid"):
    """Keras's ``Conv2D`` forward pass (no activation), with loops: see what a convolution is.

    For each output position ``(i, j)`` take the window of the (padded) input
    that starts at row ``i * sh``, column ``j * sw``, of size ``(kh, kw)``
    across all input channels, multiply it elementwise by each filter and
    add everything up, plus that filter's bias::

        out[b, i, j, f] = bias[f] + sum over di, dj, c of
                          xp[b, i*sh + di, j*sw + dj, c] * kernel[di, dj, c, f]

    (``xp`` is ``x`` padded as described in the module docstring.)

    Args:
        x: images, ``(batch, height, width, in_ch)``.
        kernel: ``(kh, kw, in_ch, filters)``.
        bias: ``(filters,)``.
        strides: ``(sh, sw)``, how far the window moves each step.
        padding: ``"valid"`` or ``"same"``.

    Returns:
        ``(batch, out_h, out_w, filters)``, float64.

    Example:
        >>> x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)        # [[1 2 3] [4 5 6] [7 8 9]]
        >>> kernel = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(2, 2, 1, 1)
        >>> conv2d_naive(x, kernel, np.array([0.5]))[0, :, :, 0]
        array([[-3.5, -3.5],                                     # 1*1 + 5*(-1) + 0.5 = -3.5
               [-3.5, -3.5]])                                    # 2 - 6 + 0.5, 4 - 8 + 0.5, 5 - 9 + 0.5
    """
    # TODO: kata conv.conv2d_naive
    raise NotImplementedError("kata conv.conv2d_naive")


def im2col(x, kernel_size, strides=(1, 1), padding="valid"):
    """Every window of ``x`` as one row of a matrix ("image to columns").

    The trick that makes convolutions fast: once all windows are rows of one
    matrix, the whole convolution is a single matrix product with
    ``kernel.reshape(-1, filters)`` (next kata). Layout, exactly:

    * shape ``(batch * out_h * out_w, kh * kw * in_ch)``;
    * rows in ``(batch, out_h, out_w)`` C order: row ``(b*out_h + i)*out_w + j``
      is the window of output ``(b, i, j)``;
    * a row holds its window in ``(kh, kw, in_ch)`` C order, the order of
      ``kernel.reshape(-1, filters)``: ``window.reshape(-1)``.

        x (1, 3, 3, 1), kernel_size 2:           im2col -> (4, 4)
        1 2 3                                    [1 2 4 5]   window (0, 0)
        4 5 6                                    [2 3 5 6]   window (0, 1)
        7 8 9                                    [4 5 7 8]   window (1, 0)
                                                 [5 6 8 9]   window (1, 1)

    Args:
        x: ``(batch, height, width, in_ch)``.
        kernel_size: ``(kh, kw)`` or one int for both.
        strides, padding: as in ``conv2d_naive`` ("same" pads with zeros).

    Returns:
        ``(batch * out_h * out_w, kh * kw * in_ch)``, float64.
    """
    # TODO: kata conv.im2col
    raise NotImplementedError("kata conv.im2col")


def conv2d(x, kernel, bias, strides=(1, 1), padding="valid"):
    """The same result as ``conv2d_naive``, vectorised: no loop over output positions.

    With ``cols = im2col(x, (kh, kw), strides, padding)`` (one window per row)
    and ``K = kernel.reshape(-1, filters)`` (one filter per column)::

        out = (cols @ K + bias).reshape(batch, out_h, out_w, filters)

    Speed goal (kata conv.conv2d_at_scale): at batch 64, 28x28x32 in, 64 filters 3x3, this
    should be at least 20x faster than ``conv2d_naive`` written with four
    loops (batch, rows, columns, filters). The test checks only that it is
    right at that size; ``pytest --bench`` measures the speed (against
    ``conv2d_naive``, the answer key, TensorFlow and the GPU kernels). The
    rule of thumb: loop over the kh*kw kernel offsets if you must, never over
    pixels, and let one big matrix product do the multiply-adds.

    Args and Returns: as ``conv2d_naive``.
    """
    # TODO: kata conv.conv2d
    raise NotImplementedError("kata conv.conv2d")


def conv2d_backward(dout, x, kernel, strides=(1, 1), padding="valid"):
    """Gradients of ``conv2d``: ``(dx, dkernel, dbias)``, given ``dout`` = d loss / d output.

    Seen through im2col, a convolution is a Dense layer applied to every
    window: ``out = cols @ K + bias``. So, as in ``dense_backward``::

        dK    = cols.T @ dout_flat          -> reshape to (kh, kw, in_ch, filters)
        dbias = dout summed over batch, out_h, out_w
        dcols = dout_flat @ K.T             -> one gradient per window position

    and ``dcols`` goes back to the pixels it came from ("col2im"). Windows
    overlap when the stride is smaller than the kernel, so a pixel collects
    (``+=``) the gradients of every window it sat in::

        stride 1, k 3:  x2 sits in windows 0, 1 and 2
        [x0 x1 x2] x3 x4
         x0 [x1 x2 x3] x4        dx2 = dwin0[2] + dwin1[1] + dwin2[0]
         x0 x1 [x2 x3 x4]

    Pixels lost to "valid" (beyond the last window) get zero gradient; the
    gradient of padding cells is thrown away.

    Args:
        dout: ``(batch, out_h, out_w, filters)``.
        x, kernel, strides, padding: as in the forward pass.

    Returns:
        ``(dx, dkernel, dbias)`` with the shapes of ``x``, ``kernel`` and ``(filters,)``.
    """
    # TODO: kata conv.conv2d_backward
    raise NotImplementedError("kata conv.conv2d_backward")


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """Keras's ``MaxPooling2D``: the largest value of each window, channel by channel.

        x (one channel), pool 2x2, strides None (= pool size):
        [1 3] [2 0]
        [5 4] [1 1]          ->   [5 2]
        [0 2] [6 7]               [2 8]
        [1 0] [8 3]

    ``strides=None`` means ``strides = pool_size`` (windows side by side).
    Output sizes are the convolution's. With ``"same"`` the padded cells never
    win: pad with ``-inf``, not 0 (a 0 would beat negative inputs).

    Args:
        x: ``(batch, height, width, channels)``.
        pool_size: ``(ph, pw)`` or one int.
        strides: ``(sh, sw)``, one int, or None.
        padding: ``"valid"`` or ``"same"``.

    Returns:
        ``(batch, out_h, out_w, channels)``.
    """
    # TODO: kata conv.max_pool2d
    raise NotImplementedError("kata conv.max_pool2d")


def max_pool2d_backward(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    """Gradient of ``max_pool2d``: each window sends its gradient to its maximum only.

    Nudging a value that is not its window's maximum does not change the
    output, so its gradient is 0; the maximum passes ``dout`` straight through.
    When windows overlap (pool 3, stride 1 or 2) one input can be the maximum
    of several windows: its gradient is the *sum* of theirs (``+=``, never ``=``)::

        x = [1 9 2 0], pool 3, stride 1:  windows [1 9 2] and [9 2 0] both pick 9
        dout = [a b]  ->  dx = [0  a+b  0  0]

    Ties (two equal maxima in a window) do not occur in the tests; TensorFlow
    gives the gradient to the first maximum in row-major order.

    Args:
        dout: ``(batch, out_h, out_w, channels)``.
        x, pool_size, strides, padding: as in the forward pass.

    Returns:
        ``dx``, the shape of ``x``.
    """
    # TODO: kata conv.max_pool2d_backward
    raise NotImplementedError("kata conv.max_pool2d_backward")


def flatten(x):
    """``(batch, h, w, c) -> (batch, h * w * c)``, as Keras's ``Flatten``.

    Keep the batch axis; the rest is read in row-major (C) order, the channel
    changing fastest: ``[x[b, 0, 0, 0], x[b, 0, 0, 1], ..., x[b, 0, 1, 0], ...]``.

    Example:
        >>> flatten(np.zeros((32, 5, 5, 64))).shape
        (32, 1600)
    """
    # TODO: kata conv.flatten
    raise NotImplementedError("kata conv.flatten")


# ----------------------------------------------------------------- layers
# Layers for your Sequential (model.py). Each follows the layer protocol of
# `Layer`: build(input_shape, rng), forward(x, training=False), backward(dout),
# compute_output_shape(input_shape). Shapes given to build and
# compute_output_shape are per sample (no batch axis): (height, width, channels).


class Conv2D(Layer):
    """``activation(conv2d(x, kernel, bias, strides, padding))``, like ``keras.layers.Conv2D``.

    * ``build``: ``self.weights = [kernel, bias]`` (Keras's order); kernel
      ``(kh, kw, input_shape[-1], filters)`` from ``glorot_uniform(shape, rng)``,
      whose fans for a conv kernel are ``kh*kw*in_ch`` and ``kh*kw*filters``;
      bias zeros.
    * ``forward``: remember ``x`` and ``z = conv2d(...)``; return ``activation(z)``.
    * ``backward``: ``dz = activation_backward(dout, z)``, then
      ``conv2d_backward``; set ``self.grads = [dkernel, dbias]``; return ``dx``.
    * ``compute_output_shape``: ``(out_h, out_w, filters)``.

    ``kernel_size`` and ``strides`` accept one int or a pair, as Keras does.
    ``get_activation(name)`` (from model.py) gives ``(forward, backward)``.

    Example (the seed's first layer): ``Conv2D(32, (3, 3), activation="relu",
    input_shape=(28, 28, 1))`` has 3*3*1*32 + 32 = 320 parameters and
    outputs ``(26, 26, 32)``.
    """

    def __init__(
        self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None, name=None, input_shape=None
    ):
        super().__init__(name=name, input_shape=input_shape)
        # TODO: kata conv.Conv2D
        raise NotImplementedError("kata conv.Conv2D")


class MaxPooling2D(Layer):
    """``max_pool2d`` as a layer: no weights; ``strides=None`` means the pool size.

    ``backward(dout)`` returns ``max_pool2d_backward(dout, x, ...)`` for the
    ``x`` of the last ``forward``. ``compute_output_shape``: ``(out_h, out_w, channels)``.

    Example: ``MaxPooling2D((2, 2))`` turns ``(26, 26, 32)`` into ``(13, 13, 32)``.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        # TODO: kata conv.MaxPooling2D
        raise NotImplementedError("kata conv.MaxPooling2D")


class Flatten(Layer):
    """``flatten`` as a layer: ``(h, w, c) -> (h*w*c,)`` per sample; backward reshapes ``dout`` back.

    Example: ``Flatten()`` turns ``(5, 5, 64)`` into ``(1600,)``.
    """

    def __init__(self, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        # TODO: kata conv.Flatten
        raise NotImplementedError("kata conv.Flatten")


# The capstone (kata conv.seed_cnn) builds the seed's CNN from your layers in your
# Sequential: Conv2D 32 3x3 relu -> MaxPooling2D 2 -> Conv2D 64 3x3 relu ->
# MaxPooling2D 2 -> Flatten -> Dense 64 relu -> Dense 10 softmax (121,930
# parameters), checks its fit against Keras's, then trains it on the digits.
