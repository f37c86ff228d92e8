"""Regularisation: the answer key (Dropout, L2 penalties, BatchNormalization), following Keras 3.

Inverted dropout (``keras.layers.Dropout``): in training, each unit is kept
with probability ``1 - rate`` and the kept ones are scaled by ``1 / (1 - rate)``,
so that the expected output equals the input and inference is the identity.

L2 (``keras.regularizers.L2``): ``l2 * sum(w ** 2)``, no factor 1/2, so the
gradient is ``2 * l2 * w``.

BatchNormalization (``keras.layers.BatchNormalization``, ``axis=-1``): in
training, normalise with the batch's mean and *biased* variance over every
axis but the last, and move the moving statistics by
``moving = moving * momentum + batch * (1 - momentum)``; at inference,
normalise with the moving statistics and leave them alone.

How the layers reach your Sequential without reopening a passed kata: the
model track's ``Layer`` carries a ``regularization_loss()`` hook (0.0 by
default) and ``Sequential.losses`` collects it, which fit and evaluate add to
the loss; the model track's tests check that, and that a training step calls
``forward(x, training=True)``. Everything else is local to the layers here:
a penalised layer adds its penalty's gradient to its own ``grads`` in
backward, and BatchNormalization's moving statistics get zero gradients, which
every optimizer of track ``optimizers`` turns into no step at all.
"""

from __future__ import annotations

import numpy as np

from . import conv as conv_module
from . import model as model_module
from .model import Layer

# ------------------------------------------------------------------ dropout


def dropout_forward(x, rate, rng, training=True):
    """Inverted dropout: ``(y, mask)``; mask True where a unit is kept, None when not training."""
    x = np.asarray(x, dtype=float)
    if not training:
        return x.copy(), None  # inference: the identity, nothing dropped and nothing scaled
    if rate >= 1:
        return np.zeros_like(x), np.zeros(x.shape, dtype=bool)  # Keras: everything dropped, no 0/0
    mask = rng.random(x.shape) >= rate  # kept with probability 1 - rate, as tf.nn.dropout draws it
    return x * mask / (1.0 - rate), mask


def dropout_backward(dout, mask, rate):
    """d loss / d x: the gradient flows only through kept units, with the same 1 / (1 - rate)."""
    dout = np.asarray(dout, dtype=float)
    if mask is None:
        return dout.copy()
    if rate >= 1:
        return np.zeros_like(dout)
    return dout * mask / (1.0 - rate)


# ----------------------------------------------------------------------- L2


def l2_penalty(kernel, l2):
    """``keras.regularizers.L2(l2)(kernel)``: ``l2 * sum(kernel ** 2)``, no factor 1/2."""
    kernel = np.asarray(kernel, dtype=float)
    return float(l2 * np.sum(kernel * kernel))


def l2_penalty_grad(kernel, l2):
    """d penalty / d kernel = ``2 * l2 * kernel`` (the 2 stays: Keras has no 1/2 to cancel it)."""
    return 2.0 * l2 * np.asarray(kernel, dtype=float)


# ---------------------------------------------------------- batch normalisation


def _rows(x):
    """``x`` as ``(n, features)``: every axis but the last is one more sample of each feature
    (the batch, and for NHWC images the pixels too). A view, and reductions over its
    axis 0 are faster than over several leading axes."""
    return x.reshape(-1, x.shape[-1])


def batch_norm_forward(x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True):
    """Keras's BatchNormalization over the last axis: ``(y, new moving_mean, new moving_variance)``."""
    x = np.asarray(x, dtype=float)
    moving_mean, moving_variance = np.asarray(moving_mean, dtype=float), np.asarray(moving_variance, dtype=float)
    if training:
        rows = _rows(x)
        mean = rows.mean(axis=0)
        variance = np.square(rows - mean).mean(axis=0)  # biased: divided by n, as Keras
        moving_mean = moving_mean * momentum + mean * (1.0 - momentum)
        moving_variance = moving_variance * momentum + variance * (1.0 - momentum)
    else:
        mean, variance = moving_mean, moving_variance
        moving_mean, moving_variance = moving_mean.copy(), moving_variance.copy()
    y = (x - mean) / np.sqrt(variance + epsilon) * gamma + beta
    return y, moving_mean, moving_variance


def batch_norm_backward(dout, x, gamma, epsilon=1e-3):
    """Gradients of a training-mode batch norm: ``(dx, dgamma, dbeta)``.

    The batch's mean and variance depend on every x, so dx has two terms
    besides the direct one; written with ``x_hat = (x - mean) / sqrt(var + eps)``:

        dx = gamma / sqrt(var + eps) * (dout - mean(dout) - x_hat * mean(dout * x_hat))

    (means over the reduction axes).
    """
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    rows, drows = _rows(x), _rows(dout)
    n = len(rows)
    centred = rows - rows.mean(axis=0)
    inverse = 1.0 / np.sqrt(np.square(centred).mean(axis=0) + epsilon)
    x_hat = centred * inverse
    dbeta = drows.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", drows, x_hat)
    dx = (np.asarray(gamma) * inverse) * (drows - dbeta / n - x_hat * (dgamma / n))
    return dx.reshape(x.shape), dgamma, dbeta


# ---------------------------------------------------------- the regularizer


class L2:
    """``keras.regularizers.L2``: called on a kernel, the penalty ``l2 * sum(kernel ** 2)``.

    ``gradient(kernel)`` is its derivative. Keras's default factor is 0.01
    (what ``kernel_regularizer="l2"`` means).
    """

    def __init__(self, l2=0.01):
        l2 = float(l2)
        if not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"Invalid value for argument l2: expected a non-negative float. Received: l2={l2}")
        self.l2 = l2

    def __call__(self, kernel):
        return l2_penalty(kernel, self.l2)

    def gradient(self, kernel):
        return l2_penalty_grad(kernel, self.l2)

    def __repr__(self):
        return f"L2(l2={self.l2})"


def get_regularizer(identifier):
    """``None``, ``"l2"`` (Keras: ``L2(0.01)``) or a regularizer object, as ``keras.regularizers.get``."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier.lower() == "l2":
        return L2()
    raise ValueError(f"Unknown regularizer: {identifier!r}. Use None, 'l2' or L2(l2)")


# ------------------------------------------------------------------- layers


class Dropout(Layer):
    """``keras.layers.Dropout(rate)``: drops units in training only; no weights.

    Its random numbers come from its own generator when a ``seed`` is given,
    otherwise from the model's (the ``rng`` of ``build``), so that
    ``Sequential(seed=...)`` reproduces a run.
    """

    def __init__(self, rate, seed=None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if not 0 <= rate <= 1:
            raise ValueError(
                f"Invalid value received for argument `rate`. Expected a float value between "
                f"0 and 1. Received: rate={rate}"
            )
        self.rate = float(rate)
        self.seed = seed
        self.rng = None if seed is None else np.random.default_rng(seed)
        self.mask = None

    def build(self, input_shape, rng):
        if self.rng is None:
            self.rng = rng
        self.built = True

    def forward(self, x, training=False):
        if self.rng is None:  # used on its own, never built
            self.rng = np.random.default_rng(self.seed)
        y, self.mask = dropout_forward(x, self.rate, self.rng, training=training)
        return y

    def backward(self, dout):
        return dropout_backward(dout, self.mask, self.rate)


class BatchNormalization(Layer):
    """``keras.layers.BatchNormalization(momentum, epsilon)`` over the last axis.

    Weights, in Keras's order: ``[gamma, beta, moving_mean, moving_variance]``
    (ones, zeros, zeros, ones), each of shape ``(features,)``. The last two
    are not trainable: forward moves them in training, and backward gives
    them zero gradients, so the optimizer leaves them where forward put them.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self._x, self._training = None, True  # what the last forward saw: backward needs both

    def build(self, input_shape, rng):
        features = input_shape[-1]
        self.weights = [np.ones(features), np.zeros(features), np.zeros(features), np.ones(features)]
        self.built = True

    def forward(self, x, training=False):
        gamma, beta, moving_mean, moving_variance = self.weights
        y, new_mean, new_variance = batch_norm_forward(
            x, gamma, beta, moving_mean, moving_variance, self.momentum, self.epsilon, training=training
        )
        if training:
            moving_mean[...] = new_mean  # in place: the model's weights are these arrays
            moving_variance[...] = new_variance
        self._x, self._training = x, training
        return y

    def backward(self, dout):
        gamma, _, moving_mean, moving_variance = self.weights
        if self._training:
            dx, dgamma, dbeta = batch_norm_backward(dout, self._x, gamma, self.epsilon)
        else:
            dx, dgamma, dbeta = _batch_norm_inference_backward(
                dout, self._x, gamma, moving_mean, moving_variance, self.epsilon
            )
        self.grads = [dgamma, dbeta, np.zeros_like(moving_mean), np.zeros_like(moving_variance)]
        return dx


def _batch_norm_inference_backward(dout, x, gamma, moving_mean, moving_variance, epsilon):
    """``(dx, dgamma, dbeta)`` after an inference forward: the moving statistics are constants, so
    the normalisation is an affine map of each feature and dx has no batch terms."""
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    inverse = 1.0 / np.sqrt(np.asarray(moving_variance) + epsilon)
    x_hat = (x - moving_mean) * inverse
    rows = tuple(range(dout.ndim - 1))  # every axis but the features
    return dout * (np.asarray(gamma) * inverse), (dout * x_hat).sum(axis=rows), dout.sum(axis=rows)


class Dense(model_module.Dense):
    """Your ``Dense`` from `model`, with Keras's ``kernel_regularizer=``.

    The penalty ``kernel_regularizer(kernel)`` joins the loss through
    ``regularization_loss()``; its gradient joins ``grads[0]`` in backward.
    """

    def __init__(self, units, activation=None, kernel_regularizer=None, name=None, input_shape=None):
        super().__init__(units, activation=activation, name=name, input_shape=input_shape)
        self.kernel_regularizer = get_regularizer(kernel_regularizer)

    def backward(self, dout):
        # Both ways back (through the activation, or from the logits) meet in
        # backward_from_logits, so the penalty's gradient is added in one place.
        return self.backward_from_logits(self._backward_activation(dout, self.z))

    def regularization_loss(self):
        if self.kernel_regularizer is None:
            return 0.0
        return self.kernel_regularizer(self.weights[0])

    def backward_from_logits(self, dz):
        dx = super().backward_from_logits(dz)
        if self.kernel_regularizer is not None:
            self.grads = [self.grads[0] + self.kernel_regularizer.gradient(self.weights[0])] + list(self.grads[1:])
        return dx


class Conv2D(conv_module.Conv2D):
    """Your ``Conv2D`` from `conv`, with Keras's ``kernel_regularizer=``."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        activation=None,
        kernel_regularizer=None,
        name=None,
        input_shape=None,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            activation=activation,
            name=name,
            input_shape=input_shape,
        )
        self.kernel_regularizer = get_regularizer(kernel_regularizer)

    def regularization_loss(self):
        if self.kernel_regularizer is None:
            return 0.0
        return self.kernel_regularizer(self.weights[0])

    def backward(self, dout):
        dx = super().backward(dout)
        if self.kernel_regularizer is not None:
            self.grads = [self.grads[0] + self.kernel_regularizer.gradient(self.weights[0])] + list(self.grads[1:])
        return dx
