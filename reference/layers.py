"""Reference answers for any layer kata: one fresh Keras layer, run once, returned as plain NumPy.

:func:`layer_run` is the Keras half of ``dojo.testkit.layers.check_layer``
(the layer-protocol check every layer kata uses): it builds a fresh float64
``keras.layers.<class_name>(**config)`` on a per-sample ``input_shape``, gives
it the weights the test chose (``set_weights``, Keras order), calls it on
``x`` under ``tf.GradientTape`` and differentiates ``sum(layer(x) * dout)``
with respect to ``x`` and every trainable weight. Everything it returns is a
plain NumPy array, list, tuple, int or string, so that the answer can be
cached: on disk by ``dojo.refcache`` like every reference module, and for
the life of the process here.
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions
from dojo.refcache.store import memo_key

from ._engine import constant, keras, tf
from .model import first_batch_gradients_of, float64_everywhere

_CACHE: dict[str, dict] = {}


def is_keras_layer(class_name: str) -> bool:
    """Whether ``keras.layers`` has a layer class of this name."""
    return class_name not in ("Layer", "Input", "InputLayer") and isinstance(
        getattr(keras().layers, class_name, None), type
    )


def _keras_layer(class_name: str, config: dict, input_shape: tuple):
    layer = getattr(keras().layers, class_name)(**dict(config), dtype="float64")
    layer.build((None,) + tuple(input_shape))
    return layer


def _weight_name(variable) -> str:
    """``"kernel"``, ``"recurrent_kernel"``, ``"bias"``, ``"embeddings"``: the variable's own name."""
    return str(getattr(variable, "path", None) or variable.name).split("/")[-1].split(":")[0]


def _dense(value):
    """A gradient as a NumPy array (an Embedding's gradient arrives as ``tf.IndexedSlices``)."""
    if value is None:
        return None
    return tf().convert_to_tensor(value).numpy()


def layer_facts(class_name: str, config: dict, input_shape: tuple) -> dict:
    """What a fresh, built Keras layer says about itself, without running it.

    Returns ``{"weight_names", "weight_shapes", "count_params", "output_shape",
    "initial_weights"}``; ``output_shape`` is per sample (no batch axis) and
    ``initial_weights`` are Keras's own initial values (its initialisers).
    """
    key = memo_key("facts", class_name, sorted(dict(config).items()), tuple(input_shape))
    if key not in _CACHE:
        with float64_everywhere():
            layer = _keras_layer(class_name, config, input_shape)
            output_shape = layer.compute_output_shape((None,) + tuple(input_shape))
        _CACHE[key] = {
            "weight_names": [_weight_name(w) for w in layer.weights],
            "weight_shapes": [tuple(int(n) for n in w.shape) for w in layer.weights],
            "count_params": int(layer.count_params()),
            "output_shape": tuple(int(n) if n is not None else None for n in output_shape[1:]),
            "initial_weights": [np.asarray(w).copy() for w in layer.get_weights()],
        }
    facts = _CACHE[key]
    return {**facts, "initial_weights": [w.copy() for w in facts["initial_weights"]]}


def layer_run(class_name: str, config: dict, input_shape: tuple, weights, x, dout=None, training=None) -> dict:
    """Run a fresh Keras layer forward and backward on ``x``.

    Args:
        class_name: the ``keras.layers`` class, e.g. ``"Dense"``, ``"LSTM"``.
        config: its constructor arguments (``dtype`` is always float64).
        input_shape: the per-sample input shape the layer is built for.
        weights: the values for ``set_weights`` (Keras order), or None to keep
            Keras's initial ones.
        x: the input batch. Integer arrays (token ids) are passed as int64 and
            get no gradient.
        dout: the gradient arriving from above, of the output's shape; None
            means ones (the gradient of ``sum(output)``).
        training: passed to the layer call (``Dropout``, ``BatchNormalization``).

    Returns:
        ``{"output", "dx", "grads", "weights", "weight_names", "weight_shapes",
        "count_params", "output_shape"}``: NumPy arrays; ``dx`` is None for
        integer inputs, ``grads`` follows the order of ``weights`` (densified:
        Keras hands an Embedding's gradient over as ``IndexedSlices``).
    """
    key = memo_key("run", class_name, sorted(dict(config).items()), tuple(input_shape), weights, x, dout, training)
    if key not in _CACHE:
        _CACHE[key] = _run(class_name, config, input_shape, weights, x, dout, training)
    result = _CACHE[key]
    return {
        k: (
            [None if a is None else a.copy() for a in v]
            if isinstance(v, list) and k in ("grads", "weights")
            else (v.copy() if isinstance(v, np.ndarray) else v)
        )
        for k, v in result.items()
    }


def _run(class_name, config, input_shape, weights, x, dout, training):
    t = tf()
    with float64_everywhere():
        layer = _keras_layer(class_name, config, input_shape)
        if weights is not None:
            layer.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
        x = np.asarray(x)
        integer = x.dtype.kind in "iu"
        inputs = t.constant(x, dtype="int64") if integer else t.Variable(np.asarray(x, dtype=np.float64))
        with t.GradientTape() as tape:
            out = layer(inputs) if training is None else layer(inputs, training=training)
            seed = t.ones_like(out) if dout is None else constant(dout)
            target = t.reduce_sum(out * seed)
        sources = list(layer.trainable_weights) if integer else [inputs, *layer.trainable_weights]
        grads = tape.gradient(target, sources) if sources else []
        dx = None if integer else _dense(grads[0])
        weight_grads = grads if integer else grads[1:]
        by_variable = {id(v): _dense(g) for v, g in zip(layer.trainable_weights, weight_grads)}
        output_shape = layer.compute_output_shape((None,) + tuple(input_shape))
        return {
            "output": out.numpy(),
            "dx": dx,
            "grads": [by_variable.get(id(w)) for w in layer.weights],
            "weights": [np.asarray(w).copy() for w in layer.get_weights()],
            "weight_names": [_weight_name(w) for w in layer.weights],
            "weight_shapes": [tuple(int(n) for n in w.shape) for w in layer.weights],
            "count_params": int(layer.count_params()),
            "output_shape": tuple(int(n) if n is not None else None for n in output_shape[1:]),
        }


# ------------------------------------------------------------- whole models


def _sequential(layer_specs, input_shape, weights=None, input_dtype="float64"):
    """A float64 ``keras.Sequential`` of ``[(class_name, config), ...]`` on a per-sample ``input_shape``."""
    k = keras()
    with float64_everywhere():
        model = k.Sequential(
            [k.Input(shape=tuple(input_shape), dtype=input_dtype)]
            + [getattr(k.layers, name)(**dict(config), dtype="float64") for name, config in layer_specs]
        )
        if weights is not None:
            model.set_weights([np.asarray(w, dtype=np.float64) for w in weights])
    return model


def batch_losses(layer_specs, input_shape, weights, x, y, loss, optimizer, epochs=1, batch_size=32) -> list:
    """Keras's loss on every batch, in order, ``shuffle=False``: ``result[epoch][batch]``.

    The model is ``_sequential(layer_specs, input_shape, weights)`` compiled with
    ``loss`` and ``keras.optimizers.<optimizer[0]>(**optimizer[1])``; each batch
    is one ``train_on_batch`` (its loss is taken before that batch's update),
    which is what ``fit`` does batch after batch.
    """
    key = memo_key(
        "batch_losses", repr(layer_specs), tuple(input_shape), weights, x, y, loss, repr(optimizer), epochs, batch_size
    )
    if key not in _CACHE:
        x = np.asarray(x)
        integer = x.dtype.kind in "iu"
        with float64_everywhere():
            model = _sequential(layer_specs, input_shape, weights, "int64" if integer else "float64")
            name, config = optimizer
            model.compile(optimizer=getattr(keras().optimizers, name)(**dict(config)), loss=loss)
            losses = []
            for _ in range(epochs):
                losses.append(
                    [
                        float(model.train_on_batch(x[i : i + batch_size], np.asarray(y)[i : i + batch_size]))
                        for i in range(0, len(x), batch_size)
                    ]
                )
        _CACHE[key] = {"losses": losses}
    return [list(epoch) for epoch in _CACHE[key]["losses"]]


def first_batch_gradients(layer_specs, input_shape, weights, x, y, loss) -> list:
    """The gradient of ``loss`` on ``(x, y)`` for every weight of ``_sequential(layer_specs, input_shape,
    weights)``, as fit's first step computes it (None for weights that do not train)."""
    integer = np.asarray(x).dtype.kind in "iu"
    model = _sequential(layer_specs, input_shape, weights, "int64" if integer else "float64")
    return first_batch_gradients_of(model, x, y, loss)


cache_public_functions(globals())
