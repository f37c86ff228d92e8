"""Reference answers for the `losses` track, computed by Keras's loss classes in float64.

Each loss is ``keras.losses.<Class>(dtype="float64")`` with its default
reduction (``"sum_over_batch_size"``), which is how ``model.compile(loss=...)``
reduces it: one scalar per batch. Each gradient is ``tf.GradientTape`` on that
same scalar with respect to ``y_pred`` (the logits when ``from_logits=True``).
"""

from __future__ import annotations

import numpy as np

from dojo.refcache import cache_public_functions

from ._engine import constant, gradient, keras

_CLASSES = {
    "mean_absolute_error": "MeanAbsoluteError",
    "mean_squared_error": "MeanSquaredError",
    "binary_crossentropy": "BinaryCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
}


def _loss_object(name: str, **kwargs):
    return getattr(keras().losses, _CLASSES[name])(dtype="float64", **kwargs)


def _labels(name: str, y_true):
    # Sparse labels are class indices; every other y_true is float64 like y_pred.
    return constant(y_true, dtype="int64") if name.startswith("sparse") else constant(y_true)


def loss(name: str, y_true, y_pred, **kwargs) -> float:
    """The scalar ``keras.losses.<name>`` gives, e.g. ``loss("binary_crossentropy", t, p, from_logits=True)``."""
    return float(_loss_object(name, **kwargs)(_labels(name, y_true), constant(y_pred)).numpy())


def per_sample(name: str, y_true, y_pred, **kwargs) -> np.ndarray:
    """The same loss before the batch mean (``reduction=None``): one value per sample."""
    return _loss_object(name, reduction=None, **kwargs)(_labels(name, y_true), constant(y_pred)).numpy()


def loss_grad(name: str, y_true, y_pred, **kwargs) -> np.ndarray:
    """d loss / d y_pred (or d loss / d logits) of that same scalar, by ``tf.GradientTape``."""
    function, labels = _loss_object(name, **kwargs), _labels(name, y_true)
    (grad,) = gradient(lambda p: function(labels, p), np.asarray(y_pred, dtype=np.float64))
    return grad


def mean_absolute_error(y_true, y_pred) -> float:
    return loss("mean_absolute_error", y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> float:
    return loss("mean_squared_error", y_true, y_pred)


def mean_squared_error_grad(y_true, y_pred) -> np.ndarray:
    return loss_grad("mean_squared_error", y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False) -> float:
    return loss("binary_crossentropy", y_true, y_pred, from_logits=from_logits)


def binary_crossentropy_grad(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    return loss_grad("binary_crossentropy", y_true, y_pred, from_logits=from_logits)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> float:
    return loss("categorical_crossentropy", y_true, y_pred, from_logits=from_logits)


def categorical_crossentropy_grad(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    return loss_grad("categorical_crossentropy", y_true, y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> float:
    return loss("sparse_categorical_crossentropy", y_true, y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy_grad(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    return loss_grad("sparse_categorical_crossentropy", y_true, y_pred, from_logits=from_logits)


cache_public_functions(globals())
