"""Reference answers for the `training` track, from Keras itself.

* ``train_val_split``: Keras's own splitting function, the one ``fit`` calls
  for ``validation_split`` (``keras.src.trainers.data_adapters.array_slicing``).
* ``batch_indices``: the batches Keras's ``ArrayDataAdapter`` makes of the
  indices ``0 .. n-1`` (what ``fit`` iterates over for NumPy arrays).
* ``accuracy``: the metric that ``compile(metrics=["accuracy"])`` picks for
  these shapes (``compile_utils.get_metric``), updated with the batch.
* ``run_callback``: the real ``keras.callbacks.EarlyStopping`` /
  ``ModelCheckpoint`` driven epoch by epoch with scripted logs and weights on a
  tiny Keras model.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from dojo.refcache import cache_public_functions, live

from ._engine import keras


def train_val_split(x, y, validation_split):
    """``(x_train, y_train, x_val, y_val)``; raises ValueError exactly when Keras does.

    Keras's splitter casts float64 arrays to float32 (its floatx), so it is
    given the sample *indices*: Keras decides which samples go where, and the
    original float64 samples are returned.
    """
    keras()
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    x, y = np.asarray(x), np.asarray(y)
    ids = np.arange(len(x))
    (train_ids, _), (val_ids, _) = train_validation_split((ids, ids.copy()), validation_split=validation_split)
    train_ids, val_ids = np.asarray(train_ids), np.asarray(val_ids)
    return x[train_ids], y[train_ids], x[val_ids], y[val_ids]


def split_error(n, validation_split) -> str | None:
    """Keras's error message for splitting ``n`` samples, or None when it splits."""
    try:
        train_val_split(np.zeros((n, 1)), np.zeros(n), validation_split)
    except ValueError as error:
        return str(error)
    return None


def batch_indices(n, batch_size, shuffle=False) -> list[np.ndarray]:
    """The batches of sample indices that Keras's array adapter yields for one epoch.

    With ``shuffle=True`` the order is Keras's own random one: compare the
    sizes and the set of indices, not the order.
    """
    keras()
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    adapter = ArrayDataAdapter(np.arange(n), batch_size=batch_size, shuffle=shuffle)
    return [np.asarray(batch) for batch in adapter.get_numpy_iterator()]


def accuracy(y_true, y_pred) -> tuple[float, str]:
    """``(value, metric class name)`` of the metric that ``metrics=["accuracy"]`` becomes."""
    keras()
    from keras.src.trainers.compile_utils import get_metric

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=np.float64)
    metric = get_metric("accuracy", y_true, y_pred)
    metric.update_state(y_true, y_pred)
    return float(metric.result()), type(metric).__name__


# ------------------------------------------------------------------ callbacks


@live
def scripted_weights(epoch: int) -> list[np.ndarray]:
    """The weights the tiny model has at the end of ``epoch``: every value is ``epoch + 1``,
    so the epoch that produced a set of weights can be read back from them."""
    return [np.full((2, 1), epoch + 1.0), np.full((1,), epoch + 1.0)]


@live
def epoch_of(weights) -> int:
    """Which epoch's scripted weights these are (inverse of ``scripted_weights``)."""
    return int(round(float(np.asarray(weights[0]).flat[0]))) - 1


def _tiny_model(with_accuracy: bool):
    k = keras()
    model = k.Sequential([k.Input((2,)), k.layers.Dense(1)])
    model.compile(loss="mse", metrics=["accuracy"] if with_accuracy else None)
    if with_accuracy:
        # Builds the compiled metrics, so that mode="auto" can find the
        # direction of "accuracy" as it does during fit().
        model.evaluate(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)
    return model


def run_early_stopping(config: dict, logs_per_epoch: list[dict], reuse_runs: int = 1) -> dict:
    """Drive ``keras.callbacks.EarlyStopping(**config)`` like ``fit`` does.

    Returns ``{"epochs_run", "stopped_epoch", "final_weights_epoch", "best"}``
    for the last run (``reuse_runs`` > 1 trains again with the same callback).
    """
    model = _tiny_model(with_accuracy="acc" in config.get("monitor", "val_loss"))
    callback = keras().callbacks.EarlyStopping(**config)
    callback.set_model(model)
    for _ in range(reuse_runs):
        model.stop_training = False
        callback.on_train_begin()
        epochs_run = 0
        for epoch, logs in enumerate(logs_per_epoch):
            model.set_weights(scripted_weights(epoch))
            callback.on_epoch_end(epoch, dict(logs))
            epochs_run = epoch + 1
            if model.stop_training:
                break
        callback.on_train_end()
    return {
        "epochs_run": epochs_run,
        "stopped_epoch": callback.stopped_epoch,
        "final_weights_epoch": epoch_of(model.get_weights()),
    }


def run_model_checkpoint(
    filename: str, config: dict, logs_per_epoch: list[dict], reuse_runs: int = 1
) -> list[dict[str, int]]:
    """Drive ``keras.callbacks.ModelCheckpoint`` (weights only) like ``fit`` does.

    ``filename`` is a stem such as ``"best"`` or ``"ckpt-{epoch:02d}"``; Keras
    writes ``<stem>.weights.h5``. Returns, after every epoch, the files present
    as ``{stem: epoch whose weights the file holds}``. ``reuse_runs`` > 1 hands
    the same callback to that many fits in a row (the states of every run, in order).
    """
    model = _tiny_model(with_accuracy="acc" in config.get("monitor", "val_loss"))
    reader = _tiny_model(with_accuracy=False)
    suffix = ".weights.h5"
    with tempfile.TemporaryDirectory() as folder:
        callback = keras().callbacks.ModelCheckpoint(
            os.path.join(folder, filename + suffix), save_weights_only=True, **config
        )
        callback.set_model(model)
        states = []
        for _ in range(reuse_runs):
            callback.on_train_begin()
            for epoch, logs in enumerate(logs_per_epoch):
                model.set_weights(scripted_weights(epoch))
                callback.on_epoch_begin(epoch)
                callback.on_epoch_end(epoch, dict(logs))
                state = {}
                for name in sorted(os.listdir(folder)):
                    reader.load_weights(os.path.join(folder, name))
                    state[name.removesuffix(suffix)] = epoch_of(reader.get_weights())
                states.append(state)
            callback.on_train_end()
    return states


cache_public_functions(globals())
