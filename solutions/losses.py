"""Track 3 — Losses: the answer key.

Each loss returns one number reduced as ``model.compile`` reduces it: the
per-sample loss (mean or sum over the last axis, as Keras defines it), then
the mean over the batch ("sum_over_batch_size"). Each ``*_grad`` returns
d loss / d y_pred (or d loss / d logits with ``from_logits=True``), with the
same shape as ``y_pred``, for that same scalar.
"""

import numpy as np

from .activations import sigmoid, softmax

EPSILON = 1e-7  # keras.config.epsilon()


def _f(x):
    return np.asarray(x, dtype=float)


def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)**2)``: per sample over the last axis, then over the batch."""
    return float(np.mean((_f(y_true) - _f(y_pred)) ** 2))


def mean_squared_error_grad(y_true, y_pred):
    y_true, y_pred = _f(y_true), _f(y_pred)
    return 2.0 * (y_pred - y_true) / y_pred.size


def _batch_size(y_pred):
    """How many samples a (..., classes) array holds: what the batch mean divides by."""
    return int(np.prod(y_pred.shape[:-1])) if y_pred.ndim > 1 else 1


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Keras: clip probabilities to [eps, 1-eps]; with logits, the stable
    ``max(z, 0) - z*y + log(1 + exp(-|z|))``. Mean over the last axis, then the batch."""
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        per_element = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        per_element = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
    return float(np.mean(per_element))


def binary_crossentropy_grad(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        return (sigmoid(y_pred) - y_true) / y_pred.size
    inside = (y_pred > EPSILON) & (y_pred < 1.0 - EPSILON)  # clipping stops the gradient outside
    p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return np.where(inside, (p - y_true) / (p * (1.0 - p)), 0.0) / y_pred.size


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Keras: renormalise rows to sum to 1, clip, ``-sum(y_true * log(p))`` per sample; mean over the batch."""
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    else:
        p = y_pred / y_pred.sum(axis=-1, keepdims=True)
        log_p = np.log(np.clip(p, EPSILON, 1.0 - EPSILON))
    return float(np.mean(-np.sum(y_true * log_p, axis=-1)))


def categorical_crossentropy_grad(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    n = _batch_size(y_pred)
    if from_logits:
        return (softmax(y_pred) * y_true.sum(axis=-1, keepdims=True) - y_true) / n
    total = y_pred.sum(axis=-1, keepdims=True)
    p = y_pred / total
    inside = (p > EPSILON) & (p < 1.0 - EPSILON)
    dp = np.where(inside, -y_true / np.clip(p, EPSILON, 1.0 - EPSILON), 0.0)  # d loss / d p
    # p = y / sum(y): d p_j / d y_k = (delta_jk - p_j) / sum(y)
    dy = (dp - np.sum(dp * p, axis=-1, keepdims=True)) / total
    return dy / n


def _one_hot(labels, classes):
    labels = np.asarray(labels).astype(int)
    if labels.ndim >= 1 and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    return np.eye(classes)[labels]


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Integer labels. Keras clips probabilities, takes the log, then a log-softmax
    of that (which renormalises): ``-log(p_y / sum(p))`` with p clipped."""
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    if from_logits:
        return categorical_crossentropy(one_hot, y_pred, from_logits=True)
    log_p = np.log(np.clip(y_pred, EPSILON, 1.0 - EPSILON))
    return categorical_crossentropy(one_hot, log_p, from_logits=True)


def sparse_categorical_crossentropy_grad(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    if from_logits:
        return categorical_crossentropy_grad(one_hot, y_pred, from_logits=True)
    inside = (y_pred > EPSILON) & (y_pred < 1.0 - EPSILON)
    p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
    d_log_p = categorical_crossentropy_grad(one_hot, np.log(p), from_logits=True)
    return np.where(inside, d_log_p / p, 0.0)
