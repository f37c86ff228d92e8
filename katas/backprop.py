"""Backprop.

Training needs, for every weight, how much the loss changes when that weight
moves a little: the gradient. Backpropagation computes all of them in one
backward sweep, by the chain rule: a layer receives ``dout`` (d loss / d its
output) and returns d loss / d its input (for the layer below) and
d loss / d each of its weights (for the optimizer).

    forward:   x ──► [ y = x @ kernel + bias ] ──► y ──► ... ──► loss
    backward:  dx ◄── [        chain rule      ] ◄── dout ◄── ... ◄── 1

You will write three tools:

* ``numerical_gradient``: the slow, obviously-correct gradient, by nudging
  each input a little. It is how you *check* a backward pass.
* ``dense_backward``: the fast, exact gradient of a Dense layer.
* ``glorot_uniform``: the random weights a Dense or Conv2D layer starts from
  in Keras, sized so that signals (and gradients) neither explode nor vanish.

Run ``pytest`` after each kata; it tells you what to do next.
"""

import numpy as np


# A solved example, to show the shape of an answer: the backward pass of
# y = x ** 2, elementwise. The local derivative is dy/dx = 2x; the chain rule
# multiplies it by the gradient that arrives from above.
def square_backward(dout, x):
    """d loss / d x for ``y = x ** 2``, given ``dout`` = d loss / d y (same shape as x).

    Example:
        >>> square_backward(np.array([1.0, 1.0, 0.5]), np.array([3.0, -1.0, 2.0]))
        array([ 6., -2.,  2.])        # 2 * x * dout
    """
    return 2.0 * np.asarray(x, dtype=float) * np.asarray(dout, dtype=float)


def numerical_gradient(f, x, eps=1e-6):
    """The gradient of a scalar function ``f`` at ``x``, by central differences.

    Nudge one element of ``x`` up and down by ``eps`` and see how ``f`` moves:

        grad[i] = (f(x + eps * e_i) - f(x - eps * e_i)) / (2 * eps)

    where ``e_i`` is 1 at position ``i`` and 0 elsewhere. Do it for every
    position of ``x`` (``x`` may have any shape: ``np.ndindex(x.shape)`` walks
    through all positions).

    Why *central* differences? The one-sided form ``(f(x + eps) - f(x)) / eps``
    is off by about ``eps * f''(x) / 2``; the central form's error is about
    ``eps**2 * f'''(x) / 6``, a million times smaller for ``eps = 1e-6``.

        f(x)                 one-sided: slope of this chord
          │        ╱·
          │      ╱·           central: slope of this one,
          │    ·╱              which straddles x
          │  ·╱
          └──────────────
            x-eps x x+eps

    Args:
        f: a function of one array (shaped like ``x``) that returns one number.
        x: the point, an array of any shape (float64).
        eps: the nudge size.

    Returns:
        An array shaped like ``x``: ``grad[i]`` = d f / d x[i].

    Rules: ``x`` must be unchanged when you return (work on a copy, with
    ``np.array(x, dtype=float)``), and each nudge must be undone before you
    nudge the next position, or ``f`` sees the old nudges too.

    Example:
        >>> numerical_gradient(lambda v: (v ** 2).sum(), np.array([1.0, -3.0]))
        array([ 2., -6.])             # d/dv of v0**2 + v1**2 is 2v (to ~1e-10)
    """
    # TODO: kata backprop.numerical_gradient
    raise NotImplementedError("kata backprop.numerical_gradient")


def dense_backward(dout, x, kernel):
    """Backward pass of a Dense layer ``y = x @ kernel + bias``.

    Given ``dout`` = d loss / d y, return the gradients for the input, the
    kernel and the bias. The chain rule, one element at a time:

        y[b, j] = sum_i x[b, i] * kernel[i, j] + bias[j]

        d loss / d x[b, i]      = sum_j dout[b, j] * kernel[i, j]  ->  dx      = dout @ kernel.T
        d loss / d kernel[i, j] = sum_b x[b, i] * dout[b, j]       ->  dkernel = x.T @ dout
        d loss / d bias[j]      = sum_b dout[b, j]                 ->  dbias   = dout summed over the batch

    Every weight is used once per sample, so its gradient *adds up* the
    contributions of the whole batch (a sum, not a mean: if the loss is a
    mean over the batch, the 1/batch is already inside ``dout``).

    A check that never lies: every gradient has the shape of the thing it
    is the gradient of.

    Args:
        dout: d loss / d output, shape ``(batch, units)``.
        x: the layer's input, shape ``(batch, input_dim)``.
        kernel: shape ``(input_dim, units)``, as Keras stores it.

    Returns:
        ``(dx, dkernel, dbias)`` with shapes ``(batch, input_dim)``,
        ``(input_dim, units)`` and ``(units,)``. (The bias is not an argument:
        no gradient depends on its value.)

    Example:
        >>> dx, dkernel, dbias = dense_backward(
        ...     dout=np.array([[1.0, 2.0]]),            # batch of one, 2 units
        ...     x=np.array([[3.0, 4.0, 5.0]]),          # 3 inputs
        ...     kernel=np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        >>> dx          # dout @ kernel.T
        array([[1., 2., 3.]])
        >>> dkernel     # x.T @ dout
        array([[ 3.,  6.], [ 4.,  8.], [ 5., 10.]])
        >>> dbias       # dout summed over the batch
        array([1., 2.])
    """
    # TODO: kata backprop.dense_backward
    raise NotImplementedError("kata backprop.dense_backward")


def glorot_uniform(shape, rng):
    """Keras's default kernel initializer (``GlorotUniform``): random weights
    drawn uniformly from ``[-limit, limit]`` with

        limit = sqrt(6 / (fan_in + fan_out))

    so that the variance of the weights, ``limit**2 / 3 = 2 / (fan_in + fan_out)``,
    keeps the size of signals about the same from layer to layer, forward and
    backward (Glorot and Bengio, 2010).

    The *fans* count the inputs and outputs of one unit:

    * Dense kernel ``(input_dim, units)``: ``fan_in = input_dim``, ``fan_out = units``.
    * Convolution kernel ``(kh, kw, in_channels, out_channels)``: every position
      of the window is an input, so both fans are multiplied by the
      *receptive field* ``kh * kw`` (for any number of leading dimensions, the
      product of all but the last two):
      ``fan_in = kh * kw * in_channels``, ``fan_out = kh * kw * out_channels``.
    * A 1-D shape ``(n,)``: ``fan_in = fan_out = n``.

    Args:
        shape: a tuple of ints, the kernel's shape.
        rng: a ``numpy.random.Generator`` (``np.random.default_rng(seed)``).
            Draw from it (``rng.uniform(low, high, size=shape)``), never from
            ``np.random`` directly, so the same seed gives the same weights.

    Returns:
        A float64 array of shape ``shape``.

    Example:
        >>> w = glorot_uniform((3, 3, 32, 64), np.random.default_rng(0))
        >>> w.shape, float(abs(w).max()) <= (6 / (9*32 + 9*64)) ** 0.5     # limit 0.0833
        ((3, 3, 32, 64), True)
    """
    # TODO: kata backprop.glorot_uniform
    raise NotImplementedError("kata backprop.glorot_uniform")
