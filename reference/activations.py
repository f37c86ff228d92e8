"""Reference answers for the `activations` track, computed by TensorFlow/Keras in float64.

Forward values come from ``keras.activations.*`` (what a Keras layer with
``activation="..."`` applies); backward passes are ``tf.GradientTape``
vector-Jacobian products with the given upstream gradient ``dout``.
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, gradient, keras


def _apply(name: str, x, **kwargs) -> np.ndarray:
    return getattr(keras().activations, name)(constant(x), **kwargs).numpy()


def relu(x) -> np.ndarray:
    return _apply("relu", x)


def sigmoid(x) -> np.ndarray:
    return _apply("sigmoid", x)


def tanh(x) -> np.ndarray:
    return _apply("tanh", x)


def softmax(x, axis: int = -1) -> np.ndarray:
    return _apply("softmax", x, axis=axis)


def leaky_relu(x, negative_slope: float = 0.2) -> np.ndarray:
    return _apply("leaky_relu", x, negative_slope=negative_slope)


def elu(x, alpha: float = 1.0) -> np.ndarray:
    return _apply("elu", x, alpha=alpha)


def gelu(x, approximate: bool = False) -> np.ndarray:
    """Keras's default is the exact form; ``approximate=True`` gives the tanh approximation."""
    return _apply("gelu", x, approximate=approximate)


def activation(name: str, x, **kwargs) -> np.ndarray:
    """Any Keras activation by name (``keras.activations.<name>``), in float64: a new activation
    kata needs no new reference function."""
    return _apply(name, x, **kwargs)


def silu(x) -> np.ndarray:
    return _apply("silu", x)


def _backward(name: str, dout, x, **kwargs) -> np.ndarray:
    function = getattr(keras().activations, name)
    (dx,) = gradient(lambda v: function(v, **kwargs), x, upstream=np.asarray(dout, dtype=np.float64))
    return dx


def relu_backward(dout, x) -> np.ndarray:
    return _backward("relu", dout, x)


def sigmoid_backward(dout, x) -> np.ndarray:
    return _backward("sigmoid", dout, x)


def tanh_backward(dout, x) -> np.ndarray:
    return _backward("tanh", dout, x)


def softmax_backward(dout, x, axis: int = -1) -> np.ndarray:
    return _backward("softmax", dout, x, axis=axis)


cache_public_functions(globals())
