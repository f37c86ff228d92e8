"""Training.

The pieces of ``model.fit`` around the gradient step, each as Keras does it:

    x, y ──► train_val_split ──► x_train, y_train           x_val, y_val
                                     │                           │
             for each epoch:   batch_indices ──► one step per batch   evaluate: loss, accuracy
                                     │                           │
                               logs = {"loss": ..., "accuracy": ..., "val_loss": ..., "val_accuracy": ...}
                                     │
                               callbacks: EarlyStopping (stop, restore the best weights),
                                          ModelCheckpoint (keep the best weights on disk)

Your ``Sequential.fit`` in `model` uses all of them, and so does the answer
key's. Run ``pytest`` after each kata; it tells you what to do next.
"""

import numpy as np


# A solved example, to show the shape of an answer: how many steps one epoch
# takes (the "38/38" in Keras's progress bar). The last batch may be partial.
def num_batches(n, batch_size):
    """``ceil(n / batch_size)``, in integers.

    Example:
        >>> num_batches(1437, 32)     # 44 full batches and one of 29
        45
    """
    return -(-n // batch_size)


def train_val_split(x, y, validation_split):
    """Keras's ``validation_split``: the *last* fraction of the data is held out.

    ``fit(x, y, validation_split=0.2)`` does not pick a random 20%: it cuts
    the arrays at

        split_at = floor(n * (1 - validation_split))

    and uses ``x[:split_at]`` for training and ``x[split_at:]`` for
    validation, *before* any shuffling (shuffling happens later, inside the
    training part only). If your data is sorted by class, the validation set
    is the last classes: shuffle your data yourself before ``fit``.

        index:   0   1   2   3   4   5   6   7 | 8   9      n = 10, validation_split = 0.2
                 ───────── train ─────────────   ─ val ─    split_at = floor(10 * 0.8) = 8

    Errors, as Keras raises them: if ``split_at`` is 0 or ``n`` (one side
    would be empty), raise ``ValueError`` with a message that quotes the
    value, e.g. ``f"... validation_split={validation_split} ..."``. (Keras's
    ``fit`` only splits when ``validation_split > 0``; its splitting function,
    like yours, refuses 0.)

    Args:
        x: inputs, shape ``(n, ...)``.
        y: targets, shape ``(n, ...)``.
        validation_split: a float in (0, 1).

    Returns:
        ``(x_train, y_train, x_val, y_val)``.

    Example:
        >>> train_val_split(np.arange(10), np.arange(10) * 10, 0.33)
        (array([0, 1, 2, 3, 4, 5]), array([ 0, 10, 20, 30, 40, 50]),
         array([6, 7, 8, 9]), array([60, 70, 80, 90]))     # floor(10 * 0.67) = 6
    """
    # TODO: kata training.train_val_split
    raise NotImplementedError("kata training.train_val_split")


def batch_indices(n, batch_size, shuffle, rng):
    """The index arrays of one epoch's batches.

    Without shuffling, the batches take the samples in order; with shuffling,
    the order is a random permutation of ``0 .. n-1``, drawn from ``rng`` (so
    the same seed gives the same epoch), cut into batches. Either way every
    index appears exactly once, every batch has ``batch_size`` indices except
    the last, which has what is left (Keras keeps that partial batch).

        n = 10, batch_size = 4, shuffle=False:   [0 1 2 3] [4 5 6 7] [8 9]
        n = 10, batch_size = 4, shuffle=True:    [7 2 9 0] [5 1 8 3] [6 4]   (some permutation)

    Args:
        n: the number of samples.
        batch_size: the size of a batch.
        shuffle: whether to permute the samples first.
        rng: a ``numpy.random.Generator``; use ``rng.permutation(n)``. It may
            be ``None`` when ``shuffle`` is False.

    Returns:
        A list of 1-D integer arrays.
    """
    # TODO: kata training.batch_indices
    raise NotImplementedError("kata training.batch_indices")


def accuracy(y_true, y_pred):
    """The fraction of correct predictions, as ``compile(metrics=["accuracy"])`` measures it.

    Keras picks the comparison from the shapes:

    * one output unit, ``y_pred`` of shape ``(batch, 1)`` (a sigmoid): the
      prediction is 1 where ``y_pred > 0.5`` (strictly), else 0, compared with
      ``y_true`` of shape ``(batch,)`` or ``(batch, 1)`` (Keras's ``binary_accuracy``);
    * several classes, ``y_pred`` of shape ``(batch, classes)`` (class
      probabilities): the predicted class is ``argmax`` over the last axis,
      compared with
        - integer labels ``y_true`` of shape ``(batch,)`` or ``(batch, 1)``
          (``sparse_categorical_accuracy``), or
        - one-hot ``y_true`` of shape ``(batch, classes)``, whose own argmax is
          the label (``categorical_accuracy``).

    Args:
        y_true: labels or one-hot rows.
        y_pred: probabilities.

    Returns:
        A float in [0, 1].

    Example:
        >>> accuracy([0, 1, 2], [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.5, 0.3, 0.2]])
        0.666...     # argmax gives classes 0, 1, 0: two of three right
        >>> accuracy([1, 0], [[0.5], [0.2]])
        0.5          # 0.5 is not > 0.5, so the first prediction is class 0
    """
    # TODO: kata training.accuracy
    raise NotImplementedError("kata training.accuracy")


# ------------------------------------------------------------------ callbacks
#
# A callback is an object that `fit` calls at fixed moments, as Keras does:
#
#     callback.set_model(model)                 once, before training
#     callback.on_train_begin()                 once
#     for epoch in range(epochs):
#         ... train, evaluate ...
#         callback.on_epoch_end(epoch, logs)    logs = {"loss": 0.31, "val_loss": 0.35, ...}
#         if model.stop_training: break
#     callback.on_train_end()
#
# The model offers `model.get_weights()` (a list of arrays, copies),
# `model.set_weights(weights)`, `model.save_weights(path)` (an .npz file) and
# the flag `model.stop_training`.


class Callback:
    """The base class (given): every hook does nothing until a subclass overrides it."""

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
    """Whether a monitored quantity should go down ("min") or up ("max") (given).

    ``mode="auto"`` infers it from the name, as Keras does for its built-in
    metrics: losses go down, accuracies go up.
    """
    if mode in ("min", "max"):
        return mode
    return "max" if "acc" in monitor else "min"


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (Keras 3 semantics).

    Each epoch with a value of ``monitor`` in the logs:

    1. With ``restore_best_weights``, if no weights were saved yet, save the
       current ones (``self.model.get_weights()``) as the best so far.
    2. Add 1 to ``self.wait``.
    3. Is it an improvement? The first value always is (``self.best`` is None).
       After that, in "min" mode: ``current + min_delta < best`` (in "max"
       mode: ``current - min_delta > best``). Equal is *not* better, and a
       change smaller than ``min_delta`` does not count.
       If it is: ``best = current``, remember the weights (with
       ``restore_best_weights``) and the epoch, ``wait = 0``, and stop here.
    4. Otherwise, if ``wait >= patience`` and ``epoch > 0``: set
       ``self.stopped_epoch = epoch`` and ``self.model.stop_training = True``.

    At the end of training (``on_train_end``), with ``restore_best_weights``,
    put the best weights back with ``self.model.set_weights(...)``, whether or
    not training stopped early (Keras 3 does; Keras 2 only did when it stopped).
    Epochs whose logs lack ``monitor`` are skipped.

    Example (monitor="val_loss", patience=2):

        epoch      0     1     2     3     4
        val_loss  1.00  0.90  0.95  0.93  ...
        improved?  yes   yes   no    no
        wait       0     0     1     2  -> 2 >= patience: stop after epoch 3
                                           (best epoch 1: its weights come back
                                            with restore_best_weights=True)
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, restore_best_weights=False, mode="auto"):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.mode = monitor_mode(monitor, mode)

    def on_train_begin(self, logs=None):
        """Reset the state, so one callback can serve several trainings (given)."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        """Steps 1-4 of the class docstring."""
        # TODO: kata training.EarlyStopping
        raise NotImplementedError("kata training.EarlyStopping: EarlyStopping.on_epoch_end")

    def on_train_end(self, logs=None):
        """With ``restore_best_weights``, set the best weights back on the model."""
        # TODO: kata training.EarlyStopping
        raise NotImplementedError("kata training.EarlyStopping: EarlyStopping.on_train_end")


class ModelCheckpoint(Callback):
    """Save the model's weights at the end of an epoch, Keras's way.

    Every epoch:

    1. The path is ``self.filepath.format(epoch=epoch + 1, **logs)``, so a
       filepath like ``"ckpt-{epoch:02d}.npz"`` or ``"best-{val_loss:.2f}.npz"``
       names each file after its epoch (1-based, as Keras prints epochs) or
       its metrics; a plain ``"best.npz"`` is overwritten each time.
    2. With ``save_best_only=False``: save every epoch.
       With ``save_best_only=True``: save only when ``monitor`` improved on
       the best value so far (the first value always does; "min" mode:
       ``current < best``, "max" mode: ``current > best``; equal is not
       better), and then remember ``self.best = current``. If the logs lack
       ``monitor``, Keras cannot tell, warns, and saves.
    3. To save: ``self.model.save_weights(path)``.

    Example (save_best_only=True, filepath="best.npz"):

        epoch      0     1     2     3
        val_loss  1.0   0.8   0.9   0.7
        saved?    yes   yes   no    yes      best.npz holds epoch 3's weights

    Together with ``EarlyStopping(patience=...)`` this keeps the best model
    on disk while training explores a few epochs past it.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__()
        self.filepath = str(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = monitor_mode(monitor, mode)
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        """Steps 1-3 of the class docstring."""
        # TODO: kata training.ModelCheckpoint
        raise NotImplementedError("kata training.ModelCheckpoint")
