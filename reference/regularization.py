"""Reference answers for the `regularization` track, computed by Keras itself in float64.

Every expected value is what a real Keras object gives: ``keras.layers.Dropout``,
``keras.regularizers.L2``, ``keras.layers.BatchNormalization``, ``Dense`` and
``Conv2D`` with ``kernel_regularizer=``, and ``keras.Model.fit`` of models built
from them; gradients by ``tf.GradientTape``.

Dropout's mask comes from TensorFlow's random stream, which NumPy cannot
reproduce, so for Dropout this module reports what *can* be compared: the
fraction of units Keras keeps, the factor its kept units are scaled by, and
the factor its gradient carries, each measured on Keras's own output.

A model is described by its per-sample input shape and a list of layer
tuples: ``("dense", units, activation, l2)`` (``l2`` None for no penalty),
``("dropout", rate)``, ``("batch_norm", momentum, epsilon)``.
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, gradient, keras, tf
from .model import _fresh_names, first_batch_gradients_of, float64_everywhere, optimizer

# ------------------------------------------------------------------ dropout


@float64_everywhere()
def dropout_layer(input_shape, rate):
    """A fresh ``keras.layers.Dropout``: its weights, parameter count and per-sample output shape."""
    layer = keras().layers.Dropout(rate, dtype="float64")
    layer.build((None,) + tuple(input_shape))
    return {
        "weights": [w.copy() for w in layer.get_weights()],
        "count_params": int(layer.count_params()),
        "output_shape": tuple(layer.compute_output_shape((None,) + tuple(input_shape))[1:]),
    }


@float64_everywhere()
def dropout_inference(x, rate):
    """``Dropout(rate)(x, training=False)``."""
    return keras().layers.Dropout(rate, dtype="float64")(constant(x), training=False).numpy()


@float64_everywhere()
def dropout_statistics(shape, rate, seed=0):
    """What Keras's Dropout does in training, measured on an input of ones.

    Returns ``kept_fraction`` (the share of non-zero outputs), ``scale`` (the
    value of a kept unit: the factor kept units are multiplied by) and
    ``gradient_scale`` (d output / d input at a kept unit, by GradientTape;
    0 at the dropped ones). With ``rate=1`` nothing is kept and both factors
    are reported as 0.
    """
    layer = keras().layers.Dropout(rate, seed=seed, dtype="float64")
    x = tf().Variable(np.ones(shape), dtype="float64")
    with tf().GradientTape() as tape:
        y = layer(x, training=True)
        total = tf().reduce_sum(y)
    dx = tape.gradient(total, x)
    dx = np.zeros(shape) if dx is None else dx.numpy()  # rate=1: Keras returns zeros, unconnected to x
    y = y.numpy()
    kept = y != 0
    return {
        "kept_fraction": float(kept.mean()),
        "scale": float(y[kept].max()) if kept.any() else 0.0,
        "scale_spread": float(np.ptp(y[kept])) if kept.any() else 0.0,
        "gradient_scale": float(dx[kept].max()) if kept.any() else 0.0,
        "gradient_at_dropped": float(np.abs(dx[~kept]).max()) if (~kept).any() else 0.0,
    }


# ----------------------------------------------------------------------- L2


def l2_penalty(kernel, l2):
    """``keras.regularizers.L2(l2)(kernel)``."""
    return float(keras().regularizers.L2(l2)(constant(kernel)).numpy())


def l2_penalty_grad(kernel, l2):
    """d ``L2(l2)(kernel)`` / d kernel, by GradientTape."""
    regularizer = keras().regularizers.L2(l2)
    return gradient(lambda k: regularizer(k), kernel)[0]


# ---------------------------------------------------------- batch normalisation


def _batch_norm(num_features, ndim, momentum, epsilon, weights=None):
    layer = keras().layers.BatchNormalization(momentum=momentum, epsilon=epsilon, dtype="float64")
    layer.build((None,) * (ndim - 1) + (num_features,))
    if weights is not None:
        layer.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    return layer


@float64_everywhere()
def batch_norm_layer(input_shape, momentum=0.99, epsilon=1e-3):
    """A fresh ``BatchNormalization`` for per-sample ``input_shape``: weights (Keras order),
    their names and trainability, the parameter count and the per-sample output shape."""
    layer = _batch_norm(input_shape[-1], len(input_shape) + 1, momentum, epsilon)
    return {
        "weights": [w.copy() for w in layer.get_weights()],
        "names": [v.name for v in layer.weights],
        "trainable": [bool(v.trainable) for v in layer.weights],
        "count_params": int(layer.count_params()),
        "output_shape": tuple(layer.compute_output_shape((None,) + tuple(input_shape))[1:]),
    }


@float64_everywhere()
def batch_norm_forward(x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True):
    """``BatchNormalization(momentum, epsilon)`` with these weights, called on ``x``:
    ``(y, moving_mean after, moving_variance after)``."""
    x = np.asarray(x, dtype=np.float64)
    layer = _batch_norm(x.shape[-1], x.ndim, momentum, epsilon, [gamma, beta, moving_mean, moving_variance])
    y = layer(constant(x), training=training).numpy()
    _, _, mean, variance = layer.get_weights()
    return y, mean, variance


@float64_everywhere()
def batch_norm_backward(dout, x, gamma, beta, epsilon=1e-3):
    """``(dx, dgamma, dbeta)`` of ``sum(dout * BatchNormalization(x, training=True))`` by GradientTape."""
    x = np.asarray(x, dtype=np.float64)
    features = x.shape[-1]
    layer = _batch_norm(features, x.ndim, 0.99, epsilon, [gamma, beta, np.zeros(features), np.ones(features)])
    t = tf()
    x_var = t.Variable(x)
    with t.GradientTape() as tape:
        total = t.reduce_sum(layer(x_var, training=True) * constant(dout))
    dx, dgamma, dbeta = tape.gradient(total, [x_var, layer.gamma.value, layer.beta.value])
    return dx.numpy(), dgamma.numpy(), dbeta.numpy()


# ------------------------------------------------- layers with a kernel_regularizer


def _regularized_pass(layer, x, dout):
    """Forward, the layer's penalty, and the gradients of ``sum(dout * y) + penalty``."""
    t = tf()
    x_var = t.Variable(np.asarray(x, dtype=np.float64))
    with t.GradientTape() as tape:
        y = layer(x_var)
        penalty = t.add_n(layer.losses) if layer.losses else t.constant(0.0, dtype="float64")
        total = t.reduce_sum(y * constant(dout)) + penalty
    dx, dkernel, dbias = tape.gradient(total, [x_var, layer.kernel.value, layer.bias.value])
    return {
        "y": y.numpy(),
        "penalty": float(penalty.numpy()),
        "dx": dx.numpy(),
        "dkernel": dkernel.numpy(),
        "dbias": dbias.numpy(),
    }


@float64_everywhere()
def dense_regularized(x, kernel, bias, activation, l2, dout):
    """``Dense(units, activation, kernel_regularizer=L2(l2))`` with this kernel and bias:
    its output, its penalty (``sum(layer.losses)``) and, by GradientTape, the
    gradients of ``sum(dout * output) + penalty`` for x, kernel and bias."""
    kernel = np.asarray(kernel, dtype=np.float64)
    layer = keras().layers.Dense(
        kernel.shape[1],
        activation=activation,
        dtype="float64",
        kernel_regularizer=None if l2 is None else keras().regularizers.L2(l2),
    )
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, np.asarray(bias, dtype=np.float64)])
    return _regularized_pass(layer, x, dout)


@float64_everywhere()
def conv2d_regularized(x, kernel, bias, activation, l2, dout, strides=(1, 1), padding="valid"):
    """``Conv2D(filters, kernel_size, strides, padding, activation, kernel_regularizer=L2(l2))``:
    as ``dense_regularized``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    layer = keras().layers.Conv2D(
        kernel.shape[3],
        kernel.shape[:2],
        strides=strides,
        padding=padding,
        activation=activation,
        dtype="float64",
        kernel_regularizer=None if l2 is None else keras().regularizers.L2(l2),
    )
    layer.build((None,) + np.shape(x)[1:])
    layer.set_weights([kernel, np.asarray(bias, dtype=np.float64)])
    return _regularized_pass(layer, x, dout)


# -------------------------------------------------------------------- models


def _keras_layer(spec):
    k = keras()
    kind = spec[0]
    if kind == "dense":
        _, units, activation, l2 = spec
        return k.layers.Dense(
            units,
            activation=activation,
            dtype="float64",
            kernel_regularizer=None if l2 is None else k.regularizers.L2(l2),
        )
    if kind == "dropout":
        return k.layers.Dropout(spec[1], dtype="float64")
    if kind == "batch_norm":
        return k.layers.BatchNormalization(momentum=spec[1], epsilon=spec[2], dtype="float64")
    raise ValueError(f"unknown layer spec {spec!r}")


@float64_everywhere()
def _build(input_shape, layers, weights=None):
    """A float64 ``keras.Sequential`` of these layer specs, with ``weights`` (Keras order) if given."""
    k = keras()
    with _fresh_names():
        model = k.Sequential([k.Input(shape=tuple(input_shape), dtype="float64")] + [_keras_layer(s) for s in layers])
    if weights is not None:
        model.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    return model


def model_facts(input_shape, layers):
    """The Keras model's ``count_params()`` and the shapes of ``get_weights()``, in Keras order."""
    model = _build(input_shape, layers)
    return {"count_params": int(model.count_params()), "weight_shapes": [tuple(w.shape) for w in model.get_weights()]}


@float64_everywhere()
def fit(input_shape, layers, weights, x, y, loss, optimizer_spec, epochs, batch_size=32, validation_split=0.0):
    """``model.fit(..., shuffle=False)`` from these weights: ``(history.history, weights after)``."""
    model = _build(input_shape, layers, weights)
    model.compile(optimizer=optimizer(optimizer_spec[0], **dict(optimizer_spec[1])), loss=loss)
    history = model.fit(
        np.asarray(x, dtype=np.float64),
        np.asarray(y),
        epochs=epochs,
        batch_size=batch_size,
        validation_split=validation_split,
        shuffle=False,
        verbose=0,
    )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}, model.get_weights()


def first_batch_gradients(input_shape, layers, weights, x, y, loss) -> list:
    """The gradient of ``loss`` (penalties included) on ``(x, y)`` for every weight of the model of these
    layer specs, as fit's first step computes it, with the batch's statistics (None where a weight does not
    train). For models without Dropout: its random mask cannot be reproduced."""
    return first_batch_gradients_of(_build(input_shape, layers, weights), x, y, loss)


cache_public_functions(globals())
