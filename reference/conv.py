"""Reference answers for the `conv` track (convolutional networks), computed by TensorFlow/Keras in float64.

Forward values come from Keras layers (``Conv2D``, ``MaxPooling2D``,
``Flatten``) given the learner's weights with ``set_weights``; gradients from
``tf.GradientTape`` through the same layers; the columns of ``im2col`` from
``tf.image.extract_patches``; the capstone's history from ``keras.Model.fit``.
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions, live
from dojo.shapes import as_pair

from ._engine import constant, keras, tf


@live
def conv2d_layer(kernel, bias, strides=(1, 1), padding="valid", activation=None):
    """A built Keras ``Conv2D`` (float64) holding this kernel and bias."""
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw, in_ch, filters = kernel.shape
    layer = keras().layers.Conv2D(
        filters, (kh, kw), strides=as_pair(strides), padding=padding, activation=activation, dtype="float64"
    )
    layer.build((None, None, None, in_ch))
    layer.set_weights([kernel, np.asarray(bias, dtype=np.float64)])
    return layer


def conv2d(x, kernel, bias, strides=(1, 1), padding="valid", activation=None) -> np.ndarray:
    """``keras.layers.Conv2D`` with this kernel and bias, applied to ``x``."""
    return conv2d_layer(kernel, bias, strides, padding, activation)(constant(x)).numpy()


def conv2d_backward(dout, x, kernel, bias=None, strides=(1, 1), padding="valid", activation=None):
    """``(dx, dkernel, dbias)`` of ``sum(Conv2D(x) * dout)`` by ``tf.GradientTape``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    bias = np.zeros(kernel.shape[-1]) if bias is None else bias
    layer = conv2d_layer(kernel, bias, strides, padding, activation)
    t = tf()
    x_var = t.Variable(np.asarray(x, dtype=np.float64))
    with t.GradientTape() as tape:
        out = layer(x_var)
        target = t.reduce_sum(out * constant(dout))
    dx, dkernel, dbias = tape.gradient(target, [x_var, layer.kernel, layer.bias])
    return dx.numpy(), dkernel.numpy(), dbias.numpy()


def im2col(x, kernel_size, strides=(1, 1), padding="valid") -> np.ndarray:
    """``tf.image.extract_patches`` reshaped to ``(batch*out_h*out_w, kh*kw*in_ch)``.

    TF lays each patch out in ``(kh, kw, in_ch)`` order, the order of
    ``kernel.reshape(-1, filters)``; its SAME padding is the convolution's.
    """
    kh, kw = as_pair(kernel_size)
    sh, sw = as_pair(strides)
    patches = tf().image.extract_patches(
        constant(x), sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, 1, 1, 1], padding=padding.upper()
    )
    return patches.numpy().reshape(-1, patches.shape[-1])


def _pool_layer(pool_size, strides, padding):
    return keras().layers.MaxPooling2D(
        as_pair(pool_size), None if strides is None else as_pair(strides), padding=padding, dtype="float64"
    )


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid") -> np.ndarray:
    return _pool_layer(pool_size, strides, padding)(constant(x)).numpy()


def max_pool2d_backward(dout, x, pool_size=(2, 2), strides=None, padding="valid") -> np.ndarray:
    """d ``sum(MaxPooling2D(x) * dout)`` / d x by ``tf.GradientTape``."""
    t = tf()
    layer = _pool_layer(pool_size, strides, padding)
    x_var = t.Variable(np.asarray(x, dtype=np.float64))
    with t.GradientTape() as tape:
        target = t.reduce_sum(layer(x_var) * constant(dout))
    return tape.gradient(target, x_var).numpy()


def flatten(x) -> np.ndarray:
    return keras().layers.Flatten(dtype="float64")(constant(x)).numpy()


def flatten_backward(dout, x) -> np.ndarray:
    """d ``sum(Flatten(x) * dout)`` / d x by ``tf.GradientTape``."""
    t = tf()
    x_var = t.Variable(np.asarray(x, dtype=np.float64))
    with t.GradientTape() as tape:
        target = t.reduce_sum(keras().layers.Flatten(dtype="float64")(x_var) * constant(dout))
    return tape.gradient(target, x_var).numpy()


def output_shape(layer_kind: str, input_shape, **config) -> tuple:
    """Per-sample output shape of a Keras layer (``"Conv2D"``, ``"MaxPooling2D"``, ``"Flatten"``)."""
    layer = getattr(keras().layers, layer_kind)(**config, dtype="float64")
    return tuple(layer.compute_output_shape((None,) + tuple(input_shape))[1:])


# ---------------------------------------------------------------- capstone


@live
def seed_cnn(input_shape=(28, 28, 1)):
    """The seed's CNN in Keras, float64:

    Conv2D 32 3x3 relu -> MaxPooling2D 2 -> Conv2D 64 3x3 relu -> MaxPooling2D 2
    -> Flatten -> Dense 64 relu -> Dense 10 softmax.
    """
    layers = keras().layers
    return keras().Sequential(
        [
            keras().Input(shape=input_shape, dtype="float64"),
            layers.Conv2D(32, (3, 3), activation="relu", dtype="float64"),
            layers.MaxPooling2D((2, 2), dtype="float64"),
            layers.Conv2D(64, (3, 3), activation="relu", dtype="float64"),
            layers.MaxPooling2D((2, 2), dtype="float64"),
            layers.Flatten(dtype="float64"),
            layers.Dense(64, activation="relu", dtype="float64"),
            layers.Dense(10, activation="softmax", dtype="float64"),
        ]
    )


def seed_cnn_summary(input_shape=(28, 28, 1)) -> list[tuple[str, tuple, int]]:
    """``(name, per-sample output shape, parameter count)`` of each layer of the Keras model."""
    # Keras numbers layer names per session (conv2d, conv2d_1, ...); a fresh
    # session gives the names a learner sees in a new notebook.
    keras().backend.clear_session()
    model = seed_cnn(input_shape)
    return [(layer.name, tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers]


def seed_cnn_fit(
    x, y, initial_weights, epochs, batch_size=32, learning_rate=0.001, adam=None
) -> dict[str, list[float]]:
    """``keras.Model.fit`` history of the seed CNN started from ``initial_weights``
    (Adam, sparse categorical cross-entropy, accuracy, ``shuffle=False``).

    ``adam`` is Adam's whole config (it replaces ``learning_rate``), e.g. the
    float32-exact ``{"learning_rate": 2**-10, "beta_1": 0.875, "beta_2": 1 - 2**-10}``
    with which a float64 Adam reproduces Keras's bit for bit. The run happens
    with ``floatx = "float64"`` so that the loss and the logged metrics are float64 too.
    """
    from .model import float64_everywhere

    keras().utils.set_random_seed(0)
    with float64_everywhere():
        model = seed_cnn(np.shape(x)[1:])
        model.set_weights([np.asarray(w, dtype=np.float64) for w in initial_weights])
        model.compile(
            optimizer=keras().optimizers.Adam(**(adam or {"learning_rate": learning_rate})),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        history = model.fit(
            np.asarray(x, dtype=np.float64),
            np.asarray(y),
            epochs=epochs,
            batch_size=batch_size,
            shuffle=False,
            verbose=0,
        )
    return {key: [float(v) for v in values] for key, values in history.history.items()}


SEED_CNN_SPECS = [
    ("Conv2D", {"filters": 32, "kernel_size": (3, 3), "activation": "relu"}),
    ("MaxPooling2D", {"pool_size": (2, 2)}),
    ("Conv2D", {"filters": 64, "kernel_size": (3, 3), "activation": "relu"}),
    ("MaxPooling2D", {"pool_size": (2, 2)}),
    ("Flatten", {}),
    ("Dense", {"units": 64, "activation": "relu"}),
    ("Dense", {"units": 10, "activation": "softmax"}),
]


def seed_cnn_weight_shapes(input_shape=(28, 28, 1)) -> list[tuple]:
    return [tuple(w.shape) for w in seed_cnn(input_shape).get_weights()]


cache_public_functions(globals())
