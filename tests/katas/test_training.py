"""Kata tests for katas/training.py, checked against Keras itself.

Splits, batches and accuracies come from the Keras code that `fit` runs
(reference/training.py); the callbacks are compared with the real
keras.callbacks driven epoch by epoch with the same scripted logs, on a tiny
Keras model whose weights at the end of epoch e are all e + 1, so the epoch
that a set of weights comes from can be read back.
"""

import math
import os
import warnings

import numpy as np
import pytest

from dojo.testkit.checks import assert_close, assert_raises, call, check, fail, show
from reference import training as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

# ------------------------------------------------------------------ kata training.train_val_split


def _split_mistakes(x, y, validation_split, expected):
    """Name the usual wrong splits by the training part's length and where validation comes from."""
    n = len(x)
    n_val = len(expected[2])
    from fractions import Fraction

    exact = math.floor(Fraction(n) * (1 - Fraction(str(validation_split))))
    other_arithmetic = {n - math.ceil(n * validation_split), math.floor(n - n * validation_split), exact}
    return [
        (
            lambda got: len(got[0]) != len(expected[0]) and len(got[0]) in other_arithmetic,
            f"Keras computes split_at = floor(n * (1 - validation_split)) in floating point, in that order: here "
            f"1 - {validation_split} is {1 - validation_split!r}, so split_at = floor({n * (1 - validation_split)!r}) "
            f"= {len(expected[0])}. Another order of operations (n - ceil(n * split), floor(n - n * split), exact "
            f"fractions) rounds differently on such splits: use exactly that expression",
        ),
        (
            lambda got: len(got[0]) == n - n_val and np.array_equal(got[2], x[:n_val]),
            "the validation part is taken from the front; Keras takes the *last* fraction: x[split_at:]",
        ),
        (
            lambda got: (
                len(got[0]) != len(expected[0])
                and len(got[0])
                in (
                    math.ceil(n * (1 - validation_split)),
                    round(n * (1 - validation_split)),
                    n - int(n * validation_split),
                )
            ),
            "split_at was rounded up or to the nearest integer, or the validation size is rounded down; Keras "
            "rounds the *training* size down: split_at = floor(n * (1 - validation_split)), validation = the rest",
        ),
        (
            lambda got: (
                len(got[0]) == len(expected[0])
                and sorted(np.concatenate([got[0], got[2]]).tolist()) == sorted(x.tolist())
                and not np.array_equal(got[0], expected[0])
            ),
            "the data was shuffled before the split; Keras splits first, in order (shuffling comes later, "
            "inside the training part)",
        ),
    ]


def _check_split(kata, x, y, validation_split):
    text = f"train_val_split(x of {len(x)}, y, validation_split={validation_split})"
    got = call(kata, x, y, validation_split)
    check(
        isinstance(got, (tuple, list)) and len(got) == 4,
        f"{text} returned {show(got)}; return (x_train, y_train, x_val, y_val)",
    )
    got = [np.asarray(part) for part in got]
    expected = ref.train_val_split(x, y, validation_split)
    if not all(g.shape == e.shape and np.array_equal(g, e) for g, e in zip(got, expected)):
        for matches, explanation in _split_mistakes(x, y, validation_split, expected):
            if matches(got):
                fail(f"{text} gave {len(got[0])} training and {len(got[2])} validation samples: {explanation}")
    for name, g, e in zip(["x_train", "y_train", "x_val", "y_val"], got, expected):
        check(
            g.shape == e.shape,
            f"{text}: {name} has shape {g.shape}, expected {e.shape} "
            f"(split_at = floor({len(x)} * (1 - {validation_split})) = {len(expected[0])})",
        )
        check(
            np.array_equal(g, e),
            f"{text}: {name} is {show(g)}, expected {show(e)}"
            + (": y must be cut at the same place as x" if name[0] == "y" else ""),
        )


@pytest.mark.kata("training.train_val_split")
def test_split_docstring_example(kata):
    # floor(10 * 0.67) = 6: rounding up or to nearest would give 7.
    _check_split(kata, np.arange(10), np.arange(10) * 10, 0.33)


@pytest.mark.kata("training.train_val_split")
@pytest.mark.parametrize(
    "n, validation_split",
    [
        (10, 0.2),
        (7, 0.25),
        (100, 0.1),
        (1797, 0.2),
        (5, 0.5),
        (3, 0.4),
        # where floating point decides: 10 * (1 - 0.8) is 1.9999999999999996
        (10, 0.8),
        (25, 0.28),
        (50, 0.14),
    ],
)
def test_split_sizes_and_order(kata, n, validation_split):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, 3)), rng.integers(0, 10, size=n)
    _check_split(kata, x, y, validation_split)


@pytest.mark.kata("training.train_val_split")
def test_split_images(kata):
    x = np.random.default_rng(0).random((9, 28, 28))
    y = np.eye(3)[np.arange(9) % 3]  # one-hot targets, shape (9, 3)
    _check_split(kata, x, y, 0.3)


@pytest.mark.kata("training.train_val_split")
@pytest.mark.parametrize("n, validation_split", [(1, 0.5), (3, 0.9), (5, 0.0), (4, 0.99)])
def test_split_refuses_an_empty_side(kata, n, validation_split):
    x, y = np.arange(n, dtype=float), np.arange(n)
    text = f"train_val_split(x of {n}, y, validation_split={validation_split})"
    assert_raises(kata, ValueError, x, y, validation_split, call=text, match="validation_split")
    # Keras refuses the same split (checked after the learner's code ran).
    check(ref.split_error(n, validation_split) is not None, f"Keras splits {text}; this test is wrong")


# ------------------------------------------------------------------ kata training.batch_indices


def _as_batches(got, text):
    check(isinstance(got, (list, tuple)), f"{text} returned {type(got).__name__}; return a list of index arrays")
    batches = [np.asarray(b) for b in got]
    for b in batches:
        check(
            b.ndim == 1 and b.dtype.kind in "iu",
            f"{text}: a batch is {show(b)} ({b.dtype}); each batch must be a 1-D array of integer indices",
        )
    return batches


def _check_sizes(batches, expected, text):
    sizes, expected_sizes = [len(b) for b in batches], [len(b) for b in expected]
    if sizes == expected_sizes[:-1] and len(expected_sizes) > 1 and expected_sizes[-1] < expected_sizes[0]:
        fail(
            f"{text}: batch sizes {sizes}, Keras's {expected_sizes}: the last, partial batch is missing; "
            f"keep it (every sample is used once per epoch)"
        )
    check(sizes == expected_sizes, f"{text}: batch sizes {sizes}, Keras's {expected_sizes}")
    everything = np.sort(np.concatenate(batches)) if batches else np.array([], int)
    check(
        np.array_equal(everything, np.arange(sum(expected_sizes))),
        f"{text}: the batches do not hold every index 0 .. n-1 exactly once",
    )


@pytest.mark.kata("training.batch_indices")
@pytest.mark.parametrize("n, batch_size", [(10, 4), (8, 4), (1, 32), (100, 32), (1437, 32)])
def test_batches_in_order(kata, n, batch_size):
    text = f"batch_indices({n}, batch_size={batch_size}, shuffle=False, rng)"
    batches = _as_batches(call(kata, n, batch_size, False, np.random.default_rng(0)), text)
    expected = ref.batch_indices(n, batch_size)
    _check_sizes(batches, expected, text)
    for b, e in zip(batches, expected):
        check(
            np.array_equal(b, e),
            f"{text}: batch {show(b)}, Keras's {show(e)}: without shuffling, take the samples in order",
        )


@pytest.mark.kata("training.batch_indices")
def test_batches_without_shuffle_need_no_rng(kata):
    batches = _as_batches(call(kata, 5, 2, False, None), "batch_indices(5, 2, shuffle=False, rng=None)")
    _check_sizes(batches, ref.batch_indices(5, 2), "batch_indices(5, 2, shuffle=False, rng=None)")


@pytest.mark.kata("training.batch_indices")
@pytest.mark.parametrize("n, batch_size", [(100, 10), (1437, 32), (10, 4)])
def test_batches_shuffled(kata, n, batch_size):
    text = f"batch_indices({n}, batch_size={batch_size}, shuffle=True, rng)"
    batches = _as_batches(call(kata, n, batch_size, True, np.random.default_rng(1)), text)
    _check_sizes(batches, ref.batch_indices(n, batch_size, shuffle=True), text)
    order = np.concatenate(batches)
    check(not np.array_equal(order, np.arange(n)), f"{text} kept the samples in order: shuffle them")
    if n >= 100:
        # A random permutation of 100+ samples keeps no batch as a run of
        # consecutive indices; shuffling the batches' order alone does.
        runs = sum(np.array_equal(np.sort(b), np.arange(b.min(), b.min() + len(b))) for b in batches)
        check(
            runs < len(batches) // 2,
            f"{text}: the batches are runs of consecutive samples; shuffle the "
            f"samples (rng.permutation(n)), then cut the batches",
        )


@pytest.mark.kata("training.batch_indices")
def test_batches_reproducible_from_rng(kata):
    text = "batch_indices(50, 8, shuffle=True, rng)"
    first = _as_batches(call(kata, 50, 8, True, np.random.default_rng(42)), text)
    again = _as_batches(call(kata, 50, 8, True, np.random.default_rng(42)), text)
    other = _as_batches(call(kata, 50, 8, True, np.random.default_rng(43)), text)
    check(
        all(np.array_equal(a, b) for a, b in zip(first, again)),
        f"{text} gave different batches for two generators with the same seed: draw the permutation "
        f"from the rng argument (rng.permutation(n)), not from np.random",
    )
    check(
        not all(np.array_equal(a, b) for a, b in zip(first, other)),
        f"{text} gave the same batches for different seeds: draw the permutation from the rng argument",
    )


# ------------------------------------------------------------------ kata training.accuracy


def _accuracy_mistakes(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    mistakes = {}
    if y_pred.shape[-1] == 1:
        labels = y_true.reshape(-1)
        mistakes["0.5 counts as class 1 here; Keras predicts 1 only where y_pred > 0.5 (strictly)"] = np.mean(
            (y_pred.reshape(-1) >= 0.5) == labels
        )
        mistakes["with a single output unit, argmax is always 0: threshold the probability at 0.5 instead"] = np.mean(
            labels == 0
        )
    elif y_true.shape == y_pred.shape:
        mistakes[
            "y_true is one-hot: compare the predicted class with y_true.argmax(axis=-1), not with the one-hot rows"
        ] = np.mean(y_pred.argmax(-1)[:, None] == y_true)
    elif y_true.ndim == 2:
        mistakes[
            "y_true has shape (batch, 1): flatten it before comparing, or the comparison broadcasts to (batch, batch)"
        ] = np.mean(y_pred.argmax(-1) == y_true)
    return mistakes


def _check_accuracy(kata, y_true, y_pred, text):
    got = call(kata, y_true, y_pred)
    expected, metric = ref.accuracy(y_true, y_pred)
    # Keras's metric is a float32 count ratio: exact to ~6e-8, inside rtol=1e-6.
    assert_close(got, expected, call=text, mistakes=_accuracy_mistakes(y_true, y_pred))


@pytest.mark.kata("training.accuracy")
def test_accuracy_docstring_examples(kata):
    _check_accuracy(
        kata,
        np.array([0, 1, 2]),
        np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.5, 0.3, 0.2]]),
        "accuracy([0, 1, 2], <3 rows of class probabilities>)",
    )
    _check_accuracy(kata, np.array([1, 0]), np.array([[0.5], [0.2]]), "accuracy([1, 0], [[0.5], [0.2]])")


def _probabilities(rng, batch, classes):
    logits = rng.normal(size=(batch, classes))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


@pytest.mark.kata("training.accuracy")
@pytest.mark.parametrize("batch, classes", [(1, 3), (32, 10), (7, 2)])
def test_accuracy_sparse_labels(kata, batch, classes):
    rng = np.random.default_rng(batch + classes)
    y_pred, y_true = _probabilities(rng, batch, classes), rng.integers(0, classes, size=batch)
    _check_accuracy(kata, y_true, y_pred, f"accuracy(labels ({batch},), probabilities {y_pred.shape})")
    _check_accuracy(kata, y_true.reshape(-1, 1), y_pred, f"accuracy(labels ({batch}, 1), probabilities {y_pred.shape})")


@pytest.mark.kata("training.accuracy")
@pytest.mark.parametrize("batch, classes", [(32, 10), (5, 3)])
def test_accuracy_one_hot(kata, batch, classes):
    rng = np.random.default_rng(10 * batch + classes)
    y_pred = _probabilities(rng, batch, classes)
    y_true = np.eye(classes)[rng.integers(0, classes, size=batch)]
    _check_accuracy(kata, y_true, y_pred, f"accuracy(one-hot {y_true.shape}, probabilities {y_pred.shape})")


def _tie_mistakes(labels, y_pred):
    picked = y_pred[np.arange(len(labels)), labels]
    last = y_pred.shape[-1] - 1 - y_pred[:, ::-1].argmax(axis=-1)
    return {
        "a tie counted as correct (the label's score equals the row's max); Keras takes argmax, the FIRST "
        "largest score, as the prediction: a tie goes to the lower class": np.mean(picked == y_pred.max(axis=-1)),
        "a tie went to the LAST largest score; argmax takes the first (the lower class)": np.mean(last == labels),
    }


@pytest.mark.kata("training.accuracy")
def test_accuracy_tied_scores(kata):
    labels = np.array([1, 2, 0, 1])
    y_pred = np.array([[0.4, 0.4, 0.2], [0.3, 0.35, 0.35], [0.5, 0.5, 0.0], [0.1, 0.8, 0.1]])
    for y_true, kind in ((labels, "labels (4,)"), (np.eye(3)[labels], "one-hot (4, 3)")):
        text = f"accuracy({kind}, rows with tied scores [[0.4, 0.4, 0.2], [0.3, 0.35, 0.35], [0.5, 0.5, 0], ...])"
        got = call(kata, y_true, y_pred)
        expected, _ = ref.accuracy(y_true, y_pred)
        assert_close(
            got, expected, call=text, mistakes={**_accuracy_mistakes(y_true, y_pred), **_tie_mistakes(labels, y_pred)}
        )


@pytest.mark.kata("training.accuracy")
@pytest.mark.parametrize("true_shape", ["(batch,)", "(batch, 1)"])
def test_accuracy_single_sigmoid_unit(kata, true_shape):
    rng = np.random.default_rng(4)
    y_pred = rng.random((40, 1))
    y_pred[:4, 0] = 0.5  # exactly on the threshold: class 0 for Keras
    y_true = rng.integers(0, 2, size=40).astype(float)
    y_true[:4] = 0.0
    if true_shape == "(batch, 1)":
        y_true = y_true.reshape(-1, 1)
    _check_accuracy(kata, y_true, y_pred, f"accuracy(0/1 labels {true_shape}, sigmoid outputs (40, 1))")


# ------------------------------------------------------------------ kata training.EarlyStopping


class FakeModel:
    """What a callback sees of a model: weights, the stop flag, saving to .npz."""

    def __init__(self):
        self.weights = []
        self.stop_training = False
        self.restored = 0

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=float) for w in weights]
        self.restored += 1

    def save_weights(self, path):
        path = str(path)
        check(path.endswith(".npz"), f"save_weights was given {path!r}; the model saves .npz files")
        np.savez(path, *self.weights)


def _run_learner_early_stopping(cls, config, logs_per_epoch, reuse_runs=1, in_place=True):
    """Drive the learner's callback as fit does; ``reuse_runs`` > 1 hands the same callback (and model)
    to that many fits in a row, as Keras's does, and reports the last.

    Each epoch's weights are written into the model's arrays in place, as an optimizer updates them
    (``in_place=False`` hands the model new arrays instead: only to tell one mistake from another)."""
    callback = cls(**config)
    model = FakeModel()
    callback.set_model(model)
    for _ in range(reuse_runs):
        model.stop_training = False
        callback.on_train_begin()
        epochs_run = 0
        for epoch, logs in enumerate(logs_per_epoch):
            if in_place and model.weights:
                for array, value in zip(model.weights, ref.scripted_weights(epoch)):
                    array[...] = value
            else:
                model.weights = ref.scripted_weights(epoch)
            callback.on_epoch_end(epoch, dict(logs))
            epochs_run = epoch + 1
            if model.stop_training:
                break
        callback.on_train_end()
    return {"epochs_run": epochs_run, "final_weights_epoch": ref.epoch_of(model.weights)}


def _check_early_stopping(kata, config, monitor_values, hint="", reuse_runs=1):
    monitor = config.get("monitor", "val_loss")
    logs = [
        {"loss": 1.0 + epoch, monitor: value} if value is not None else {"loss": 1.0 + epoch}
        for epoch, value in enumerate(monitor_values)
    ]
    got = _run_learner_early_stopping(kata, config, logs, reuse_runs)
    expected = ref.run_early_stopping(config, logs, reuse_runs)
    args = ", ".join(f"{k}={v!r}" for k, v in config.items())
    story = f"EarlyStopping({args}) with {monitor} = {monitor_values}"
    if reuse_runs > 1:
        story = f"the same {story}, in a second fit (the callback given to fit twice)"
    last = len(monitor_values)
    if got["epochs_run"] != expected["epochs_run"]:

        def when(n):
            return f"stopped training after epoch {n - 1}" if n < last else f"never stopped ({last} epochs)"

        why = ""
        patience = config.get("patience", 0)
        for other, text in [
            (patience + 1, ": one epoch late. `wait` counts this epoch too; stop as soon as wait >= patience"),
            (patience - 1, ": one epoch early. Stop only when wait >= patience"),
        ]:
            if (
                other >= 0
                and not why
                and ref.run_early_stopping({**config, "patience": other}, logs)["epochs_run"] == got["epochs_run"]
            ):
                why = text + f" (Keras with patience={other} stops where yours does)"
        # The test's own hint names its point; the off-by-one diagnosis is for the generic cases.
        fail(
            f"{story}: yours {when(got['epochs_run'])}, Keras's {when(expected['epochs_run'])}"
            f"{('. ' + hint) if hint else why}"
        )
    if got["final_weights_epoch"] != expected["final_weights_epoch"]:
        best_kept = expected["final_weights_epoch"] != expected["epochs_run"] - 1
        live = _run_learner_early_stopping(kata, config, logs, reuse_runs, in_place=False)
        why = (
            "the best weights you kept changed with the model: they are the model's own arrays, which the "
            "optimizer updates in place every step. Keep copies: self.model.get_weights() returns them"
            if live["final_weights_epoch"] == expected["final_weights_epoch"]
            else hint
            if reuse_runs > 1 and hint
            else "the best weights were not put back: with restore_best_weights, on_train_end sets the best "
            "epoch's weights on the model, also when training did not stop early (Keras 3)"
            if best_kept and got["final_weights_epoch"] == got["epochs_run"] - 1
            else "the weights must stay as the last epoch left them when restore_best_weights is False"
            if not config.get("restore_best_weights")
            else "restore the weights of the best epoch (the last improvement), saved with model.get_weights()"
        )
        fail(
            f"{story}: after training the model holds the weights of epoch {got['final_weights_epoch']}, "
            f"Keras's holds those of epoch {expected['final_weights_epoch']}: {why}"
        )


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_patience_zero(kata):
    _check_early_stopping(kata, {"patience": 0}, [1.0, 0.8, 0.85, 0.7])


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_docstring_example(kata):
    _check_early_stopping(kata, {"patience": 2}, [1.0, 0.9, 0.95, 0.93, 0.8, 0.7])


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_improvement_resets_patience(kata):
    _check_early_stopping(
        kata,
        {"patience": 3},
        [1.0, 0.9, 0.91, 0.92, 0.85, 0.86, 0.87, 0.88, 0.5],
        hint="An improvement resets wait to 0",
    )


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_equal_is_not_better(kata):
    _check_early_stopping(
        kata, {"patience": 0}, [1.0, 1.0, 0.5], hint="An equal value is not an improvement: current < best, strictly"
    )


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_min_delta(kata):
    _check_early_stopping(
        kata,
        {"patience": 1, "min_delta": 0.05},
        [1.0, 0.97, 0.96, 0.9, 0.5],
        hint="min_delta: an improvement must beat best by more than min_delta (current + min_delta < best)",
    )


@pytest.mark.kata("training.EarlyStopping")
@pytest.mark.parametrize(
    "values", [[10.0, 9.9, 9.8, 9.7, 9.6], [0.1, 0.09, 0.085, 0.08, 0.02]], ids=["near_10", "near_0.1"]
)
def test_early_stopping_min_delta_is_absolute(kata, values):
    _check_early_stopping(
        kata,
        {"patience": 1, "min_delta": 0.05},
        values,
        hint="min_delta is an absolute amount: an improvement must beat best by more than min_delta itself "
        "(current + min_delta < best), whatever the size of best, not by a fraction of best",
    )


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_negative_min_delta(kata):
    _check_early_stopping(
        kata,
        {"patience": 1, "min_delta": -0.05},
        [1.0, 1.02, 1.04, 1.06],
        hint="Keras keeps abs(min_delta): min_delta=-0.05 asks for the same improvement as 0.05 (a worse "
        "value must never count as an improvement)",
    )


@pytest.mark.kata("training.EarlyStopping")
@pytest.mark.parametrize("restore", [False, True])
def test_early_stopping_reused_in_a_second_fit_starts_afresh(kata, restore):
    _check_early_stopping(
        kata,
        {"patience": 1, "restore_best_weights": restore},
        [1.0, 0.9, 0.95, 0.8],
        hint="fit calls on_train_begin at the start of every run: reset wait, best, the best weights and "
        "stopped_epoch there, not in __init__, so that a callback given to a second fit starts afresh",
        reuse_runs=2,
    )


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_restores_best_weights_when_stopping(kata):
    _check_early_stopping(kata, {"patience": 2, "restore_best_weights": True}, [1.0, 0.6, 0.7, 0.8, 0.9])


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_restores_best_weights_without_stopping(kata):
    _check_early_stopping(kata, {"patience": 5, "restore_best_weights": True}, [1.0, 0.6, 0.7, 0.65, 0.62])


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_keeps_last_weights_without_restore(kata):
    _check_early_stopping(kata, {"patience": 1}, [1.0, 0.6, 0.7, 0.8, 0.9])


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_on_accuracy(kata):
    _check_early_stopping(
        kata,
        {"monitor": "val_accuracy", "patience": 1, "restore_best_weights": True},
        [0.5, 0.6, 0.6, 0.55, 0.7],
        hint="mode: self.mode is 'max' for an accuracy; an improvement is current - min_delta > best",
    )


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_with_an_explicit_mode(kata):
    # mode="max" on a monitor named like a loss: Keras uses the mode it is given; "auto" alone guesses.
    _check_early_stopping(
        kata,
        {"monitor": "val_loss", "mode": "max", "patience": 1},
        [1.0, 1.2, 1.1, 1.3, 1.25, 1.2],
        hint="mode='max' was given: use it (an improvement is then current - min_delta > best); only "
        "mode='auto' guesses the direction from the monitor's name",
    )


@pytest.mark.kata("training.EarlyStopping")
def test_early_stopping_without_the_monitored_value(kata):
    _check_early_stopping(
        kata,
        {"patience": 0, "restore_best_weights": True},
        [None, None, None],
        hint="Skip epochs whose logs lack the monitored value",
    )


# ------------------------------------------------------------------ kata training.ModelCheckpoint


def _folder_state(folder):
    state = {}
    for name in sorted(os.listdir(folder)):
        check(name.endswith(".npz"), f"ModelCheckpoint wrote {name!r}; save with self.model.save_weights(path)")
        with np.load(os.path.join(folder, name)) as data:
            state[name.removesuffix(".npz")] = ref.epoch_of([data["arr_0"]])
    return state


def _check_checkpoint(kata, tmp_path, stem, config, monitor_values, hint="", reuse_runs=1):
    """Drive the learner's ModelCheckpoint as fit does (``reuse_runs`` > 1: the same callback given to that
    many fits in a row) and compare the files after every epoch with Keras's."""
    monitor = config.get("monitor", "val_loss")
    logs = [
        {"loss": 1.0 + epoch, monitor: value} if value is not None else {"loss": 1.0 + epoch}
        for epoch, value in enumerate(monitor_values)
    ]
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    callback = kata(str(folder / (stem + ".npz")), **config)
    model = FakeModel()
    callback.set_model(model)
    got = []
    with warnings.catch_warnings():
        # A case without the monitored value provokes Keras's "Can save best model only with val_loss
        # available" on purpose (the learner's ModelCheckpoint may say it too, as Keras does): this
        # check's doing, not a warning to show the learner.
        warnings.filterwarnings("ignore", message="Can save best model only with")
        for _ in range(reuse_runs):
            callback.on_train_begin()
            for epoch, epoch_logs in enumerate(logs):
                model.weights = ref.scripted_weights(epoch)
                callback.on_epoch_end(epoch, dict(epoch_logs))
                got.append(_folder_state(folder))
            callback.on_train_end()
    expected = ref.run_model_checkpoint(stem, config, logs, reuse_runs)
    args = ", ".join([repr(stem + ".npz")] + [f"{k}={v!r}" for k, v in config.items()])
    for step, (mine, theirs) in enumerate(zip(got, expected)):
        if mine != theirs:
            run, epoch = divmod(step, len(logs))
            when = (
                f"in the second fit (the same callback given to fit again), after epoch {epoch}"
                if run
                else (f"after epoch {epoch}")
            )
            # A reuse test's hint is about the second fit: a first fit that already differs is another mistake.
            says = hint if reuse_runs == 1 or run > 0 else ""
            fail(
                f"ModelCheckpoint({args}) with {monitor} = {monitor_values}: {when} the files "
                f"hold {mine}, Keras's hold {theirs} (file: the epoch whose weights it holds)"
                + (f". {says}" if says else "")
            )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_keeps_the_best(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "best",
        {"save_best_only": True},
        [1.0, 0.8, 0.9, 0.85, 0.7, 0.75],
        hint="Save only when the value beats the best so far (not merely the previous epoch), "
        "and remember it as the new best",
    )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_equal_is_not_better(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "best",
        {"save_best_only": True},
        [1.0, 1.0, 0.9, 0.9],
        hint="An equal value is not an improvement: save when current < best, strictly",
    )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_every_epoch(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "latest",
        {"save_best_only": False},
        [1.0, 0.8, 0.9],
        hint="With save_best_only=False, save every epoch",
    )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_on_accuracy(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "best",
        {"monitor": "val_accuracy", "save_best_only": True},
        [0.5, 0.8, 0.7, 0.9],
        hint="An accuracy improves upwards: self.mode is 'max'",
    )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_epoch_in_the_file_name(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "ckpt-{epoch:02d}",
        {"save_best_only": True},
        [1.0, 0.8, 0.9, 0.7],
        hint="Format the path: self.filepath.format(epoch=epoch + 1, **logs)",
    )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_metric_in_the_file_name(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "w-{val_loss:.2f}",
        {"save_best_only": False},
        [1.0, 0.8],
        hint="Format the path: self.filepath.format(epoch=epoch + 1, **logs)",
    )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_without_the_monitored_value(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "best",
        {"save_best_only": True},
        [None, None],
        hint="Without the monitored value Keras cannot compare, so it saves (and warns)",
    )


@pytest.mark.kata("training.ModelCheckpoint")
def test_checkpoint_reused_in_a_second_fit_keeps_the_best(kata, tmp_path):
    _check_checkpoint(
        kata,
        tmp_path,
        "best",
        {"save_best_only": True},
        [1.0, 0.8, 0.9, 0.7],
        hint="Keras sets the best value once, in __init__, and keeps it across fit calls: a second fit "
        "saves only what beats the first fit's best. Do not reset self.best in on_train_begin",
        reuse_runs=2,
    )
