"""Regularisation: fighting overfitting inside the model.

A model with 109,386 weights and 150 training images can learn every image by
heart. Its training loss keeps falling while its validation loss turns up:

    loss                                        the seed's MLP on 150 digits
     1.0 |*.
         |  *.        val_loss                  * training loss falls for ever
     0.5 |    *..    . . o o o o                o val_loss: best, then worse
         |      *  o                              (it has begun to memorise)
     0.0 |________*_*_*_*_*_*_*_*____ epoch

Early stopping (`training`) stops at the best epoch. Three tools of Keras
make the best epoch better, from inside the model:

* **Dropout** (``keras.layers.Dropout(rate)``): in training, every unit is
  dropped (set to 0) with probability ``rate``, so no unit can rely on
  another being there. The kept ones are scaled by ``1 / (1 - rate)`` so the
  expected output stays the input ("inverted dropout"); at inference
  Dropout is the identity.
* **Weight penalties** (``kernel_regularizer=keras.regularizers.L2(l2)``):
  the loss gets ``l2 * sum(kernel ** 2)`` added, so large weights cost
  something. Keras has no factor 1/2 here: the gradient is ``2 * l2 * w``.
* **Batch normalisation** (``keras.layers.BatchNormalization``): normalise
  each feature over the batch, then scale and shift it with learnt ``gamma``
  and ``beta``. It keeps moving averages of the batch statistics for
  inference.

How these reach your ``Sequential`` without reopening a kata you passed:
your ``Layer`` (model.py) already has ``regularization_loss()`` (0.0) and your
fit and evaluate already add ``sum(self.losses)`` and call
``forward(x, training=True)`` in a training step: the model track's tests
asked for both. Here, a penalised layer returns its penalty from
``regularization_loss()`` and adds the penalty's gradient to its own
``grads`` in backward; nothing else in fit changes. A weight that must not be
trained (BatchNormalization's moving statistics) gets a zero gradient, which
every optimizer you wrote turns into no step at all.

Solved for you: ``L2`` and ``get_regularizer``, and the constructors of the
layers. Run ``pytest`` after each kata; it tells you what to do next.
"""

from __future__ import annotations

import numpy as np

from . import conv as conv_module
from . import model as model_module
from .model import Layer

# ------------------------------------------------------------------ dropout


def dropout_forward(x, rate, rng, training=True):
    """Inverted dropout, as ``keras.layers.Dropout(rate)(x, training=training)``.

    In training, keep each unit with probability ``1 - rate``, independently
    (one draw per unit: ``mask = rng.random(x.shape) >= rate``), and scale the
    kept ones so that the expected output equals ``x``::

        y = x * mask / (1 - rate)

    Not training: the identity, ``y = x`` (a copy), and ``mask = None``
    (nothing dropped, nothing scaled). ``rate = 0`` keeps everything; Keras's
    ``rate = 1`` drops everything and returns zeros (mind the 0/0).

    Example (rate 0.2: kept units are multiplied by 1 / 0.8 = 1.25)::

        x    = [[1.0,  2.0, 3.0,  4.0, 5.0]]
        mask = [[True, False, True, True, False]]        (from the rng)
        y    = [[1.25, 0.0, 3.75, 5.0, 0.0]]

    Keras draws from TensorFlow's random stream, which NumPy cannot
    reproduce, so the tests check the structure (``y`` from your mask, the
    scale, the identity at inference) and the share of kept units.

    Args:
        x: any shape (``(batch, features)``, ``(batch, timesteps, features)``, ...).
        rate: the fraction of units to DROP, in [0, 1].
        rng: a ``np.random.Generator``; draw from it only (reproducible runs).
        training: drop only when True.

    Returns:
        ``(y, mask)``: ``y`` of x's shape; ``mask`` a boolean array of x's
        shape, True where a unit is kept (``None`` when not training).
    """
    # TODO: kata regularization.dropout_forward
    raise NotImplementedError("kata regularization.dropout_forward")


def dropout_backward(dout, mask, rate):
    """d loss / d x of ``dropout_forward``, from the ``mask`` it returned.

    Forward was ``y = x * mask / (1 - rate)``: a kept unit passes its gradient
    on times the same ``1 / (1 - rate)``, a dropped one passes nothing::

        dx = dout * mask / (1 - rate)

    ``mask=None`` (forward at inference) means the identity: ``dx = dout``.
    With ``rate = 1`` everything was dropped: zeros.

    Example (rate 0.2, the mask above): ``dout = [[1, 1, 1, 1, 1]]`` gives
    ``dx = [[1.25, 0, 1.25, 1.25, 0]]``.
    """
    # TODO: kata regularization.dropout_backward
    raise NotImplementedError("kata regularization.dropout_backward")


# ----------------------------------------------------------------------- L2


def l2_penalty(kernel, l2):
    """``keras.regularizers.L2(l2)(kernel)``: ``l2 * sum(kernel ** 2)``, one number.

    Keras has NO factor 1/2 (some textbooks, and "weight decay", write
    ``l2 / 2 * sum(w ** 2)`` so that the gradient is ``l2 * w``). The sum
    runs over every entry, whatever the kernel's shape.

    Example: ``l2_penalty([[1, -2], [3, 0.5]], 0.01) = 0.01 * (1 + 4 + 9 + 0.25) = 0.1425``.

    (Keras casts ``l2`` through float32, so ``L2(0.01)`` really multiplies by
    0.0099999998: a difference of 2e-8, inside the tests' tolerance.)
    """
    # TODO: kata regularization.l2_penalty
    raise NotImplementedError("kata regularization.l2_penalty")


def l2_penalty_grad(kernel, l2):
    """d ``l2_penalty(kernel, l2)`` / d kernel: ``2 * l2 * kernel``, the kernel's shape.

    Example: ``l2_penalty_grad([[1, -2], [3, 0.5]], 0.01) = [[0.02, -0.04], [0.06, 0.01]]``.
    """
    # TODO: kata regularization.l2_penalty_grad
    raise NotImplementedError("kata regularization.l2_penalty_grad")


# ---------------------------------------------------------- batch normalisation


def batch_norm_forward(x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True):
    """``keras.layers.BatchNormalization(momentum, epsilon)(x, training=training)``, axis=-1.

    Each feature (the last axis) is normalised over every other axis: the
    batch for Dense inputs ``(batch, features)``, the batch and the pixels for
    images ``(batch, height, width, channels)``::

        training:   mean = x.mean(axes),  var = x.var(axes)    (biased: divided by n)
                    moving_mean     <- moving_mean * momentum + mean * (1 - momentum)
                    moving_variance <- moving_variance * momentum + var * (1 - momentum)
        inference:  mean, var = moving_mean, moving_variance   (and they do not move)

        y = gamma * (x - mean) / sqrt(var + epsilon) + beta

    Keras facts that differ from other frameworks: the variance is the
    biased one, in the normalisation AND in the moving average (PyTorch keeps
    the unbiased one there); ``momentum=0.99`` is the share of the OLD value
    kept (PyTorch's momentum 0.1 is the share of the new one); ``epsilon``
    is 1e-3 (PyTorch's is 1e-5).

    Example (training, the defaults, gamma ones, beta zeros, moving stats 0 and 1)::

        x = [[1, 2],          mean = [2, 4]    var = [1, 4]
             [3, 6]]
        y = [[-1/sqrt(1.001), -2/sqrt(4.001)],   = [[-0.9995, -0.9999],
             [ 1/sqrt(1.001),  2/sqrt(4.001)]]      [ 0.9995,  0.9999]]
        moving_mean = 0.99 * [0, 0] + 0.01 * [2, 4] = [0.02, 0.04]
        moving_variance = 0.99 * [1, 1] + 0.01 * [1, 4] = [1.0, 1.03]

    Args:
        x: ``(batch, features)`` or ``(batch, height, width, channels)``.
        gamma, beta, moving_mean, moving_variance: ``(features,)`` each.

    Returns:
        ``(y, new_moving_mean, new_moving_variance)``; new arrays: the inputs
        are left unchanged.
    """
    # TODO: kata regularization.batch_norm_forward
    raise NotImplementedError("kata regularization.batch_norm_forward")


def batch_norm_backward(dout, x, gamma, epsilon=1e-3):
    """Gradients of a training-mode ``batch_norm_forward``: ``(dx, dgamma, dbeta)``.

    With ``x_hat = (x - mean) / sqrt(var + epsilon)`` and ``y = gamma * x_hat + beta``
    (mean and var of this batch, over every axis but the last)::

        dbeta  = sum(dout)            over the reduction axes: shape (features,)
        dgamma = sum(dout * x_hat)
        dx     = gamma / sqrt(var + epsilon) * (dout - mean(dout) - x_hat * mean(dout * x_hat))

    The last two terms of dx are there because the batch's mean and variance
    depend on every x: move one x and you move the statistics that normalise
    all the others. Work it out from the chain rule once (d var / d x, d
    mean / d x), or trust the formula and let the tests, which ask
    ``tf.GradientTape``, judge.

    Args:
        dout: d loss / d y, x's shape.
        x: the input of the forward pass.
        gamma: ``(features,)``.
    """
    # TODO: kata regularization.batch_norm_backward
    raise NotImplementedError("kata regularization.batch_norm_backward")


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

    * ``forward(x, training=False)``: ``dropout_forward`` with ``self.rate``,
      ``self.rng`` and ``training``; keep the mask for backward; return ``y``.
    * ``backward(dout)``: ``dropout_backward`` with the mask of the last forward.

    Its random numbers come from ``self.rng``: its own generator when a
    ``seed`` is given, otherwise the model's (the ``rng`` given to ``build``),
    so that ``Sequential(seed=...)`` reproduces a run. ``build`` and the
    constructor are given.

    Example: ``Sequential([Input(shape=(784,)), Dense(128, "relu"), Dropout(0.3), ...])``.
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
        """``y`` of ``dropout_forward(x, self.rate, self.rng, training)``; keep its mask as ``self.mask``."""
        if self.rng is None:  # used on its own, never built
            self.rng = np.random.default_rng(self.seed)
        # TODO: kata regularization.Dropout
        raise NotImplementedError("kata regularization.Dropout: Dropout.forward")

    def backward(self, dout):
        """``dropout_backward(dout, self.mask, self.rate)``."""
        # TODO: kata regularization.Dropout
        raise NotImplementedError("kata regularization.Dropout: Dropout.backward")


class BatchNormalization(Layer):
    """``keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3)`` over the last axis.

    * ``build(input_shape, rng)``: ``self.weights`` in Keras's order,
      ``[gamma, beta, moving_mean, moving_variance]``, each ``(features,)``
      with ``features = input_shape[-1]``, starting at ones, zeros, zeros,
      ones. ``count_params`` (given) then counts ``4 * features``, as Keras
      does, though only gamma and beta are trained.
    * ``forward(x, training=False)``: ``batch_norm_forward`` with the layer's
      weights, momentum and epsilon. In training, write the new moving
      statistics INTO the existing arrays (``moving_mean[...] = new``): the
      model's get_weights, set_weights and optimizer hold those arrays. Keep
      ``x`` and ``training`` for backward (``self._x``, ``self._training``).
    * ``backward(dout)``: ``batch_norm_backward``; ``self.grads = [dgamma,
      dbeta, zeros, zeros]``, one gradient per weight. A zero gradient is how
      a non-trainable weight looks to your optimizers: SGD, RMSprop and Adam
      all take no step on it, so the moving statistics stay where forward put
      them. After a forward with ``training=False`` the layer normalised with
      its moving statistics, which are constants: then ``x_hat = (x -
      moving_mean) / sqrt(moving_variance + epsilon)``, ``dx = dout * gamma /
      sqrt(moving_variance + epsilon)``, ``dgamma = sum(dout * x_hat)`` and
      ``dbeta = sum(dout)`` (sums over every axis but the last), as
      ``tf.GradientTape`` gives for ``layer(x, training=False)``.

    Example: ``BatchNormalization()`` after ``Dense(64)`` on ``(784,)`` inputs
    has 256 parameters and outputs ``(64,)``.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self._x, self._training = None, True  # what the last forward saw: backward needs both

    def build(self, input_shape, rng):
        """``self.weights = [gamma, beta, moving_mean, moving_variance]``; ``self.built = True``."""
        # TODO: kata regularization.BatchNormalization
        raise NotImplementedError("kata regularization.BatchNormalization: BatchNormalization.build")

    def forward(self, x, training=False):
        """Normalise ``x``; in training, move the moving statistics in place."""
        # TODO: kata regularization.BatchNormalization
        raise NotImplementedError("kata regularization.BatchNormalization: BatchNormalization.forward")

    def backward(self, dout):
        """``dx``; ``self.grads = [dgamma, dbeta, zeros, zeros]``."""
        # TODO: kata regularization.BatchNormalization
        raise NotImplementedError("kata regularization.BatchNormalization: BatchNormalization.backward")


class Dense(model_module.Dense):
    """Your ``Dense`` from `model`, with Keras's ``kernel_regularizer=``.

    ``Dense(64, activation="relu", kernel_regularizer=L2(1e-3))`` adds
    ``L2(1e-3)(kernel)`` to the loss. Two methods make that happen:

    * ``regularization_loss()``: the penalty, ``self.kernel_regularizer(kernel)``,
      or 0.0 without a regularizer. Your Sequential adds it to every batch's
      loss (``sum(self.losses)``), as Keras adds ``model.losses``.
    * ``backward_from_logits(dz)``: your Dense's backward (``super()``), then
      add the penalty's gradient ``self.kernel_regularizer.gradient(kernel)``
      to ``self.grads[0]`` (the bias is not penalised). ``backward`` (given)
      goes through ``backward_from_logits``, so both ways back get it.

    Keras's order of the arguments is kept: units, activation, then
    kernel_regularizer.
    """

    def __init__(self, units, activation=None, kernel_regularizer=None, name=None, input_shape=None):
        super().__init__(units, activation=activation, name=name, input_shape=input_shape)
        self.kernel_regularizer = get_regularizer(kernel_regularizer)

    def backward(self, dout):
        # Both ways back (through the activation, or from the logits) meet in
        # backward_from_logits, so the penalty's gradient is added in one place.
        return self.backward_from_logits(self._backward_activation(dout, self.z))

    def regularization_loss(self):
        """``self.kernel_regularizer(kernel)``, or 0.0 when there is none."""
        # TODO: kata regularization.Dense
        raise NotImplementedError("kata regularization.Dense: Dense.regularization_loss")

    def backward_from_logits(self, dz):
        """Your Dense's backward, then ``grads[0] += the penalty's gradient``; returns dx."""
        # TODO: kata regularization.Dense
        raise NotImplementedError("kata regularization.Dense: Dense.backward_from_logits")


class Conv2D(conv_module.Conv2D):
    """Your ``Conv2D`` from `conv`, with Keras's ``kernel_regularizer=``.

    The same two steps as the penalised ``Dense``: ``regularization_loss()``
    returns ``self.kernel_regularizer(kernel)`` (or 0.0), and ``backward``
    runs your Conv2D's backward (``super().backward(dout)``) and adds the
    penalty's gradient to ``self.grads[0]``.
    """

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
        """``self.kernel_regularizer(kernel)``, or 0.0 when there is none."""
        # TODO: kata regularization.Conv2D
        raise NotImplementedError("kata regularization.Conv2D: Conv2D.regularization_loss")

    def backward(self, dout):
        """Your Conv2D's backward, then ``grads[0] += the penalty's gradient``; returns dx."""
        # TODO: kata regularization.Conv2D
        raise NotImplementedError("kata regularization.Conv2D: Conv2D.backward")


# The capstone (kata regularization.overfitting) trains the seed's MLP on 150
# digits (validated on 450 more) twice: as it is (it overfits: val_loss bottoms
# out within a few epochs, then climbs), then with Dropout, L2 and your
# EarlyStopping (its best val_loss is lower and it stops well before its 60
# epochs), and draws both runs in one picture. Before that it checks your fit against
# keras.Model.fit on a model with L2 penalties and one with BatchNormalization.
