"""Track 6 — Training: the answer key."""

import math

import numpy as np


def train_val_split(x, y, validation_split):
    """Keras's ``validation_split``: the *last* fraction is validation, taken before shuffling.

    ``split_at = floor(n * (1 - validation_split))``; train is ``[:split_at]``,
    validation ``[split_at:]``.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1). Received: validation_split={validation_split}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths: {len(x)} and {len(y)}")
    split_at = int(math.floor(len(x) * (1.0 - validation_split)))
    if validation_split > 0 and (split_at == 0 or split_at == len(x)):
        raise ValueError(f"validation_split={validation_split} leaves no samples for training or validation "
                         f"out of {len(x)}")
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


def batch_indices(n, batch_size, shuffle, rng):
    """Index arrays for each batch of an epoch; the last batch may be smaller."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def accuracy(y_true, y_pred):
    """Fraction of correct predictions. Labels or one-hot ``y_true``; probabilities
    (argmax over classes) or, for one output unit, a probability thresholded at 0.5."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    if y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
        predicted = y_pred.argmax(axis=-1)
        labels = y_true.argmax(axis=-1) if y_true.shape == y_pred.shape else y_true.reshape(predicted.shape)
    else:
        predicted = (y_pred > 0.5).astype(int).reshape(-1)
        labels = y_true.reshape(-1)
    return float(np.mean(predicted == labels))


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs (Keras 3 semantics: the first epoch is always an
    improvement; with ``restore_best_weights`` the best weights come back at
    the end of training, also when training did not stop early)."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, restore_best_weights=False, mode="auto"):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        if mode == "auto":
            mode = "min" if monitor.removeprefix("val_") == "loss" or "loss" in monitor or "error" in monitor else "max"
        self.mode = mode
        self.model = None

    def set_model(self, model):
        self.model = model

    def _improved(self, current):
        if self.best is None:
            return True
        if self.mode == "min":
            return current + self.min_delta < self.best
        return current - self.min_delta > self.best

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(current):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
