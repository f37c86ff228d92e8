"""Losses: the answer key.

Each loss returns one number reduced as ``model.compile`` reduces it: the
per-sample loss (a mean or a sum over the last axis, as Keras defines it),
then the mean over the batch (Keras's ``"sum_over_batch_size"``). Each
``*_grad`` returns d loss / d y_pred (d loss / d logits with
``from_logits=True``) for that same scalar, with the shape of ``y_pred``.
"""

import numpy as np

from .activations import sigmoid, softmax

EPSILON = 1e-7  # keras.config.epsilon(): how far from 0 and 1 probabilities are clipped


def _f(x):
    return np.asarray(x, dtype=float)


def _match_rank(y_true, y_pred):
    """Labels of shape (batch,) against predictions (batch, 1), or the reverse:
    Keras lines them up element by element instead of broadcasting to (batch, batch)."""
    if abs(y_true.ndim - y_pred.ndim) == 1 and y_true.size == y_pred.size:
        return y_true.reshape(y_pred.shape)
    return y_true


def _clip(p):
    return np.clip(p, EPSILON, 1.0 - EPSILON)


def _inside_clip(p):
    """Where clipping leaves p alone. TF's clip passes the gradient there (bounds
    included) and stops it outside, where the clipped value is a constant."""
    return (p >= EPSILON) & (p <= 1.0 - EPSILON)


def _batch_size(y_pred):
    """How many samples a (..., classes) array holds: what the batch mean divides by."""
    return int(np.prod(y_pred.shape[:-1])) if y_pred.ndim > 1 else 1


def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|)`` (the solved example of katas/losses.py, kept identical to it)."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if abs(y_true.ndim - y_pred.ndim) == 1 and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)  # labels (batch,) against predictions (batch, 1)
    return float(np.mean(np.abs(y_true - y_pred)))


def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)**2)``: per sample over the last axis, then over the
    batch; every sample has as many values, so that is the mean of everything."""
    y_pred = _f(y_pred)
    return float(np.mean((_match_rank(_f(y_true), y_pred) - y_pred) ** 2))


def mean_squared_error_grad(y_true, y_pred):
    """d/dp of mean((p - t)**2) over N values is 2 (p - t) / N."""
    y_pred = _f(y_pred)
    return 2.0 * (y_pred - _match_rank(_f(y_true), y_pred)) / y_pred.size


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """``-(t log p + (1 - t) log(1 - p))`` with p clipped to [eps, 1 - eps]; with
    logits, the stable ``max(z, 0) - z t + log(1 + exp(-|z|))``. Mean over everything."""
    y_pred = _f(y_pred)
    y_true = _match_rank(_f(y_true), y_pred)
    if from_logits:
        per_element = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        p = _clip(y_pred)
        per_element = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
    return float(np.mean(per_element))


def binary_crossentropy_grad(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    y_true = _match_rank(_f(y_true), y_pred)
    if from_logits:
        # The sigmoid's derivative cancels the log's: (sigmoid(z) - t) / N.
        return (sigmoid(y_pred) - y_true) / y_pred.size
    p = _clip(y_pred)
    # d/dp of -(t log p + (1-t) log(1-p)) = (p - t) / (p (1 - p)).
    return np.where(_inside_clip(y_pred), (p - y_true) / (p * (1.0 - p)), 0.0) / y_pred.size


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Keras: rows renormalised to sum to 1, clipped, ``-sum(t log p)`` per sample; mean over the batch."""
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # log-softmax
    else:
        log_p = np.log(_clip(y_pred / y_pred.sum(axis=-1, keepdims=True)))
    return float(np.mean(-np.sum(y_true * log_p, axis=-1)))


def categorical_crossentropy_grad(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    n = _batch_size(y_pred)
    if from_logits:
        # The softmax's Jacobian cancels the log's derivative: softmax(z) - t. (That assumes rows of
        # t that sum to 1, as one-hot labels do; TF's fused op uses this formula for any t.)
        return (softmax(y_pred) - y_true) / n
    total = y_pred.sum(axis=-1, keepdims=True)
    p = y_pred / total
    dp = np.where(_inside_clip(p), -y_true / _clip(p), 0.0)  # d loss / d p
    # Through the renormalisation p = y / sum(y): d p_j / d y_k = (delta_jk - p_j) / sum(y).
    return (dp - np.sum(dp * p, axis=-1, keepdims=True)) / total / n


def _one_hot(labels, classes):
    labels = np.asarray(labels).astype(int)
    if labels.ndim >= 1 and labels.shape[-1:] == (1,):
        labels = labels[..., 0]  # labels (batch, 1) -> (batch,), as Keras squeezes them
    return np.eye(classes)[labels]


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Integer labels. From probabilities Keras clips, takes the log and applies a
    softmax cross-entropy to that, which renormalises: ``-log(p_y / sum(p))`` with p clipped."""
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    logits = y_pred if from_logits else np.log(_clip(y_pred))
    return categorical_crossentropy(one_hot, logits, from_logits=True)


def sparse_categorical_crossentropy_grad(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    if from_logits:
        return categorical_crossentropy_grad(one_hot, y_pred, from_logits=True)
    p = _clip(y_pred)
    d_log_p = categorical_crossentropy_grad(one_hot, np.log(p), from_logits=True)
    return np.where(_inside_clip(y_pred), d_log_p / p, 0.0)  # chain rule through log p
