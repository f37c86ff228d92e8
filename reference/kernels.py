"""TensorFlow/Keras answers for the ``kernels`` package's tests (float64, on the CPU).

Each function takes NumPy arrays with the arguments of the kernel it checks
and returns NumPy float64. Everything runs under ``tf.device("/CPU:0")``: on
a machine where TensorFlow also sees the GPU, its GPU kernels would be a
second implementation under test (and route max-pool ties differently), not
the reference.
"""

from __future__ import annotations

import functools

import numpy as np

from dojo.refcache import cache_public_functions
from dojo.shapes import as_pair

from ._engine import constant, gradient, keras, tf


def _on_cpu(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with tf().device("/CPU:0"):
            return function(*args, **kwargs)

    return wrapper


def _f64(array):
    return np.asarray(array, dtype=np.float64)


@_on_cpu
def relu(x):
    return tf().nn.relu(constant(_f64(x))).numpy()


@_on_cpu
def sigmoid(x):
    return tf().math.sigmoid(constant(_f64(x))).numpy()


@_on_cpu
def tanh(x):
    return tf().math.tanh(constant(_f64(x))).numpy()


@_on_cpu
def softmax(x):
    return tf().nn.softmax(constant(_f64(x)), axis=-1).numpy()


@_on_cpu
def dense_forward(x, kernel, bias, activation=None):
    """A Keras ``Dense`` layer with these weights, applied to ``x``."""
    kernel = _f64(kernel)
    layer = keras().layers.Dense(kernel.shape[1], activation=activation, dtype="float64")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, _f64(bias)])
    return layer(constant(_f64(x))).numpy()


@_on_cpu
def im2col(x, kernel_size, strides=(1, 1), padding="valid"):
    """``tf.image.extract_patches``, flattened to ``(batch*out_h*out_w, kh*kw*channels)``."""
    (kh, kw), (sh, sw) = as_pair(kernel_size), as_pair(strides)
    patches = (
        tf()
        .image.extract_patches(
            constant(_f64(x)), sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, 1, 1, 1], padding=padding.upper()
        )
        .numpy()
    )
    return patches.reshape(-1, patches.shape[-1])


@_on_cpu
def conv2d(x, kernel, bias, strides=(1, 1), padding="valid"):
    """A Keras ``Conv2D`` layer (no activation) with these weights."""
    kernel = _f64(kernel)
    kh, kw, in_channels, out_channels = kernel.shape
    layer = keras().layers.Conv2D(out_channels, (kh, kw), strides=as_pair(strides), padding=padding, dtype="float64")
    layer.build((None, None, None, in_channels))
    layer.set_weights([kernel, _f64(bias)])
    return layer(constant(_f64(x))).numpy()


def _pool_layer(pool_size, strides, padding):
    return keras().layers.MaxPooling2D(pool_size=as_pair(pool_size), strides=strides, padding=padding, dtype="float64")


@_on_cpu
def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """A Keras ``MaxPooling2D`` layer."""
    return _pool_layer(pool_size, strides, padding)(constant(_f64(x))).numpy()


@_on_cpu
def max_pool2d_backward(dout, x, pool_size=(2, 2), strides=None, padding="valid"):
    """d sum(MaxPooling2D(x) * dout) / dx, by ``tf.GradientTape``."""
    layer = _pool_layer(pool_size, strides, padding)
    (dx,) = gradient(layer, _f64(x), upstream=_f64(dout))
    return dx


@_on_cpu
def lstm_cell(x_t, h, c, kernel, recurrent_kernel, bias):
    """One step of a Keras ``LSTMCell`` with these weights: ``(h, c)``."""
    kernel = _f64(kernel)
    units = kernel.shape[1] // 4
    cell = keras().layers.LSTMCell(units, dtype="float64")
    cell.build((None, kernel.shape[0]))
    cell.set_weights([kernel, _f64(recurrent_kernel), _f64(bias)])
    _, (h_new, c_new) = cell(constant(_f64(x_t)), [constant(_f64(h)), constant(_f64(c))])
    return h_new.numpy(), c_new.numpy()


cache_public_functions(globals())
