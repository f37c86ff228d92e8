"""Activations.

An activation is the nonlinearity a layer applies after its weighted sum:
``Dense(64, activation="relu")`` computes ``relu(x @ kernel + bias)``. Without
one, two Dense layers are just one matrix product in disguise, however many
you stack.

Each function here works elementwise on a whole NumPy array at once (softmax
works along an axis), returns a new float64 array, and never changes its
input.

The course's rule on overflow, the same for every kata: the VALUES are checked.
NumPy's "RuntimeWarning: overflow encountered in exp" is allowed when what
comes back is finite and right (``1 / (1 + exp(1000))`` is exactly 0.0); a NaN
or inf where the answer is a number fails, and so does a tail rounded to 0
where the true value is a tiny number (``sigmoid(-50)`` is 1.9e-22). Keras's functions (``keras.activations.*``) are the reference your
answers are checked against, in float64.

The second half of the track is the backward pass. A ``*_backward(dout, x)``
receives ``dout``, the gradient of the loss with respect to the activation's
OUTPUT (the "upstream" gradient), and the activation's INPUT ``x``, and
returns the gradient with respect to ``x`` (the chain rule)::

    forward:    x  ──► f ──►  y = f(x)
    backward:  dx  ◄── f ◄──  dout          dx = dout * f'(x)   (elementwise)

Run ``pytest`` after each kata; it tells you what to do next.
"""

import numpy as np


# A solved example, to show the shape of an answer: Keras's "linear"
# activation (what a Dense layer uses when you give no activation).
def linear(x):
    """The identity: returns ``x`` unchanged, as a new float64 array.

    Example:
        >>> linear([-2.0, 0.0, 3.0])
        array([-2.,  0.,  3.])
    """
    return np.array(x, dtype=float)  # np.array copies: the caller's array stays untouched


def relu(x):
    """Rectified Linear Unit: ``max(x, 0)``, elementwise.

    The default activation of hidden layers: cheap, and its gradient does not
    shrink for positive inputs::

        relu(x)
          |      /
          |    /
          |  /
        __|/_______ x
          0

    Args:
        x: an array of any shape, e.g. ``(batch, units)``.

    Returns:
        A new float64 array of the same shape.

    Example (the seed's):
        >>> relu(np.array([5.0, -3.0, 0.0]))
        array([5., 0., 0.])          # ReLU(5) = 5, ReLU(-3) = 0
    """
    # TODO: kata activations.relu
    raise NotImplementedError("kata activations.relu")


def sigmoid(x):
    """Logistic sigmoid: ``1 / (1 + exp(-x))``, elementwise, squashing any number into (0, 1).

    Used for probabilities of a yes/no answer (the output of a binary
    classifier) and as the gates of an LSTM.

    Numerical stability: ``exp(-x)`` overflows float64 for ``x < -709``
    (``exp(1000)`` is ``inf``, and NumPy warns "overflow encountered in exp").
    The textbook form survives that (1 / inf is 0.0, and a warning with right
    values passes), but ``exp(x) / (1 + exp(x))`` is inf / inf = NaN at
    x = 1000, and ``0.5 * (1 + tanh(x / 2))`` rounds ``sigmoid(-50)`` to 0.
    The recipe that is exact everywhere, with no warning: only ever
    exponentiate a number <= 0::

        x >= 0:  1 / (1 + exp(-x))           exp(-x) is in (0, 1]
        x <  0:  exp(x) / (1 + exp(x))       the same value (multiply top and bottom by exp(x))

    Careful with ``np.where(cond, a, b)``: it computes BOTH ``a`` and ``b`` for
    every element, so each branch must be safe on its own. Compute
    ``e = exp(-|x|)`` once and build both branches from it.

    Args:
        x: an array of any shape.

    Returns:
        A new float64 array of the same shape, values in [0, 1].

    Example (the seed's):
        >>> sigmoid(np.array([0.0, 5.0, -5.0]))
        array([0.5       , 0.99330715, 0.00669285])
        >>> sigmoid(np.array([-1000.0, 1000.0]))     # finite (with the recipe: no warning either)
        array([0., 1.])
        >>> sigmoid(np.array([-50.0]))               # a tail is a tiny number, not 0
        array([1.92874985e-22])
    """
    # TODO: kata activations.sigmoid
    raise NotImplementedError("kata activations.sigmoid")


def tanh(x):
    """Hyperbolic tangent: ``(exp(x) - exp(-x)) / (exp(x) + exp(-x))``, elementwise, into (-1, 1).

    A zero-centred cousin of the sigmoid: ``tanh(x) = 2 * sigmoid(2x) - 1``.
    The textbook formula overflows at |x| > 710 (inf / inf is NaN); NumPy's
    ``np.tanh`` does not, and you may use it. ``2 / (1 + exp(-2x)) - 1`` is
    also right: at x = -1000 NumPy warns about the overflow, but 2 / inf is 0.0
    and the value, -1, is exact (a warning with right values passes).

    Args:
        x: an array of any shape.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> tanh(np.array([0.0, 1.0, -1000.0]))
        array([ 0.        ,  0.76159416, -1.        ])
    """
    # TODO: kata activations.tanh
    raise NotImplementedError("kata activations.tanh")


def softmax(x, axis=-1):
    """Softmax: ``exp(x) / sum(exp(x))`` along ``axis``; turns scores into probabilities.

    The output layer of a classifier: for a batch of scores of shape
    ``(batch, classes)``, each ROW becomes probabilities that sum to 1
    (``axis=-1``, the last axis, is the classes axis)::

        x = [[2.0, 1.0, 0.1],        softmax(x) = [[0.66, 0.24, 0.10],   <- sums to 1
             [1.0, 1.0, 1.0]]                      [0.33, 0.33, 0.33]]   <- sums to 1

    Numerical stability: ``exp(1000)`` is ``inf`` and inf / inf is NaN. The
    recipe: subtract each row's max first. It changes nothing mathematically
    (``exp(x - c) / sum(exp(x - c))``: the ``exp(-c)`` cancels) but makes every
    exponent <= 0. Take the max and the sum along ``axis`` with
    ``keepdims=True`` so they broadcast back against ``x``.

    Args:
        x: an array of shape ``(batch, classes)`` (any shape works).
        axis: the axis along which the values must sum to 1.

    Returns:
        A new float64 array of the same shape as ``x``.

    Example (the seed's):
        >>> softmax(np.array([2.0, 1.0, 0.1]))
        array([0.65900114, 0.24243297, 0.09856589])    # about [0.66, 0.24, 0.10]
    """
    # TODO: kata activations.softmax
    raise NotImplementedError("kata activations.softmax")


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: ``x`` where ``x >= 0``, ``negative_slope * x`` below, elementwise.

    A ReLU whose negative side keeps a small slope, so that a neuron whose
    inputs went negative still gets a gradient (ReLU's "dying neurons")::

        leaky_relu(x)
          |      /
          |    /
          |  /
        __|/_______ x
      __/ 0              slope 0.2 on the left

    Keras's default slope is 0.2 (PyTorch's ``LeakyReLU`` defaults to 0.01:
    this kata follows Keras).

    Args:
        x: an array of any shape.
        negative_slope: the slope for negative inputs.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> leaky_relu(np.array([3.0, -2.0]))
        array([ 3. , -0.4])
        >>> leaky_relu(np.array([3.0, -2.0]), negative_slope=0.5)
        array([ 3., -1.])
    """
    # TODO: kata activations.leaky_relu
    raise NotImplementedError("kata activations.leaky_relu")


def elu(x, alpha=1.0):
    """Exponential Linear Unit: ``x`` where ``x > 0``, ``alpha * (exp(x) - 1)`` below.

    Smooth at 0 (when alpha = 1), and negative outputs level off at
    ``-alpha`` instead of growing without end::

        elu(x)
          |      /
          |    /
          |  /
        __|/_______ x
      ___/ 0            floor at -alpha

    Note the brackets: ``alpha * (exp(x) - 1)``, not ``alpha * exp(x) - 1``.
    ``np.expm1(x)`` computes ``exp(x) - 1`` without losing digits near 0.

    Args:
        x: an array of any shape.
        alpha: the size of the negative floor.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> elu(np.array([2.0, -1.0, -1000.0]), alpha=0.5)
        array([ 2.        , -0.31606028, -0.5       ])
    """
    # TODO: kata activations.elu
    raise NotImplementedError("kata activations.elu")


def gelu(x):
    """Gaussian Error Linear Unit, exact form: ``x * Phi(x)``, elementwise.

    ``Phi`` is the standard normal CDF (the probability that a N(0, 1) draw is
    below x), written with the error function::

        gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2)))

    Used by BERT and GPT. Some code uses a tanh approximation,
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``; Keras's
    ``gelu`` defaults to the exact form (``approximate=False``), and so does
    this kata. ``scipy.special.erf`` works on arrays.

    Args:
        x: an array of any shape.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> gelu(np.array([1.0, 0.0, -1.0]))
        array([ 0.84134475,  0.        , -0.15865525])
    """
    # TODO: kata activations.gelu
    raise NotImplementedError("kata activations.gelu")


def silu(x):
    """Sigmoid Linear Unit (also called swish): ``x * sigmoid(x)``, elementwise.

    The input, gated by its own sigmoid: close to ReLU for large |x|, smooth
    near 0, and slightly negative for small negative x. Reuse your stable
    ``sigmoid``.

    Args:
        x: an array of any shape.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> silu(np.array([1.0, -1.0, 1000.0]))
        array([ 7.31058579e-01, -2.68941421e-01,  1.00000000e+03])
    """
    # TODO: kata activations.silu
    raise NotImplementedError("kata activations.silu")


def softplus(x):
    """Softplus: ``log(1 + exp(x))``, elementwise, a ReLU with the corner smoothed.

    For large x it is x (plus almost nothing), for very negative x it is
    ``exp(x)`` (tiny but not zero), and its slope is ``sigmoid(x)``. Two
    traps hide in the formula as written:

    * at x = 1000, ``exp(x)`` overflows to inf;
    * at x = -40, ``exp(x)`` is 4.2e-18, and ``1 + 4.2e-18`` rounds to exactly
      1.0 in float64, so ``log`` gives 0.0: every digit is lost.

    The stable form: ``max(x, 0) + log1p(exp(-|x|))`` (``np.log1p(y)`` is
    ``log(1 + y)`` computed without rounding ``1 + y``). Keras's
    ``keras.activations.softplus`` is the reference.

    Args:
        x: an array of any shape.

    Returns:
        A new float64 array of the same shape.

    Example:
        >>> softplus(np.array([0.0, 1.0, -40.0, 1000.0]))
        array([6.93147181e-01, 1.31326169e+00, 4.24835426e-18, 1.00000000e+03])
                             # ln 2, ln(1 + e), exp(-40), 1000
    """
    # TODO: kata activations.softplus
    raise NotImplementedError("kata activations.softplus")


def relu_backward(dout, x):
    """Backward pass of ReLU: ``dx = dout * relu'(x)``.

    ReLU's slope is 1 where ``x > 0`` and 0 elsewhere (TensorFlow uses 0 at
    exactly ``x == 0``). So the upstream gradient passes where the INPUT was
    positive and is blocked elsewhere; the sign of ``dout`` plays no part::

        x     = [ 2.0, -1.0,  3.0,  0.0]
        dout  = [ 0.5,  0.7, -0.2,  0.9]
        dx    = [ 0.5,  0.0, -0.2,  0.0]

    Args:
        dout: d loss / d relu(x), same shape as ``x``.
        x: the input the forward pass received.

    Returns:
        d loss / d x, a new float64 array of the same shape.
    """
    # TODO: kata activations.relu_backward
    raise NotImplementedError("kata activations.relu_backward")


def sigmoid_backward(dout, x):
    """Backward pass of the sigmoid: ``dx = dout * s * (1 - s)`` with ``s = sigmoid(x)``.

    The well-known ``s * (1 - s)`` is written in terms of the sigmoid's
    OUTPUT. Here you receive its INPUT ``x``: compute ``s`` first (with your
    stable sigmoid, so that ``x = -1000`` is fine).

    Args:
        dout: d loss / d sigmoid(x), same shape as ``x``.
        x: the input the forward pass received.

    Returns:
        d loss / d x, a new float64 array of the same shape.

    Example:
        >>> sigmoid_backward(np.array([2.0]), np.array([0.0]))
        array([0.5])            # 2.0 * 0.5 * (1 - 0.5)
    """
    # TODO: kata activations.sigmoid_backward
    raise NotImplementedError("kata activations.sigmoid_backward")


def tanh_backward(dout, x):
    """Backward pass of tanh: ``dx = dout * (1 - tanh(x)**2)``.

    As for the sigmoid, the textbook ``1 - t**2`` uses the OUTPUT
    ``t = tanh(x)``; you receive the input ``x``.

    Args:
        dout: d loss / d tanh(x), same shape as ``x``.
        x: the input the forward pass received.

    Returns:
        d loss / d x, a new float64 array of the same shape.

    Example:
        >>> tanh_backward(np.array([3.0]), np.array([0.0]))
        array([3.])             # 3.0 * (1 - tanh(0)**2)
    """
    # TODO: kata activations.tanh_backward
    raise NotImplementedError("kata activations.tanh_backward")


def softmax_backward(dout, x, axis=-1):
    """Backward pass of softmax along ``axis``: ``dx = s * (dout - sum(dout * s))``.

    Each output ``s_j`` of a row depends on every input ``x_k`` of that row:
    the Jacobian of one row is ``J = diag(s) - s s^T``
    (``d s_j / d x_k = s_j * (delta_jk - s_k)``). The chain rule wants
    ``dx = J^T dout``, and writing it out gives, without building ``J``::

        dx_k = s_k * (dout_k - sum_j dout_j * s_j)

    The sum runs along the softmax's ``axis`` (keepdims=True, so it
    broadcasts). Only using the diagonal, ``dout * s * (1 - s)``, is a common
    mistake: it forgets that raising one score lowers the others.

    Args:
        dout: d loss / d softmax(x), same shape as ``x``, e.g. ``(batch, classes)``.
        x: the input (scores) the forward pass received.
        axis: the axis the softmax normalised over.

    Returns:
        d loss / d x, a new float64 array of the same shape.

    Example:
        >>> softmax_backward(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))
        array([[ 0.25, -0.25]])   # s = [0.5, 0.5]; sum(dout*s) = 0.5; s*(dout-0.5)
    """
    # TODO: kata activations.softmax_backward
    raise NotImplementedError("kata activations.softmax_backward")
