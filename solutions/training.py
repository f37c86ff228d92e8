"""Training: the answer key.

The callbacks follow Keras 3 (``keras/src/callbacks/{early_stopping,
model_checkpoint,monitor_callback}.py``) and the protocol that
``solutions/model.py``'s ``Sequential.fit`` drives: ``set_model``,
``on_train_begin``, ``on_epoch_end(epoch, logs)``, ``on_train_end``.
"""

import math
import warnings

import numpy as np


def num_batches(n, batch_size):
    """``ceil(n / batch_size)`` (the solved example)."""
    return -(-n // batch_size)


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
    if split_at == 0 or split_at == len(x):  # as Keras: one side would be empty
        raise ValueError(
            f"Training data contains {len(x)} samples, which is not sufficient to split it into "
            f"a validation and training set as specified by validation_split={validation_split}"
        )
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


def batch_indices(n, batch_size, shuffle, rng):
    """Index arrays for each batch of an epoch; the last batch may be smaller."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


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


class Callback:
    """Every hook does nothing until a subclass overrides it."""

    def __init__(self):
        self.model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


def monitor_mode(monitor, mode="auto"):
    """ "min" or "max"; "auto" infers it from the name (accuracies go up, the rest down)."""
    if mode in ("min", "max"):
        return mode
    return "max" if "acc" in monitor else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs (Keras 3 semantics: the first epoch is always an
    improvement; with ``restore_best_weights`` the best weights come back at
    the end of training, also when training did not stop early)."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, restore_best_weights=False, mode="auto"):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.mode = monitor_mode(monitor, mode)

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
            # Keras: until something better comes, the current weights are the best.
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


class ModelCheckpoint(Callback):
    """Save the weights each epoch, or (``save_best_only``) only when ``monitor``
    beats the best value so far (strictly; no ``min_delta``, as Keras)."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__()
        self.filepath = str(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = monitor_mode(monitor, mode)
        self.best = None

    def _should_save(self, logs):
        if not self.save_best_only:
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        better = self.best is None or (current < self.best if self.mode == "min" else current > self.best)
        if better:
            self.best = current
        return better

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)  # Keras's placeholders: 1-based epoch, metrics
        if self._should_save(logs):
            self.model.save_weights(path)
