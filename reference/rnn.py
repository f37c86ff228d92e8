"""Reference answers for the `rnn` track, computed by Keras layers (float64) and ``tf.GradientTape``.

Every recurrent answer comes from a real Keras layer (``keras.layers.LSTM`` and
friends) whose weights are loaded with ``set_weights``; gradients come from
differentiating that layer with ``tf.GradientTape``. On a CPU, Keras runs its
standard (non-cuDNN) LSTM/GRU path, whose formulas are the ones the katas teach.
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions, live

from ._engine import constant, keras, tf
from .model import float64_everywhere

_LAYERS = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------- embedding


def embedding_forward(ids, table) -> np.ndarray:
    table = _f64(table)
    layer = keras().layers.Embedding(table.shape[0], table.shape[1], dtype="float64")
    layer.build((None, None))
    layer.set_weights([table])
    return layer(tf().constant(np.asarray(ids), dtype="int64")).numpy()


def embedding_backward(dout, ids, vocab_size) -> np.ndarray:
    """d sum(embedding(ids) * dout) / d table, densified (TF returns IndexedSlices)."""
    dout = _f64(dout)
    layer = keras().layers.Embedding(vocab_size, dout.shape[-1], dtype="float64")
    layer.build((None, None))
    with tf().GradientTape() as tape:
        out = layer(tf().constant(np.asarray(ids), dtype="int64"))
        target = tf().reduce_sum(out * constant(dout))
    grad = tape.gradient(target, layer.embeddings)
    return tf().convert_to_tensor(grad).numpy()


# ------------------------------------------------------------ recurrent layers


@live
def recurrent_layer(kind: str, kernel, recurrent_kernel, bias, return_sequences=False, **options):
    """A built Keras layer of ``kind`` ("simple_rnn", "lstm", "gru") holding these weights.

    ``options`` go to the Keras constructor (``recurrent_activation="tanh"``,
    ``reset_after=False``): that is how the tests name a learner's mistake with
    a value Keras itself computes.
    """
    kernel = _f64(kernel)
    units = _f64(recurrent_kernel).shape[0]
    layer = getattr(keras().layers, _LAYERS[kind])(units, return_sequences=return_sequences, dtype="float64", **options)
    layer.build((None, None, kernel.shape[0]))
    layer.set_weights([kernel, _f64(recurrent_kernel), _f64(bias)])
    return layer


def recurrent_forward(kind, x, kernel, recurrent_kernel, bias, return_sequences=False, **options) -> np.ndarray:
    layer = recurrent_layer(kind, kernel, recurrent_kernel, bias, return_sequences, **options)
    return layer(constant(x)).numpy()


def recurrent_backward(kind, dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    """``(dx, dkernel, drecurrent_kernel, dbias)`` of ``sum(layer(x) * dout)``, by GradientTape."""
    layer = recurrent_layer(kind, kernel, recurrent_kernel, bias, return_sequences)
    x = tf().Variable(_f64(x))
    with tf().GradientTape() as tape:
        target = tf().reduce_sum(layer(x) * constant(dout))
    grads = tape.gradient(target, [x, *layer.trainable_weights])
    return tuple(g.numpy() for g in grads)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    return recurrent_forward("simple_rnn", x, kernel, recurrent_kernel, bias, return_sequences)


def lstm_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    return recurrent_forward("lstm", x, kernel, recurrent_kernel, bias, return_sequences)


def gru_forward(x, kernel, recurrent_kernel, bias, return_sequences=False):
    return recurrent_forward("gru", x, kernel, recurrent_kernel, bias, return_sequences)


def lstm_backward(dout, x, kernel, recurrent_kernel, bias, return_sequences=False):
    return recurrent_backward("lstm", dout, x, kernel, recurrent_kernel, bias, return_sequences)


def lstm_cell_forward(x_t, h, c, kernel, recurrent_kernel, bias, **options):
    """One step of ``keras.layers.LSTMCell``: ``(h_t, c_t)``."""
    kernel = _f64(kernel)
    cell = keras().layers.LSTMCell(_f64(recurrent_kernel).shape[0], dtype="float64", **options)
    cell.build((None, kernel.shape[0]))
    cell.set_weights([kernel, _f64(recurrent_kernel), _f64(bias)])
    _, (h_t, c_t) = cell(constant(x_t), [constant(h), constant(c)])
    return h_t.numpy(), c_t.numpy()


def lstm_backward_cut(dout, x, kernel, recurrent_kernel, bias, cut: str, return_sequences=False):
    """The gradients of a Keras LSTM cell unrolled by hand with one path between steps cut.

    ``cut="c"`` stops the gradient flowing from ``c_t`` back to ``c_{t-1}``;
    ``cut="h"`` stops it from ``h_t`` back to ``h_{t-1}``. The forward values are
    unchanged (``tf.stop_gradient``), so this is exactly a BPTT that forgot
    that path: the tests use it to name that mistake.
    """
    t = tf()
    kernel = _f64(kernel)
    units = _f64(recurrent_kernel).shape[0]
    cell = keras().layers.LSTMCell(units, dtype="float64")
    cell.build((None, kernel.shape[0]))
    cell.set_weights([kernel, _f64(recurrent_kernel), _f64(bias)])
    xv = t.Variable(_f64(x))
    with t.GradientTape() as tape:
        h = c = t.zeros((xv.shape[0], units), dtype="float64")
        outputs = []
        for step in range(xv.shape[1]):
            h_in = t.stop_gradient(h) if cut == "h" else h
            c_in = t.stop_gradient(c) if cut == "c" else c
            h, (h, c) = cell(xv[:, step], [h_in, c_in])
            outputs.append(h)
        out = t.stack(outputs, axis=1) if return_sequences else h
        target = t.reduce_sum(out * constant(dout))
    grads = tape.gradient(target, [xv, *cell.trainable_weights])
    return tuple(g.numpy() for g in grads)


def _fresh_layer(kind: str, units: int, input_dim: int, seed: int = 0, **options):
    """A Keras layer built with its default initialisers, to compare shapes, counts and distributions."""
    keras().utils.set_random_seed(seed)
    if kind == "embedding":
        layer = keras().layers.Embedding(input_dim, units, dtype="float64")
        layer.build((None, None))
    else:
        layer = getattr(keras().layers, _LAYERS[kind])(units, dtype="float64", **options)
        layer.build((None, None, input_dim))
    return layer


# ----------------------------------------------------------------- capstones


def fresh_layer(kind: str, units: int, input_dim: int, seed: int = 0, **options) -> dict:
    """What a freshly built Keras layer holds: its weights (Keras order) and its parameter count."""
    layer = _fresh_layer(kind, units, input_dim, seed, **options)
    return {"weights": [np.asarray(w) for w in layer.get_weights()], "count_params": int(layer.count_params())}


def _text_model(vocab_size=10000, embed_dim=128, units=64, timesteps=None, seed=0):
    """The seed's text classifier in Keras, float64: Embedding -> LSTM -> Dense(1, sigmoid)."""
    k = keras()
    k.utils.set_random_seed(seed)
    model = k.Sequential(
        [
            k.Input(shape=(timesteps,), dtype="int64"),
            k.layers.Embedding(vocab_size, embed_dim, dtype="float64"),
            k.layers.LSTM(units, dtype="float64"),
            k.layers.Dense(1, activation="sigmoid", dtype="float64"),
        ]
    )
    return model


def _forecaster(units=16, timesteps=20, seed=0):
    """SimpleRNN(units) -> Dense(1) in Keras, float64: a one-step-ahead forecaster for one feature."""
    k = keras()
    k.utils.set_random_seed(seed)
    return k.Sequential(
        [
            k.Input(shape=(timesteps, 1), dtype="float64"),
            k.layers.SimpleRNN(units, dtype="float64"),
            k.layers.Dense(1, dtype="float64"),
        ]
    )


def _model_facts(model, x, weights=None) -> dict:
    if weights is not None:
        model.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    with float64_everywhere():  # else Keras's data adapter casts float64 inputs to float32 first
        predictions = None if x is None else np.asarray(model.predict(_inputs(x), verbose=0))
    return {
        "weights": [np.asarray(w) for w in model.get_weights()],
        "layer_params": [int(layer.count_params()) for layer in model.layers],
        "count_params": int(model.count_params()),
        "predict": predictions,
    }


def _inputs(x):
    return np.asarray(x) if np.asarray(x).dtype.kind in "iu" else _f64(x)


def text_model(vocab_size=10000, embed_dim=128, units=64, timesteps=None, seed=0, x=None, weights=None) -> dict:
    """The seed's text classifier in Keras (float64, from ``seed``): its initial weights (or ``weights``),
    parameter counts by layer and in all, and its predictions on ``x`` (when given)."""
    return _model_facts(_text_model(vocab_size, embed_dim, units, timesteps, seed), x, weights)


def text_model_fit(
    x,
    y,
    *,
    timesteps,
    optimizer="adam",
    learning_rate=0.001,
    epochs=3,
    batch_size=32,
    seed=0,
    vocab_size=10000,
    embed_dim=128,
    units=64,
    config=None,
    weights=None,
) -> dict:
    """``fit(shuffle=False)`` of the seed's text classifier from the initial weights of ``seed`` (or
    ``weights``); ``config`` is the optimizer's whole config (it replaces ``learning_rate``)."""
    model = _text_model(vocab_size, embed_dim, units, timesteps, seed)
    if weights is not None:
        model.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    return _fit_history(
        model,
        x,
        y,
        optimizer=optimizer,
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        config=config,
    )


def forecaster(units=16, timesteps=20, seed=0, x=None) -> dict:
    """SimpleRNN(units) -> Dense(1) in Keras (float64, from ``seed``): weights, counts, predictions."""
    return _model_facts(_forecaster(units, timesteps, seed), x)


def forecaster_fit(
    x, y, *, units=16, timesteps=20, seed=0, learning_rate=0.01, epochs=2, batch_size=32, config=None
) -> dict:
    """``fit(shuffle=False)`` of the forecaster with Adam and the MSE, from the initial weights of ``seed``."""
    return _fit_history(
        _forecaster(units, timesteps, seed),
        x,
        y,
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        loss="mse",
        config=config,
    )


def _fit_history(
    model,
    x,
    y,
    *,
    optimizer="adam",
    learning_rate=0.001,
    epochs=3,
    batch_size=32,
    loss="binary_crossentropy",
    config=None,
) -> dict:
    """``model.fit(..., shuffle=False)``; the per-epoch history.

    ``config`` is the optimizer's whole config (it replaces ``learning_rate``). The loss and the
    logged metric are float64 (``floatx = "float64"`` while compiling and fitting), as the layers are.
    """
    k = keras()
    optimizers = {"adam": k.optimizers.Adam, "sgd": k.optimizers.SGD, "rmsprop": k.optimizers.RMSprop}
    with float64_everywhere():
        model.compile(optimizer=optimizers[optimizer](**(config or {"learning_rate": learning_rate})), loss=loss)
        history = model.fit(_inputs(x), _f64(y), epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return {key: list(map(float, values)) for key, values in history.history.items()}


def text_model_specs(vocab_size=10000, embed_dim=128, units=64):
    """The text model as ``[(keras class, config), ...]`` (for ``reference.layers``)."""
    return [
        ("Embedding", {"input_dim": vocab_size, "output_dim": embed_dim}),
        ("LSTM", {"units": units, "return_sequences": False}),
        ("Dense", {"units": 1, "activation": "sigmoid"}),
    ]


def forecaster_specs(units=16):
    return [("SimpleRNN", {"units": units, "return_sequences": False}), ("Dense", {"units": 1, "activation": "linear"})]


cache_public_functions(globals())
