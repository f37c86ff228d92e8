"""Reference answers for the `gpu` track, computed by TensorFlow/Keras in float64.

The kernels run on a GPU or on the emulator; what they must compute is what
TensorFlow computes for the same inputs (on the CPU, in float64).
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, keras, tf
from .rnn import lstm_cell_forward


def leaky_relu(x, negative_slope=0.2) -> np.ndarray:
    """``keras.activations.leaky_relu`` (Keras's default slope is 0.2)."""
    return keras().activations.leaky_relu(constant(x), negative_slope=negative_slope).numpy()


def relu(x) -> np.ndarray:
    return tf().nn.relu(constant(x)).numpy()


def add_bias(x, bias) -> np.ndarray:
    """``tf.nn.bias_add``: bias along the last axis."""
    return tf().nn.bias_add(constant(x), constant(bias)).numpy()


def sigmoid(x) -> np.ndarray:
    return tf().math.sigmoid(constant(x)).numpy()


def row_sums(x) -> np.ndarray:
    return tf().reduce_sum(constant(x), axis=1).numpy()


def transpose(x) -> np.ndarray:
    """``tf.transpose`` of a matrix."""
    return tf().transpose(constant(x)).numpy()


def softmax(x) -> np.ndarray:
    return tf().nn.softmax(constant(x), axis=-1).numpy()


def dense_forward(x, kernel, bias) -> np.ndarray:
    """A Keras Dense layer (no activation) with these weights."""
    layer = keras().layers.Dense(np.shape(kernel)[1], dtype="float64")
    layer.build((None, np.shape(kernel)[0]))
    layer.set_weights([np.asarray(kernel, float), np.asarray(bias, float)])
    return layer(constant(x)).numpy()


def conv2d(x, kernel, bias) -> np.ndarray:
    """``tf.nn.conv2d`` with valid padding and stride 1, plus the bias."""
    y = tf().nn.conv2d(constant(x), constant(kernel), strides=1, padding="VALID")
    return tf().nn.bias_add(y, constant(bias)).numpy()


def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """One step of a Keras LSTM cell: ``(h_new, c_new)``."""
    return lstm_cell_forward(x_t, h, c, kernel, recurrent_kernel, bias)


cache_public_functions(globals())
