"""Reference answers for the `model` track (your own Keras), computed by Keras itself in float64.

A model is described by a *spec*: the per-sample input shape and a list of
``(units, activation)`` pairs, one per Dense layer, e.g. the seed's MLP::

    SEED_MLP = ((784,), [(128, "relu"), (64, "relu"), (10, "softmax")])

Every function builds a fresh ``keras.Sequential`` of float64 Dense layers
from the spec, gives it the weights the test chose (``set_weights``, Keras
order), and runs the real thing: ``predict``, ``evaluate``,
``train_on_batch``, ``fit``, ``summary``. Like every reference value, a
training run is computed once and then read from the reference cache
(``dojo/refcache/store.py``): ``keras.Model.fit`` costs about a second to trace,
and the mutation self-tests run the same kata tests many times; the cached
answer is still Keras's own.
"""

from __future__ import annotations

import collections
import contextlib

import numpy as np

from dojo.refcache import cache_public_functions, live

from ._engine import constant, gradient, keras, tf

SEED_MLP = ((784,), [(128, "relu"), (64, "relu"), (10, "softmax")])


# ------------------------------------------------------------------ helpers


@live
@contextlib.contextmanager
def float64_everywhere():
    """Run Keras with ``floatx = "float64"``, then restore the previous setting.

    Float64 layers are not enough for a float64 ``fit``: a Keras ``Loss`` and
    the ``Mean`` metrics that log loss and accuracy take their dtype from
    ``floatx`` (float32 by default). ``compile``'s loss then casts the float64
    predictions to float32: the loss and its gradient are computed in float32,
    and the cast hides the softmax's logits (``_keras_logits``), so the
    cross-entropy is taken from clipped probabilities. Measured on the seed's
    MLP: per-epoch losses 1e-7 relative apart, and a saturated softmax gives
    10.66 (clipped) instead of 34.25 (from the logits). With floatx float64,
    Keras computes everything in float64 and from the logits, as a careful
    NumPy implementation does.
    """
    k = keras()
    saved = k.config.floatx()
    k.config.set_floatx("float64")
    try:
        yield
    finally:
        k.config.set_floatx(saved)


@contextlib.contextmanager
def _fresh_names():
    """Name layers as in a fresh Keras session (dense, dense_1, ...), then put the
    session's own name counters back, so nothing else in the process is affected."""
    from keras.src.backend.common import global_state

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


@live
@float64_everywhere()
def build(spec, weights=None):
    """A float64 ``keras.Sequential`` for ``spec``, with ``weights`` (Keras order) if given."""
    k = keras()
    input_shape, layers = spec
    with _fresh_names():
        model = k.Sequential(
            [k.Input(shape=tuple(input_shape), dtype="float64")]
            + [k.layers.Dense(units, activation=activation, dtype="float64") for units, activation in layers]
        )
    if weights is not None:
        model.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    return model


@live
def optimizer(name="adam", **config):
    """A Keras optimizer by name with its config (``"adam"``, ``"sgd"``, ``"rmsprop"``)."""
    classes = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
    return getattr(keras().optimizers, classes[name.lower()])(**config)


def _compiled(spec, weights, loss, metrics, optimizer_spec=("adam", {})):
    model = build(spec, weights)
    model.compile(
        optimizer=optimizer(optimizer_spec[0], **dict(optimizer_spec[1])), loss=loss, metrics=list(metrics or [])
    )
    return model


# ------------------------------------------------------------------- layers


def layer_names(class_names):
    """The default names Keras gives fresh layers of these classes, in order
    (``["Dense", "Dense", "Conv2D"]`` -> ``["dense", "dense_1", "conv2d"]``)."""
    from keras.src.utils import naming

    with _fresh_names():
        return [naming.auto_name(name) for name in class_names]


def dense_initial_weights(input_dim, units):
    """A fresh Keras Dense layer's ``[kernel, bias]`` (Glorot-uniform kernel, zero bias)."""
    layer = keras().layers.Dense(units, dtype="float64")
    layer.build((None, input_dim))
    return [w.copy() for w in layer.get_weights()]


def _dense_layer(kernel, bias, activation):
    kernel = np.asarray(kernel, dtype=np.float64)
    layer = keras().layers.Dense(kernel.shape[1], activation=activation, dtype="float64")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, np.asarray(bias, dtype=np.float64)])
    return layer


@float64_everywhere()
def dense_forward(x, kernel, bias, activation=None):
    """A Keras Dense layer with this kernel, bias and activation, applied to ``x``."""
    return _dense_layer(kernel, bias, activation)(constant(x)).numpy()


def dense_output_shape(input_shape, units):
    """Per-sample output shape of ``Dense(units)`` for a per-sample input shape."""
    layer = keras().layers.Dense(units, dtype="float64")
    return tuple(layer.compute_output_shape((None,) + tuple(input_shape))[1:])


@float64_everywhere()
def dense_backward(x, kernel, bias, activation, dout):
    """``(dx, dkernel, dbias)`` of ``sum(dout * Dense(x))`` by ``tf.GradientTape``."""

    def forward(x_, kernel_, bias_):
        z = tf().matmul(x_, kernel_) + bias_
        return z if activation is None else keras().activations.get(activation)(z)

    return tuple(gradient(forward, x, kernel, bias, upstream=dout))


# -------------------------------------------------------------------- model


@float64_everywhere()
def predict(spec, weights, x, batch_size=32):
    return build(spec, weights).predict(np.asarray(x, dtype=np.float64), batch_size=batch_size, verbose=0)


def weight_shapes(spec):
    """Shapes of ``get_weights()`` of the Keras model, in Keras order."""
    return [w.shape for w in build(spec).get_weights()]


def count_params(spec):
    return int(build(spec).count_params())


@float64_everywhere()
def summary(spec):
    """``(text, rows, total)``: Keras's summary text, and per layer
    ``(name, type, output shape as printed, params)``."""
    model = build(spec)
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=88)
    rows = [
        (layer.name, type(layer).__name__, str((None,) + tuple(layer.output.shape[1:])), int(layer.count_params()))
        for layer in model.layers
    ]
    return "\n".join(lines), rows, int(model.count_params())


@float64_everywhere()
def evaluate(spec, weights, x, y, loss, metrics=(), batch_size=32):
    """``model.evaluate`` as a list ``[loss, *metrics]``."""
    model = _compiled(spec, weights, loss, metrics)
    result = model.evaluate(
        np.asarray(x, dtype=np.float64), np.asarray(y), batch_size=batch_size, verbose=0, return_dict=True
    )
    return [float(result["loss"])] + [float(result[m]) for m in _metric_keys(result)]


def _metric_keys(logs):
    return [key for key in logs if key != "loss" and not key.startswith("val_")]


@float64_everywhere()
def train_on_batch(spec, weights, x, y, loss, metrics=(), optimizer_spec=("adam", {})):
    """One ``model.train_on_batch``: ``(values, weights after)``; values is ``[loss, *metrics]``."""
    model = _compiled(spec, weights, loss, metrics, optimizer_spec)
    logs = model.train_on_batch(np.asarray(x, dtype=np.float64), np.asarray(y), return_dict=True)
    values = [float(logs["loss"])] + [float(logs[m]) for m in _metric_keys(logs)]
    return values, model.get_weights()


@live
def first_batch_gradients_of(model, x, y, loss) -> list:
    """The gradient of ``model``'s compiled ``loss`` (its layers' penalties included) on one batch, as
    ``fit``'s first step computes it (``training=True``, ``compute_loss``, ``tf.GradientTape``).

    One entry per weight in ``get_weights()`` order; None for weights that do not train
    (BatchNormalization's moving statistics). Takes a Keras model, so it is not cached: the public
    ``first_batch_gradients`` functions of the reference modules build the model and call it.
    """
    t = tf()
    with float64_everywhere():
        model.compile(optimizer=keras().optimizers.SGD(), loss=loss)
        x = np.asarray(x)
        inputs = t.constant(x, dtype="int64") if x.dtype.kind in "iu" else constant(x)
        with t.GradientTape() as tape:
            predictions = model(inputs, training=True)
            value = model.compute_loss(x=inputs, y=constant(np.asarray(y)), y_pred=predictions, training=True)
        grads = tape.gradient(value, model.trainable_weights)
    by_variable = {id(v): np.asarray(t.convert_to_tensor(g)) for v, g in zip(model.trainable_weights, grads)}
    return [by_variable.get(id(v)) for v in model.weights]


@float64_everywhere()
def first_batch_gradients(spec, weights, x, y, loss) -> list:
    """:func:`first_batch_gradients_of` the Dense model of ``spec`` with ``weights``."""
    return first_batch_gradients_of(build(spec, weights), x, y, loss)


@float64_everywhere()
def fit(
    spec,
    weights,
    x,
    y,
    loss,
    metrics=(),
    optimizer_spec=("adam", {}),
    epochs=1,
    batch_size=32,
    validation_split=0.0,
    validation_data=None,
    shuffle=False,
):
    """``model.fit`` from these weights: ``(history.history, weights after)``."""
    model = _compiled(spec, weights, loss, metrics, optimizer_spec)
    history = model.fit(
        np.asarray(x, dtype=np.float64),
        np.asarray(y),
        epochs=epochs,
        batch_size=batch_size,
        validation_split=validation_split,
        validation_data=validation_data,
        shuffle=shuffle,
        verbose=0,
    )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}, model.get_weights()


@float64_everywhere()
def loss_of_probabilities(loss, y_true, probabilities):
    """``keras.losses.<loss>(y_true, probabilities)`` averaged over the batch: the
    cross-entropy from (clipped) probabilities, as Keras computes it when it has no logits."""
    return float(np.mean(keras().losses.get(loss)(np.asarray(y_true), constant(probabilities)).numpy()))


cache_public_functions(globals())
