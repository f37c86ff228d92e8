"""Reference answers for the `backprop` track, computed by TensorFlow/Keras in float64.

Gradients come from ``tf.GradientTape`` on a real Keras ``Dense`` layer; the
Glorot limit comes from Keras's own fan computation
(``keras.src.initializers.random_initializers.compute_fans``) and the
``GlorotUniform`` initializer's configuration.
"""

from __future__ import annotations

import math

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, keras, tf


def dense_backward(dout, x, kernel, bias=None):
    """``(dx, dkernel, dbias)`` of ``sum(Dense(x) * dout)``, by ``tf.GradientTape``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    bias = np.zeros(kernel.shape[1]) if bias is None else np.asarray(bias, dtype=np.float64)
    layer = keras().layers.Dense(kernel.shape[1], dtype="float64")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, bias])
    x = constant(x)
    with tf().GradientTape() as tape:
        tape.watch(x)
        target = tf().reduce_sum(layer(x) * constant(dout))
    dx, dkernel, dbias = tape.gradient(target, [x, layer.kernel, layer.bias])
    return dx.numpy(), dkernel.numpy(), dbias.numpy()


# Test functions for numerical_gradient, written with TensorFlow ops; the kata
# tests hold the same functions written with NumPy, under the same names.
_FUNCTIONS = {
    "sum_of_cubes": lambda x: tf().reduce_sum(x**3),
    "quartic": lambda x: tf().reduce_sum(x**4),
    "sin_times_exp": lambda x: tf().reduce_sum(tf().sin(x) * tf().exp(x)),
    "coupled": lambda x: tf().reduce_sum(x) ** 2 + tf().reduce_sum(x[..., :-1] * x[..., 1:]),
    "log_sum_exp": lambda x: tf().math.reduce_logsumexp(x),
}


def gradient_of(name: str, x) -> np.ndarray:
    """The exact gradient of the named test function at ``x``, by ``tf.GradientTape``."""
    x = tf().Variable(np.asarray(x, dtype=np.float64))
    with tf().GradientTape() as tape:
        value = _FUNCTIONS[name](x)
    return tape.gradient(value, x).numpy()


def glorot_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` as Keras computes them for a kernel of this shape."""
    keras()
    from keras.src.initializers.random_initializers import compute_fans

    return compute_fans(tuple(shape))


def glorot_limit(shape) -> float:
    """The half-width of Keras's ``GlorotUniform`` for this shape.

    ``GlorotUniform`` is ``VarianceScaling(scale=1, mode="fan_avg",
    distribution="uniform")``: uniform in ``[-limit, limit]`` with
    ``limit = sqrt(3 * scale / ((fan_in + fan_out) / 2))``. The scale and mode
    are read from the initializer, the fans from Keras.
    """
    initializer = keras().initializers.GlorotUniform()
    assert (initializer.mode, initializer.distribution) == ("fan_avg", "uniform")
    fan_in, fan_out = glorot_fans(shape)
    return math.sqrt(3.0 * initializer.scale / max(1.0, (fan_in + fan_out) / 2.0))


def glorot_sample(shape, seed: int) -> np.ndarray:
    """A sample from Keras's own ``GlorotUniform`` (float64), for comparing statistics."""
    return np.asarray(keras().initializers.GlorotUniform(seed=seed)(tuple(shape), dtype="float64"))


cache_public_functions(globals())
