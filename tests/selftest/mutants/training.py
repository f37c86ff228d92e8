"""Wrong and right ways to write katas/training.py."""

import math

import numpy as np
from mutation import SOLUTIONS, alternative, mutant

from dojo.course.implementation import Implementation

# The callback variants subclass the answer key's classes (see optimizers.py).
_answer_key = Implementation(SOLUTIONS).module("training")
EarlyStopping, ModelCheckpoint = _answer_key.EarlyStopping, _answer_key.ModelCheckpoint

# ------------------------------------------------------------ train_val_split


@mutant("training.train_val_split", expect="from the front")
def train_val_split_from_the_front(x, y, validation_split):
    x, y = np.asarray(x), np.asarray(y)
    n_val = len(x) - math.floor(len(x) * (1 - validation_split))
    if n_val in (0, len(x)):
        raise ValueError(f"cannot split with validation_split={validation_split}")
    return x[n_val:], y[n_val:], x[:n_val], y[:n_val]


@mutant("training.train_val_split", expect="rounded up")
def train_val_split_with_ceil(x, y, validation_split):
    x, y = np.asarray(x), np.asarray(y)
    split_at = math.ceil(len(x) * (1 - validation_split))
    if split_at in (0, len(x)):
        raise ValueError(f"cannot split with validation_split={validation_split}")
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


@mutant("training.train_val_split", expect="validation size is rounded down")
def train_val_split_rounding_the_validation_size(x, y, validation_split):
    x, y = np.asarray(x), np.asarray(y)
    split_at = len(x) - int(len(x) * validation_split)
    if split_at in (0, len(x)):
        raise ValueError(f"cannot split with validation_split={validation_split}")
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


@mutant("training.train_val_split", expect="shuffled before the split")
def train_val_split_after_shuffling(x, y, validation_split):
    x, y = np.asarray(x), np.asarray(y)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    split_at = math.floor(len(x) * (1 - validation_split))
    if split_at in (0, len(x)):
        raise ValueError(f"cannot split with validation_split={validation_split}")
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


@mutant("training.train_val_split", expect="should raise ValueError")
def train_val_split_without_errors(x, y, validation_split):
    x, y = np.asarray(x), np.asarray(y)
    split_at = math.floor(len(x) * (1 - validation_split))
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


@alternative("training.train_val_split")
def train_val_split_with_np_split(x, y, validation_split):
    x, y = np.asarray(x), np.asarray(y)
    split_at = int(len(x) * (1 - validation_split))  # int() truncates: floor for positive numbers
    if not 0 < split_at < len(x):
        raise ValueError(f"validation_split={validation_split} leaves an empty side for {len(x)} samples")
    (x_train, x_val), (y_train, y_val) = np.split(x, [split_at]), np.split(y, [split_at])
    return x_train, y_train, x_val, y_val


# -------------------------------------------------------------- batch_indices


@mutant("training.batch_indices", expect="partial batch is missing")
def batch_indices_dropping_the_last(n, batch_size, shuffle, rng):
    order = rng.permutation(n) if shuffle else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


@mutant("training.batch_indices", expect="from the rng argument")
def batch_indices_ignoring_rng(n, batch_size, shuffle, rng):
    order = np.random.permutation(n) if shuffle else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


@mutant("training.batch_indices", expect="runs of consecutive samples")
def batch_indices_shuffling_batches_only(n, batch_size, shuffle, rng):
    batches = [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


@mutant("training.batch_indices", expect="kept the samples in order")
def batch_indices_never_shuffling(n, batch_size, shuffle, rng):
    return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


@alternative("training.batch_indices")
def batch_indices_with_rng_shuffle(n, batch_size, shuffle, rng):
    order = np.arange(n)
    if shuffle:
        rng.shuffle(order)
    count = -(-n // batch_size)
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(count)]


# ------------------------------------------------------------------ accuracy


@mutant("training.accuracy", expect="not with the one-hot rows")
def accuracy_one_hot_against_labels(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    if y_pred.shape[-1] == 1:
        return float(np.mean((y_pred.reshape(-1) > 0.5) == y_true.reshape(-1)))
    predicted = y_pred.argmax(axis=-1)
    if y_true.ndim == 2 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(-1)
    return float(np.mean(predicted[:, None] == y_true) if y_true.ndim == 2 else np.mean(predicted == y_true))


@mutant("training.accuracy", expect="strictly")
def accuracy_threshold_inclusive(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    if y_pred.shape[-1] == 1:
        return float(np.mean((y_pred.reshape(-1) >= 0.5) == y_true.reshape(-1)))
    labels = y_true.argmax(-1) if y_true.shape == y_pred.shape else y_true.reshape(-1)
    return float(np.mean(y_pred.argmax(-1) == labels))


@mutant("training.accuracy", expect="argmax is always 0")
def accuracy_argmax_of_one_unit(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    labels = y_true.argmax(-1) if y_true.shape == y_pred.shape and y_pred.shape[-1] > 1 else y_true.reshape(-1)
    return float(np.mean(y_pred.argmax(-1) == labels))


@mutant("training.accuracy", expect="flatten it")
def accuracy_without_flattening_labels(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    if y_pred.shape[-1] == 1:
        return float(np.mean((y_pred.reshape(-1) > 0.5) == y_true.reshape(-1)))
    labels = y_true.argmax(-1) if y_true.shape == y_pred.shape else y_true
    return float(np.mean(y_pred.argmax(-1) == labels))


@alternative("training.accuracy")
def accuracy_counting_in_a_loop(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    correct = 0
    for truth, prediction in zip(y_true, y_pred):
        truth = np.ravel(truth)
        if prediction.size == 1:
            correct += int(float(prediction[0] > 0.5) == float(truth[0]))
        else:
            label = int(np.argmax(truth)) if truth.size == prediction.size else int(truth[0])
            correct += int(np.argmax(prediction) == label)
    return correct / len(y_true)


# ------------------------------------------------------------- EarlyStopping


@mutant("training.EarlyStopping", expect="one epoch late")
class EarlyStoppingOneEpochLate(EarlyStopping):
    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        if self._improved(current):
            self.best, self.wait = current, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:  # counts one epoch too many
            self.stopped_epoch = epoch
            self.model.stop_training = True


@mutant("training.EarlyStopping", expect="also when training did not stop early")
class EarlyStoppingRestoringOnlyWhenStopped(EarlyStopping):
    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.stopped_epoch > 0 and self.best_weights is not None:
            self.model.set_weights(self.best_weights)  # Keras 2's behaviour


@mutant("training.EarlyStopping", expect="min_delta")
class EarlyStoppingIgnoringMinDelta(EarlyStopping):
    def _improved(self, current):
        if self.best is None:
            return True
        return current < self.best if self.mode == "min" else current > self.best


@mutant("training.EarlyStopping", expect="equal value is not an improvement")
class EarlyStoppingCountingTies(EarlyStopping):
    def _improved(self, current):
        if self.best is None:
            return True
        return current + self.min_delta <= self.best if self.mode == "min" else current - self.min_delta >= self.best


@mutant("training.EarlyStopping", expect="resets wait")
class EarlyStoppingNeverResettingWait(EarlyStopping):
    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        if self._improved(current):
            self.best = current
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1  # never reset: counts every bad epoch since the start
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True


@mutant(
    "regularization.overfitting",
    expect=r"the regularised run went on for all 60 epochs.*sets model.stop_training",
    module="training",
    target="EarlyStopping",
)
class EarlyStoppingThatOnlyRestores(EarlyStopping):
    """Tracks the best epoch and restores its weights, but never asks fit to stop."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self.model.stop_training = False


@mutant("training.EarlyStopping", expect="'max'")
class EarlyStoppingAlwaysMinimising(EarlyStopping):
    def _improved(self, current):
        return self.best is None or current + self.min_delta < self.best


@mutant("training.EarlyStopping", expect="second fit.*on_train_begin")
class EarlyStoppingStateSetOnlyInInit(EarlyStopping):
    """Its state starts in __init__: a second fit with the same callback starts from the first one's end."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, restore_best_weights=False, mode="auto"):
        super().__init__(monitor, patience, min_delta, restore_best_weights, mode)
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def on_train_begin(self, logs=None):
        pass


@mutant("training.EarlyStopping", expect="min_delta is an absolute amount")
class EarlyStoppingWithARelativeMinDelta(EarlyStopping):
    """min_delta as a fraction of the best value (ReduceLROnPlateau's 'rel' mode, PyTorch's threshold_mode)."""

    def _improved(self, current):
        if self.best is None:
            return True
        if self.mode == "min":
            return current < self.best * (1 - self.min_delta)
        return current > self.best * (1 + self.min_delta)


@mutant("training.EarlyStopping", expect="abs\\(min_delta\\)")
class EarlyStoppingKeepingTheSignOfMinDelta(EarlyStopping):
    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, restore_best_weights=False, mode="auto"):
        super().__init__(monitor, patience, min_delta, restore_best_weights, mode)
        self.min_delta = min_delta  # a negative min_delta now lets worse values count as improvements


@alternative("training.EarlyStopping")
class EarlyStoppingCountingFromTheBestEpoch(EarlyStopping):
    """Epochs since the best one, instead of a wait counter."""

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            return
        current = logs[self.monitor]
        sign = 1.0 if self.mode == "min" else -1.0
        if self.best is None or sign * (self.best - current) > self.min_delta:
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        elif epoch - self.best_epoch >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


# ----------------------------------------------------------- ModelCheckpoint


@mutant("training.ModelCheckpoint", expect="beats the best so far")
class ModelCheckpointSavingEveryEpoch(ModelCheckpoint):
    def on_epoch_end(self, epoch, logs=None):
        self.model.save_weights(self.filepath.format(epoch=epoch + 1, **(logs or {})))


@mutant("training.ModelCheckpoint", expect="beats the best so far")
class ModelCheckpointComparingWithLastEpoch(ModelCheckpoint):
    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        current = logs.get(self.monitor)
        if (
            not self.save_best_only
            or current is None
            or self.best is None
            or (current < self.best if self.mode == "min" else current > self.best)
        ):
            self.model.save_weights(path)
        self.best = current  # the previous epoch's value, not the best


@mutant("training.ModelCheckpoint", expect="strictly")
class ModelCheckpointSavingTies(ModelCheckpoint):
    def _should_save(self, logs):
        current = logs.get(self.monitor)
        if not self.save_best_only or current is None:
            return True
        if self.best is None or (current <= self.best if self.mode == "min" else current >= self.best):
            self.best = current
            return True
        return False


@mutant("training.ModelCheckpoint", expect="Format the path")
class ModelCheckpointWithoutFormatting(ModelCheckpoint):
    def on_epoch_end(self, epoch, logs=None):
        if self._should_save(logs or {}):
            self.model.save_weights(self.filepath)


@mutant("training.ModelCheckpoint", expect="'max'")
class ModelCheckpointAlwaysMinimising(ModelCheckpoint):
    def _should_save(self, logs):
        current = logs.get(self.monitor)
        if not self.save_best_only or current is None:
            return True
        if self.best is None or current < self.best:
            self.best = current
            return True
        return False


@alternative("training.ModelCheckpoint")
class ModelCheckpointWithOperator(ModelCheckpoint):
    def on_epoch_end(self, epoch, logs=None):
        import operator

        logs = dict(logs or {})
        better = operator.lt if self.mode == "min" else operator.gt
        current = logs.get(self.monitor)
        if self.save_best_only and current is not None:
            if self.best is not None and not better(current, self.best):
                return
            self.best = current
        self.model.save_weights(self.filepath.format(epoch=epoch + 1, **logs))


@mutant("training.accuracy", expect="a tie counted as correct")
def accuracy_counting_ties_as_correct(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    if y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
        labels = y_true.argmax(axis=-1) if y_true.shape == y_pred.shape else y_true.reshape(-1).astype(int)
        picked = y_pred[np.arange(len(labels)), labels]
        return float(np.mean(picked == y_pred.max(axis=-1)))
    return float(np.mean((y_pred > 0.5).astype(int).reshape(-1) == y_true.reshape(-1)))


@mutant("training.train_val_split", expect="in floating point, in that order")
def train_val_split_validation_size_first(x, y, validation_split):
    import math

    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    x, y = np.asarray(x), np.asarray(y)
    split_at = len(x) - math.ceil(len(x) * validation_split)  # the validation size first
    if split_at <= 0 or split_at >= len(x):
        raise ValueError(f"validation_split={validation_split} leaves one side empty")
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("training.ModelCheckpoint", expect=r"second fit .*Do not reset self\.best in on_train_begin")
class ModelCheckpointForgetsTheBestEachFit(ModelCheckpoint):
    # MISTAKE: the best value is reset when training begins; Keras keeps it across fit calls (it is set
    # once, in __init__), so a second fit saves only what beats the first fit's best.
    def on_train_begin(self, logs=None):
        self.best = None


@mutant("training.EarlyStopping", expect=r"the best weights you kept changed with the model")
class EarlyStoppingKeepsLiveWeights(EarlyStopping):
    # MISTAKE: "saves" the best weights as references to the arrays the optimizer keeps updating in place.
    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = list(self.model.weights)
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = list(self.model.weights)
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True


@mutant("training.EarlyStopping", expect=r"one epoch late")
class EarlyStoppingOneEpochTooPatient(EarlyStopping):
    # MISTAKE: stops when wait > patience: one epoch later than Keras.
    def on_epoch_end(self, epoch, logs=None):
        patience = self.patience
        self.patience = patience + 1
        try:
            super().on_epoch_end(epoch, logs)
        finally:
            self.patience = patience


@mutant("training.train_val_split", expect=r"split_at = floor\(n \* \(1 - validation_split\)\)")
def train_val_split_counts_validation_first(x, y, validation_split):
    # MISTAKE: n_val = int(n * split) then split_at = n - n_val: one more training sample than Keras
    # wherever n * split is not a whole number.
    x, y = np.asarray(x), np.asarray(y)
    if not 0.0 <= validation_split < 1.0 or len(x) != len(y):
        raise ValueError(f"validation_split must be in [0, 1). Received: validation_split={validation_split}")
    split_at = len(x) - int(len(x) * validation_split)
    if split_at in (0, len(x)):
        raise ValueError(f"not enough samples to split with validation_split={validation_split}")
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


@mutant("training.accuracy", expect=r"y_pred > 0\.5 \(strictly\)")
def accuracy_threshold_inclusive(y_true, y_pred):
    # MISTAKE: p >= 0.5 counts as class 1; Keras's binary accuracy uses p > 0.5.
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    if y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
        predicted = y_pred.argmax(axis=-1)
        labels = y_true.argmax(axis=-1) if y_true.shape == y_pred.shape else y_true.reshape(predicted.shape)
    else:
        predicted = (y_pred >= 0.5).astype(int).reshape(-1)
        labels = y_true.reshape(-1)
    return float(np.mean(predicted == labels))


@alternative("training.accuracy")
def accuracy_counting_matches(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=float)
    if y_pred.ndim >= 2 and y_pred.shape[-1] > 1:
        guess = np.argmax(y_pred, axis=-1)
        truth = np.argmax(y_true, axis=-1) if y_true.shape == y_pred.shape else y_true.reshape(guess.shape)
    else:
        guess, truth = np.where(y_pred.ravel() > 0.5, 1, 0), y_true.ravel()
    return np.count_nonzero(guess == truth) / guess.size


# third blind batch


@mutant("training.EarlyStopping", expect=r"mode='max' was given: use it")
class EarlyStoppingIgnoringAnExplicitMode(EarlyStopping):
    # MISTAKE: mode given explicitly is ignored; the direction is always guessed from the name.
    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, restore_best_weights=False, mode="auto"):
        super().__init__(monitor, patience, min_delta, restore_best_weights, "auto")
