"""Every kata's arguments and defaults, once, against the Keras object it is named after.

A learner copies the stub's signature, and the tests call many katas with some
arguments left to their defaults (``LayerNormalization()``, ``Adam()``,
``EarlyStopping(patience=2)``). A default that differs from Keras's would make
a check compare two different computations, or teach the learner a wrong
default. So each parameter that a kata (in ``katas/`` and in ``solutions/``)
shares with its Keras namesake must have Keras's default, read from the
installed Keras with ``inspect.signature``, and a parameter Keras requires must
be required here too. The exceptions are listed with their reason.
"""

import importlib
import inspect

import pytest

from reference._engine import keras

#: ``module: {kata name: dotted path of its Keras namesake}``.
NAMESAKES = {
    "activations": {
        name: f"activations.{name}"
        for name in ("relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "gelu", "silu", "softplus", "linear")
    },
    "losses": {
        name: f"losses.{name}"
        for name in (
            "mean_squared_error",
            "mean_absolute_error",
            "binary_crossentropy",
            "categorical_crossentropy",
            "sparse_categorical_crossentropy",
        )
    },
    "optimizers": {name: f"optimizers.{name}" for name in ("SGD", "RMSprop", "Adam")},
    "model": {"Dense": "layers.Dense", "Sequential": "Sequential"},
    "conv": {name: f"layers.{name}" for name in ("Conv2D", "MaxPooling2D", "Flatten")},
    "regularization": {
        "Dropout": "layers.Dropout",
        "BatchNormalization": "layers.BatchNormalization",
        "Dense": "layers.Dense",
        "Conv2D": "layers.Conv2D",
        "L2": "regularizers.L2",
    },
    "attention": {
        name: f"layers.{name}" for name in ("LayerNormalization", "MultiHeadAttention", "GlobalAveragePooling1D")
    },
    "rnn": {name: f"layers.{name}" for name in ("Embedding", "SimpleRNN", "LSTM", "GRU")},
    "training": {name: f"callbacks.{name}" for name in ("EarlyStopping", "ModelCheckpoint")},
}
#: ``(module, name, parameter): why it may differ``.
EXCEPTIONS = {
    ("model", "Sequential", "name"): "Keras's None means the name 'sequential', which ours states directly",
}


def _parameters(obj):
    function = obj.__init__ if inspect.isclass(obj) else obj
    return inspect.signature(function).parameters


def _keras_object(path):
    obj = keras()
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


CASES = [
    (folder, module, name, path)
    for folder in ("katas", "solutions")
    for module, names in NAMESAKES.items()
    for name, path in names.items()
]


@pytest.mark.parametrize("folder, module, name, path", CASES, ids=lambda v: str(v))
def test_defaults_are_keras_defaults(folder, module, name, path):
    ours = getattr(importlib.import_module(f"{folder}.{module}"), name, None)
    assert ours is not None, f"{folder}/{module}.py has no {name}"
    theirs = _parameters(_keras_object(path))
    for parameter, value in _parameters(ours).items():
        if parameter not in theirs or (module, name, parameter) in EXCEPTIONS:
            continue
        keras_default = theirs[parameter].default
        assert (value.default is inspect.Parameter.empty) == (keras_default is inspect.Parameter.empty), (
            f"{folder}/{module}.py: {name}'s {parameter} is "
            f"{'required' if value.default is inspect.Parameter.empty else 'optional'}; in keras.{path} it is "
            f"{'required' if keras_default is inspect.Parameter.empty else 'optional'}"
        )
        assert value.default == keras_default, (
            f"{folder}/{module}.py: {name}({parameter}={value.default!r}), but keras.{path} defaults to "
            f"{parameter}={keras_default!r}"
        )
