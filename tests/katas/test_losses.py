"""Kata tests for katas/losses.py, checked against Keras's loss classes.

Every loss is compared with ``keras.losses.<Class>(dtype="float64")`` with its
default reduction, the scalar ``model.compile`` trains on (``rtol=1e-6``); every
gradient with ``tf.GradientTape`` on that same scalar (``rtol=1e-5``). Known
mistakes of reduction (no batch mean, a sum over the batch, a mean over the
classes too) are computed from Keras's own per-sample losses, so that the
message can name them.
"""

import numpy as np
import pytest

from dojo.testkit.checks import GRADIENT_RTOL, as_array, assert_close, call, check, show
from dojo.testkit.special import expit
from reference import losses as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

SAME_AS_THE_SCALAR = "d loss / d y_pred ="


# ------------------------------------------------------------------ inputs


def _rng(seed):
    return np.random.default_rng(seed)


def _probabilities(shape, seed):
    """Softmax outputs: rows of positive numbers that add up to 1."""
    z = 2.0 * _rng(seed).normal(size=shape)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _logits(shape, scale, seed):
    """Random logits of about ``scale``; at scale 1000 with exact +1000 and -1000 in them,
    where exp() overflows unless the formula is stable."""
    z = scale * _rng(seed).normal(size=shape)
    if scale >= 1000:
        z.flat[0], z.flat[-1] = 1000.0, -1000.0
        z.flat[len(z.flat) // 2] = 1000.0
    return z


def _np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _one_hot(labels, classes):
    return np.eye(classes)[np.asarray(labels).reshape(-1)]


def _labels(batch, classes, seed):
    return _rng(seed).integers(0, classes, size=batch)


# ------------------------------------------------------------------ checks


def _reduction_mistakes(name, y_true, y_pred, **kwargs):
    """Wrong reductions, computed from Keras's own per-sample losses."""
    per_sample = np.asarray(ref.per_sample(name, y_true, y_pred, **kwargs))
    mistakes = {}
    if per_sample.ndim == 1 and per_sample.size > 1:
        mistakes[
            "you returned one loss per sample; reduce them to ONE number with the mean over the batch "
            "(Keras's default reduction, sum_over_batch_size)"
        ] = per_sample
        mistakes[
            "you summed the per-sample losses over the batch; Keras takes their MEAN (divide by the batch size)"
        ] = per_sample.sum()
    return mistakes


def _check_finite(got, expected, text, remedy):
    array = as_array(got, text)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)) and np.all(np.isfinite(expected)):
        bad = "nan" if np.isnan(array).any() else "inf"
        check(False, f"{text} returned {bad} where Keras gives {show(expected)}: {remedy}")


def _check_loss(kata, name, y_true, y_pred, text, mistakes=None, remedy=None, **kwargs):
    got = call(kata, y_true, y_pred, **kwargs)
    mistakes = mistakes() if callable(mistakes) else mistakes  # after the learner's code: a stub needs no TF
    expected = ref.loss(name, y_true, y_pred, **kwargs)
    if remedy:
        _check_finite(got, expected, text, remedy)
    every = {**(mistakes or {}), **_reduction_mistakes(name, y_true, y_pred, **kwargs)}
    assert_close(got, expected, call=text, mistakes=every)
    check(np.ndim(got) == 0, f"{text} returned shape {np.shape(got)}: a loss is ONE number (a scalar)")


def _check_grad(kata, name, y_true, y_pred, text, mistakes=None, remedy=None, **kwargs):
    got = call(kata, y_true, y_pred, **kwargs)
    mistakes = mistakes() if callable(mistakes) else mistakes  # after the learner's code: a stub needs no TF
    expected = ref.loss_grad(name, y_true, y_pred, **kwargs)
    if remedy:
        _check_finite(got, expected, text, remedy)
    assert_close(got, expected, call=text, rtol=GRADIENT_RTOL, what="gave", mistakes=mistakes or {})


CLIP_REMEDY = (
    "log(0) is -inf. Keras clips y_pred to [1e-7, 1 - 1e-7] (keras.config.epsilon()) before "
    "the log: np.clip(y_pred, 1e-7, 1 - 1e-7)"
)

# --------------------------------------------------------- kata losses.mean_squared_error mean_squared_error


def _mse_mistakes(y_true, y_pred):
    diff = y_true - y_pred
    return {
        "you forgot to square the differences": np.mean(diff),
        "that is the mean ABSOLUTE error; square the differences instead": np.mean(np.abs(diff)),
        "that is the root of the mean squared error (RMSE); do not take the square root": np.sqrt(np.mean(diff**2)),
        "you summed the squared errors; take their mean": np.sum(diff**2),
        "that is HALF the mean squared error, mean(0.5 (y - p)**2), a textbook convention that makes the "
        "gradient neat; Keras's MSE has no 1/2: mean((y - p)**2)": 0.5 * np.mean(diff**2),
    }


@pytest.mark.kata("losses.mean_squared_error")
def test_mse_docstring_example(kata):
    y_true, y_pred = np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])
    _check_loss(
        kata,
        "mean_squared_error",
        y_true,
        y_pred,
        "mean_squared_error([[0, 1], [0, 0]], [[1, 1], [1, 0]])",
        lambda: _mse_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.mean_squared_error")
@pytest.mark.parametrize("shape, seed", [((8, 3), 0), ((1, 4), 1), ((5,), 2), ((32, 1), 3)])
def test_mse_random(kata, shape, seed):
    rng = _rng(seed)
    y_true, y_pred = rng.normal(size=shape), rng.normal(size=shape)
    _check_loss(
        kata,
        "mean_squared_error",
        y_true,
        y_pred,
        f"mean_squared_error(<random {shape}>, <random {shape}>)",
        lambda: _mse_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.mean_squared_error")
def test_mse_labels_of_shape_batch_against_batch_by_one(kata):
    rng = _rng(4)
    y_true, y_pred = rng.normal(size=5), rng.normal(size=(5, 1))
    _check_loss(
        kata,
        "mean_squared_error",
        y_true,
        y_pred,
        "mean_squared_error(y_true (5,), y_pred (5, 1))",
        lambda: {
            "y_true (5,) minus y_pred (5, 1) broadcast to a (5, 5) table of every pair; Keras lines them up "
            "element by element: reshape y_true to y_pred's shape first": np.mean((y_true - y_pred) ** 2),
        },
    )


# ---------------------------------------------------- kata losses.mean_squared_error_grad mean_squared_error_grad


def _mse_grad_mistakes(y_true, y_pred):
    diff, n = y_pred - y_true, y_pred.size
    batch = y_pred.shape[0] if y_pred.ndim > 1 else 1
    mistakes = {}
    if n != batch:
        mistakes[f"you divided by the batch size {batch}; the mean runs over all N = y_pred.size = {n} values"] = (
            2 * diff / batch
        )
    mistakes |= {
        "the factor 2 is missing (that is the gradient of HALF the squared error, 0.5 (p - t)**2; Keras's MSE "
        "has no 1/2): d/dp (p - t)**2 = 2 (p - t)": diff / n,
        f"the 1/N of the mean is missing: divide by N = y_pred.size = {n}": 2 * diff,
        "the sign is flipped: the gradient is 2 (y_pred - y_true) / N": -2 * diff / n,
        "the gradient is missing the mean's 1/N and the factor 2": diff,
    }
    return mistakes


@pytest.mark.kata("losses.mean_squared_error_grad")
def test_mse_grad_docstring_example(kata):
    y_true, y_pred = np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])
    _check_grad(
        kata,
        "mean_squared_error",
        y_true,
        y_pred,
        "mean_squared_error_grad([[0, 1], [0, 0]], [[1, 1], [1, 0]])",
        lambda: _mse_grad_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.mean_squared_error_grad")
@pytest.mark.parametrize("shape, seed", [((6, 4), 5), ((1, 3), 6), ((7,), 7)])
def test_mse_grad_random(kata, shape, seed):
    rng = _rng(seed)
    y_true, y_pred = rng.normal(size=shape), rng.normal(size=shape)
    _check_grad(
        kata,
        "mean_squared_error",
        y_true,
        y_pred,
        f"mean_squared_error_grad(<random {shape}>, <random {shape}>)",
        lambda: _mse_grad_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.mean_squared_error_grad")
def test_mse_grad_labels_of_shape_batch_against_batch_by_one(kata):
    rng = _rng(8)
    y_true, y_pred = rng.normal(size=4), rng.normal(size=(4, 1))
    _check_grad(kata, "mean_squared_error", y_true, y_pred, "mean_squared_error_grad(y_true (4,), y_pred (4, 1))")


# ------------------------------------------------------ kata losses.binary_crossentropy binary_crossentropy


def _bce_mistakes(y_true, y_pred):
    def unclipped_like(eps):
        p = np.clip(y_pred, eps, 1 - eps)
        return np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))

    def plus_eps(eps):
        with np.errstate(all="ignore"):
            return np.mean(-(y_true * np.log(y_pred + eps) + (1 - y_true) * np.log(1 - y_pred + eps)))

    return {
        **{
            f"log(p + {name}) is not Keras's guard against log(0): Keras CLIPS y_pred to [1e-7, 1 - 1e-7] "
            f"(np.clip(y_pred, 1e-7, 1 - 1e-7)) and takes log of that": plus_eps(eps)
            for name, eps in (("1e-7", 1e-7), ("machine eps 2.2e-16", np.finfo(float).eps), ("1e-15", 1e-15))
        },
        "you clipped with eps = 1e-15 (scikit-learn's log_loss); Keras clips to [1e-7, 1 - 1e-7]": unclipped_like(
            1e-15
        ),
        "you clipped with eps = 1e-12; Keras clips to [1e-7, 1 - 1e-7]": unclipped_like(1e-12),
        "the sign is flipped: the loss is MINUS the mean log-likelihood": -unclipped_like(1e-7),
        "log(p) and log(1 - p) are swapped: t = 1 goes with log(p)": np.mean(
            -(y_true * np.log(np.clip(1 - y_pred, 1e-7, 1)) + (1 - y_true) * np.log(np.clip(y_pred, 1e-7, 1)))
        ),
    }


def _bce_logit_mistakes(y_true, z):
    # The clipped sigmoid first: at large logits, clip(sigmoid(z)) and clip(z) are the same numbers
    # (1e-7 and 1 - 1e-7), and a learner who applied the sigmoid did not ignore from_logits.
    return {
        "you applied the sigmoid and then clipped to [1e-7, 1 - 1e-7], as for probabilities: with "
        "from_logits=True Keras works from the logits and does not clip (a logit of -20 with label 1 costs 20, "
        "not 16.1). Use max(z, 0) - z*t + log1p(exp(-|z|))": ref.binary_crossentropy(
            y_true, np.clip(expit(z), 1e-7, 1 - 1e-7)
        ),
        "you ignored from_logits=True and used the logits as probabilities; apply the sigmoid "
        "(or the stable logits formula) first": ref.binary_crossentropy(y_true, z),
    }


@pytest.mark.kata("losses.binary_crossentropy")
def test_bce_docstring_example(kata):
    y_true, y_pred = np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[0.6, 0.4], [0.4, 0.6]])
    _check_loss(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        "binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])",
        lambda: _bce_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.binary_crossentropy")
@pytest.mark.parametrize("shape, seed", [((7, 2), 9), ((1, 1), 10), ((16, 1), 11)])
def test_bce_random_probabilities(kata, shape, seed):
    rng = _rng(seed)
    y_true, y_pred = rng.integers(0, 2, size=shape).astype(float), rng.uniform(0.01, 0.99, size=shape)
    _check_loss(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        f"binary_crossentropy(<labels {shape}>, <probabilities {shape}>)",
        lambda: _bce_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.binary_crossentropy")
def test_bce_exact_zero_and_one_probabilities(kata):
    y_true, y_pred = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]]), np.array([[0.0, 1.0, 0.0, 1.0, 0.5]])
    _check_loss(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        "binary_crossentropy([[0, 1, 1, 0, 1]], [[0, 1, 0, 1, 0.5]])",
        lambda: _bce_mistakes(y_true, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.binary_crossentropy")
def test_bce_tiny_probabilities(kata):
    """Inside (0, 1e-7) the clip and log(p + eps) part: Keras clips."""
    y_true, y_pred = np.array([[1.0, 1.0, 0.0, 1.0, 1.0, 0.0]]), np.array([[1e-9, 1e-8, 1 - 1e-9, 0.3, 0.0, 1.0]])
    _check_loss(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        "binary_crossentropy([[1, 1, 0, 1, 1, 0]], [[1e-9, 1e-8, 1 - 1e-9, 0.3, 0, 1]])",
        lambda: _bce_mistakes(y_true, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.binary_crossentropy")
def test_bce_soft_labels(kata):
    rng = _rng(12)
    y_true, y_pred = rng.uniform(size=(4, 3)), rng.uniform(0.01, 0.99, size=(4, 3))
    _check_loss(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        "binary_crossentropy(<soft labels (4, 3)>, <probabilities (4, 3)>)",
        lambda: _bce_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.binary_crossentropy")
def test_bce_labels_of_shape_batch_against_batch_by_one(kata):
    rng = _rng(13)
    y_true, y_pred = rng.integers(0, 2, size=6).astype(float), rng.uniform(0.01, 0.99, size=(6, 1))
    _check_loss(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        "binary_crossentropy(y_true (6,), y_pred (6, 1))",
        lambda: {
            "y_true (6,) against y_pred (6, 1) broadcast to a (6, 6) table of every pair; Keras lines them up "
            "element by element: reshape y_true to y_pred's shape first": np.mean(
                -(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred))
            ),
        },
    )


@pytest.mark.kata("losses.binary_crossentropy")
@pytest.mark.parametrize("scale, seed", [(2.0, 14), (1000.0, 15)])
def test_bce_from_logits(kata, scale, seed):
    rng = _rng(seed)
    y_true, z = rng.integers(0, 2, size=(6, 2)).astype(float), _logits((6, 2), scale, seed)

    def mistakes():
        with np.errstate(all="ignore"):
            return _bce_logit_mistakes(y_true, z)

    _check_loss(
        kata,
        "binary_crossentropy",
        y_true,
        z,
        f"binary_crossentropy(<labels (6, 2)>, <logits of size ~{scale:g}>, from_logits=True)",
        mistakes,
        remedy="exp() overflowed or log(0) came up; from logits z compute max(z, 0) - z*t + "
        "log1p(exp(-|z|)), which is stable for any z",
        from_logits=True,
    )


# ------------------------------------------------- kata losses.binary_crossentropy_grad binary_crossentropy_grad


def _bce_grad_mistakes(y_true, y_pred):
    n = y_pred.size
    p = np.clip(y_pred, 1e-7, 1 - 1e-7)
    exact = (p - y_true) / (p * (1 - p))
    inside = (y_pred >= 1e-7) & (y_pred <= 1 - 1e-7)
    mistakes = {
        f"the 1/N of the mean is missing: divide by N = y_pred.size = {n}": np.where(inside, exact, 0.0),
        "that is (p - t) / N, the gradient with respect to the LOGITS; with probabilities it is "
        "(p - t) / (p (1 - p)) / N": (y_pred - y_true) / n,
        "the sign is flipped: the gradient is (p - t) / (p (1 - p)) / N": -np.where(inside, exact, 0.0) / n,
    }
    if not inside.all():
        mistakes[
            "where y_pred is outside [1e-7, 1 - 1e-7], the clip makes the loss flat in y_pred, so the "
            "gradient there is 0 (TensorFlow's clip passes no gradient outside its range)"
        ] = exact / n
    return mistakes


@pytest.mark.kata("losses.binary_crossentropy_grad")
@pytest.mark.parametrize("shape, seed", [((5, 3), 16), ((1, 1), 17), ((8, 1), 18)])
def test_bce_grad_random_probabilities(kata, shape, seed):
    rng = _rng(seed)
    y_true, y_pred = rng.integers(0, 2, size=shape).astype(float), rng.uniform(0.01, 0.99, size=shape)
    _check_grad(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        f"binary_crossentropy_grad(<labels {shape}>, <probabilities {shape}>)",
        lambda: _bce_grad_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.binary_crossentropy_grad")
def test_bce_grad_exact_zero_and_one_probabilities(kata):
    y_true = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]])
    y_pred = np.array([[0.0, 1.0, 0.0, 1.0, 0.5, 1e-9]])
    _check_grad(
        kata,
        "binary_crossentropy",
        y_true,
        y_pred,
        "binary_crossentropy_grad([[0, 1, 1, 0, 1, 0]], [[0, 1, 0, 1, 0.5, 1e-9]])",
        lambda: _bce_grad_mistakes(y_true, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.binary_crossentropy_grad")
def test_bce_grad_labels_of_shape_batch_against_batch_by_one(kata):
    rng = _rng(19)
    y_true, y_pred = rng.integers(0, 2, size=5).astype(float), rng.uniform(0.01, 0.99, size=(5, 1))
    _check_grad(kata, "binary_crossentropy", y_true, y_pred, "binary_crossentropy_grad(y_true (5,), y_pred (5, 1))")


@pytest.mark.kata("losses.binary_crossentropy_grad")
def test_bce_grad_labels_of_shape_batch_against_logits_batch_by_one(kata):
    rng = _rng(20)
    y_true, z = rng.integers(0, 2, size=5).astype(float), rng.normal(size=(5, 1))
    _check_grad(
        kata,
        "binary_crossentropy",
        y_true,
        z,
        "binary_crossentropy_grad(y_true (5,), logits (5, 1), from_logits=True)",
        lambda: {
            "labels (batch,) against logits (batch, 1) broadcast to a (batch, batch) table: line the labels up "
            "with the logits first (y_true.reshape(y_pred.shape)), with from_logits=True too": (expit(z) - y_true)
            / z.size
        },
        from_logits=True,
    )


@pytest.mark.kata("losses.binary_crossentropy_grad")
@pytest.mark.parametrize("scale, seed", [(2.0, 20), (1000.0, 21)])
def test_bce_grad_from_logits(kata, scale, seed):
    rng = _rng(seed)
    y_true, z = rng.integers(0, 2, size=(4, 3)).astype(float), _logits((4, 3), scale, seed)
    n = z.size
    _check_grad(
        kata,
        "binary_crossentropy",
        y_true,
        z,
        f"binary_crossentropy_grad(<labels (4, 3)>, <logits of size ~{scale:g}>, from_logits=True)",
        lambda: {
            f"the 1/N of the mean is missing: divide by N = {n}": expit(z) - y_true,
            "the sign is flipped: d loss / d z = (sigmoid(z) - t) / N": (y_true - expit(z)) / n,
            "you ignored from_logits=True: with logits the gradient is (sigmoid(z) - t) / N": ref.binary_crossentropy_grad(
                y_true, z
            ),
        },
        remedy="use your stable sigmoid: (sigmoid(z) - t) / N",
        from_logits=True,
    )


# ------------------------------------------------- kata losses.categorical_crossentropy categorical_crossentropy


def _ce_mistakes(y_true, y_pred):
    clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
    renormalised = y_pred / y_pred.sum(-1, keepdims=True)
    return {
        **{
            f"log(p + {name}) is not Keras's guard against log(0): Keras divides each row by its sum, then "
            f"CLIPS it to [1e-7, 1 - 1e-7] and takes log of that": np.mean(
                -np.sum(y_true * np.log(renormalised + eps), axis=-1)
            )
            for name, eps in (("machine eps 2.2e-16", np.finfo(float).eps), ("1e-15", 1e-15))
        },
        "you took the mean over the classes as well; sum over the classes for each sample, then take the mean "
        "over the batch": np.mean(-y_true * np.log(np.clip(y_pred / y_pred.sum(-1, keepdims=True), 1e-7, 1 - 1e-7))),
        "the rows of y_pred were not renormalised: Keras first divides each row by its sum, then clips": np.mean(
            -np.sum(y_true * np.log(clipped), axis=-1)
        ),
        "the sign is flipped: the loss is -sum(t * log(p))": -ref.categorical_crossentropy(y_true, y_pred),
        "y_pred was clipped before renormalising (a value above 1 - 1e-7 was cut before the row's sum was "
        "taken): Keras first divides each row by its sum, then clips": np.mean(
            -np.sum(y_true * np.log(clipped / clipped.sum(-1, keepdims=True)), axis=-1)
        ),
    }


@pytest.mark.kata("losses.categorical_crossentropy")
def test_ce_docstring_example(kata):
    y_true, y_pred = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    _check_loss(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        "categorical_crossentropy([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])",
        lambda: _ce_mistakes(y_true, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.categorical_crossentropy")
@pytest.mark.parametrize("batch, classes, seed", [(6, 4, 22), (1, 5, 23), (3, 10, 24)])
def test_ce_random_softmax_outputs(kata, batch, classes, seed):
    y_true, y_pred = _one_hot(_labels(batch, classes, seed), classes), _probabilities((batch, classes), seed + 100)
    _check_loss(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        f"categorical_crossentropy(<one-hot ({batch}, {classes})>, <softmax outputs ({batch}, {classes})>)",
        lambda: _ce_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.categorical_crossentropy")
def test_ce_rows_that_do_not_sum_to_one(kata):
    rng = _rng(25)
    y_true, y_pred = _one_hot(_labels(5, 3, 25), 3), rng.uniform(0.05, 2.0, size=(5, 3))
    _check_loss(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        "categorical_crossentropy(<one-hot (5, 3)>, <rows that do not sum to 1 (5, 3)>)",
        lambda: _ce_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.categorical_crossentropy")
def test_ce_exact_zero_probabilities(kata):
    y_true = _one_hot([0, 1, 2, 1], 3)
    y_pred = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    _check_loss(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        "categorical_crossentropy(<one-hot (4, 3)>, <rows with exact 0 and 1 (4, 3)>)",
        lambda: _ce_mistakes(y_true, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.categorical_crossentropy")
def test_ce_soft_labels(kata):
    y_true, y_pred = _probabilities((4, 3), 26), _probabilities((4, 3), 27)
    _check_loss(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        "categorical_crossentropy(<soft labels (4, 3)>, <softmax outputs (4, 3)>)",
        lambda: _ce_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.categorical_crossentropy")
@pytest.mark.parametrize("scale, seed", [(2.0, 28), (1000.0, 29)])
def test_ce_from_logits(kata, scale, seed):
    y_true, z = _one_hot(_labels(5, 4, seed), 4), _logits((5, 4), scale, seed)

    def ignored():
        with np.errstate(all="ignore"):
            return ref.categorical_crossentropy(y_true, z)

    _check_loss(
        kata,
        "categorical_crossentropy",
        y_true,
        z,
        f"categorical_crossentropy(<one-hot (5, 4)>, <logits of size ~{scale:g}>, from_logits=True)",
        lambda: {
            "you applied the softmax and then clipped to [1e-7, 1 - 1e-7], as for probabilities: with "
            "from_logits=True Keras works from the logits and does not clip. Use the log-softmax "
            "z - max(z) - log(sum(exp(z - max(z))))": ref.categorical_crossentropy(y_true, _np_softmax(z)),
            "you ignored from_logits=True and used the logits as probabilities; take the log-softmax "
            "of the logits": ignored(),
        },
        remedy="exp() overflowed or log(0) came up; use the stable log-softmax z - max(z) - log(sum(exp(z - max(z))))",
        from_logits=True,
    )


# -------------------------------------------- kata losses.categorical_crossentropy_grad categorical_crossentropy_grad


def _ce_grad_mistakes(y_true, y_pred):
    batch = y_pred.shape[0]
    p = y_pred / y_pred.sum(-1, keepdims=True)
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    inside = (p >= 1e-7) & (p <= 1 - 1e-7)
    return {
        "that is -t / p / batch alone; Keras renormalises each row of y_pred first, and the gradient through "
        "that division adds sum(t) / sum(y_pred) / batch to every entry of the row": np.where(
            inside, -y_true / clipped, 0.0
        )
        / batch,
        "that is (p - t) / batch, the gradient with respect to the LOGITS; with probabilities, go through "
        "-t / p and the renormalisation": (y_pred - y_true) / batch,
        f"the 1/batch of the mean is missing: divide by the batch size {batch}": ref.categorical_crossentropy_grad(
            y_true, y_pred
        )
        * batch,
    }


def _ce_logit_grad_mistakes(y_true, z):
    batch, classes = z.shape
    s = np.exp(z - z.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    return {
        f"the 1/batch of the mean is missing: divide by the batch size {batch}": s - y_true,
        f"you divided by batch * classes = {batch * classes}; the mean runs over the batch only "
        "(the classes are summed)": (s - y_true) / (batch * classes),
        "the sign is flipped: d loss / d z = (softmax(z) - t) / batch": (y_true - s) / batch,
    }


@pytest.mark.kata("losses.categorical_crossentropy_grad")
@pytest.mark.parametrize("batch, classes, seed", [(5, 3, 30), (1, 4, 31), (8, 10, 32)])
def test_ce_grad_random_softmax_outputs(kata, batch, classes, seed):
    y_true, y_pred = _one_hot(_labels(batch, classes, seed), classes), _probabilities((batch, classes), seed + 100)
    _check_grad(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        f"categorical_crossentropy_grad(<one-hot ({batch}, {classes})>, <softmax outputs ({batch}, {classes})>)",
        _ce_grad_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.categorical_crossentropy_grad")
def test_ce_grad_rows_that_do_not_sum_to_one(kata):
    y_true, y_pred = _one_hot(_labels(4, 3, 33), 3), _rng(33).uniform(0.05, 2.0, size=(4, 3))
    _check_grad(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        "categorical_crossentropy_grad(<one-hot (4, 3)>, <rows that do not sum to 1 (4, 3)>)",
        _ce_grad_mistakes(y_true, y_pred),
    )


@pytest.mark.kata("losses.categorical_crossentropy_grad")
def test_ce_grad_exact_zero_probabilities(kata):
    y_true = _one_hot([0, 1, 2], 3)
    y_pred = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    _check_grad(
        kata,
        "categorical_crossentropy",
        y_true,
        y_pred,
        "categorical_crossentropy_grad(<one-hot (3, 3)>, <rows with exact 0 and 1 (3, 3)>)",
        _ce_grad_mistakes(y_true, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.categorical_crossentropy_grad")
@pytest.mark.parametrize("scale, seed", [(2.0, 34), (1000.0, 35)])
def test_ce_grad_from_logits(kata, scale, seed):
    y_true, z = _one_hot(_labels(6, 4, seed), 4), _logits((6, 4), scale, seed)
    _check_grad(
        kata,
        "categorical_crossentropy",
        y_true,
        z,
        f"categorical_crossentropy_grad(<one-hot (6, 4)>, <logits of size ~{scale:g}>, from_logits=True)",
        _ce_logit_grad_mistakes(y_true, z),
        remedy="use your stable softmax: (softmax(z) - t) / batch",
        from_logits=True,
    )


# ------------------------------------------ kata losses.sparse_categorical_crossentropy sparse_categorical_crossentropy


def _sparse_mistakes(labels, y_pred, **kwargs):
    labels = np.asarray(labels)
    mistakes = {}
    if labels.ndim == 2 and labels.shape[0] > 1 and not kwargs:
        picked = np.clip(y_pred, 1e-7, 1 - 1e-7)[np.arange(len(labels)), labels.astype(int)]
        mistakes[
            "labels of shape (batch, 1) made y_pred[np.arange(batch), labels] a (batch, batch) table; "
            "flatten the labels to (batch,) first"
        ] = np.mean(-np.log(picked))
    if not kwargs:
        clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        picked = clipped[np.arange(y_pred.shape[0]), labels.reshape(-1).astype(int)]
        mistakes["Keras renormalises the clipped row: -log(p_c[label] / sum(p_c)), not -log(p_c[label])"] = np.mean(
            -np.log(picked)
        )
        one_hot = np.eye(y_pred.shape[-1])[labels.reshape(-1).astype(int)]
        mistakes[
            "you went through the categorical loss (renormalise, then clip); the sparse loss on "
            "probabilities clips FIRST, then renormalises (Keras takes log(p) as the logits): "
            "p_c = clip(y_pred), then -log(p_c[label] / sum(p_c))"
        ] = ref.categorical_crossentropy(one_hot, y_pred)
    return mistakes


@pytest.mark.kata("losses.sparse_categorical_crossentropy")
def test_sparse_docstring_example(kata):
    labels, y_pred = np.array([1, 2]), np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    _check_loss(
        kata,
        "sparse_categorical_crossentropy",
        labels,
        y_pred,
        "sparse_categorical_crossentropy([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])",
        lambda: _sparse_mistakes(labels, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.sparse_categorical_crossentropy")
@pytest.mark.parametrize(
    "batch, classes, column, seed", [(7, 4, False, 38), (7, 4, True, 39), (1, 5, False, 40), (3, 10, True, 41)]
)
def test_sparse_random_softmax_outputs(kata, batch, classes, column, seed):
    labels = _labels(batch, classes, seed)
    labels = labels[:, None] if column else labels
    y_pred = _probabilities((batch, classes), seed + 100)
    _check_loss(
        kata,
        "sparse_categorical_crossentropy",
        labels,
        y_pred,
        f"sparse_categorical_crossentropy(<labels {labels.shape}>, <softmax outputs ({batch}, {classes})>)",
        lambda: _sparse_mistakes(labels, y_pred),
    )


@pytest.mark.kata("losses.sparse_categorical_crossentropy")
def test_sparse_rows_that_do_not_sum_to_one_and_exact_zeros(kata):
    labels = np.array([0, 1, 2, 1, 0])
    y_pred = np.vstack([_rng(42).uniform(0.05, 2.0, size=(3, 3)), [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    _check_loss(
        kata,
        "sparse_categorical_crossentropy",
        labels,
        y_pred,
        "sparse_categorical_crossentropy(<labels (5,)>, <rows not summing to 1, with exact 0s (5, 3)>)",
        lambda: _sparse_mistakes(labels, y_pred),
        remedy=CLIP_REMEDY,
    )


@pytest.mark.kata("losses.sparse_categorical_crossentropy")
@pytest.mark.parametrize("scale, column, seed", [(2.0, False, 43), (1000.0, True, 44)])
def test_sparse_from_logits(kata, scale, column, seed):
    labels = _labels(6, 4, seed)
    labels = labels[:, None] if column else labels
    z = _logits((6, 4), scale, seed)
    _check_loss(
        kata,
        "sparse_categorical_crossentropy",
        labels,
        z,
        f"sparse_categorical_crossentropy(<labels {labels.shape}>, <logits of size ~{scale:g}>, from_logits=True)",
        lambda: {
            "you applied the softmax and then clipped to [1e-7, 1 - 1e-7], as for probabilities: with "
            "from_logits=True Keras works from the logits and does not clip. Use the log-softmax "
            "z - max(z) - log(sum(exp(z - max(z))))": ref.sparse_categorical_crossentropy(labels, _np_softmax(z)),
            "you ignored from_logits=True and used the logits as probabilities; take the log-softmax "
            "of the logits": ref.sparse_categorical_crossentropy(labels, z),
        },
        remedy="exp() overflowed or log(0) came up; use the stable log-softmax z - max(z) - log(sum(exp(z - max(z))))",
        from_logits=True,
    )


# ------------------------------------- kata losses.sparse_categorical_crossentropy_grad sparse_categorical_crossentropy_grad


@pytest.mark.kata("losses.sparse_categorical_crossentropy_grad")
@pytest.mark.parametrize("batch, classes, column, seed", [(5, 3, False, 45), (5, 3, True, 46), (1, 4, False, 47)])
def test_sparse_grad_random_softmax_outputs(kata, batch, classes, column, seed):
    labels = _labels(batch, classes, seed)
    labels = labels[:, None] if column else labels
    y_pred = _probabilities((batch, classes), seed + 100)
    one_hot = _one_hot(labels, classes)
    _check_grad(
        kata,
        "sparse_categorical_crossentropy",
        labels,
        y_pred,
        f"sparse_categorical_crossentropy_grad(<labels {labels.shape}>, <softmax outputs ({batch}, {classes})>)",
        lambda: {
            "that is (p - one_hot) / batch, the gradient with respect to the LOGITS; with probabilities "
            "Keras took log(p) as the logits, so divide that by p as well (the chain rule through the log)": (
                y_pred - one_hot
            )
            / batch,
            f"the 1/batch of the mean is missing: divide by the batch size {batch}": ref.sparse_categorical_crossentropy_grad(
                labels, y_pred
            )
            * batch,
        },
    )


@pytest.mark.kata("losses.sparse_categorical_crossentropy_grad")
def test_sparse_grad_rows_that_do_not_sum_to_one_and_exact_zeros(kata):
    labels = np.array([2, 0, 1, 1])
    y_pred = np.vstack([_rng(48).uniform(0.05, 2.0, size=(2, 3)), [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]])
    _check_grad(
        kata,
        "sparse_categorical_crossentropy",
        labels,
        y_pred,
        "sparse_categorical_crossentropy_grad(<labels (4,)>, <rows not summing to 1, with exact 0s (4, 3)>)",
        lambda: _sparse_grad_mistakes(labels, y_pred),
        remedy=CLIP_REMEDY,
    )


def _sparse_grad_mistakes(labels, y_pred):
    one_hot = _one_hot(labels, y_pred.shape[-1])
    return {
        "you reused the categorical gradient (renormalise, then clip); the sparse loss on probabilities clips "
        "FIRST, then renormalises (Keras takes log(p) as the logits), so the clip's zero gradient falls on the "
        "raw y_pred outside [1e-7, 1 - 1e-7]": ref.categorical_crossentropy_grad(one_hot, y_pred),
    }


@pytest.mark.kata("losses.sparse_categorical_crossentropy_grad")
@pytest.mark.parametrize("scale, column, seed", [(2.0, True, 49), (1000.0, False, 50)])
def test_sparse_grad_from_logits(kata, scale, column, seed):
    labels = _labels(6, 5, seed)
    labels = labels[:, None] if column else labels
    z = _logits((6, 5), scale, seed)
    _check_grad(
        kata,
        "sparse_categorical_crossentropy",
        labels,
        z,
        f"sparse_categorical_crossentropy_grad(<labels {labels.shape}>, <logits of size ~{scale:g}>, from_logits=True)",
        lambda: {
            **_ce_logit_grad_mistakes(_one_hot(labels, 5), z),
            "you ignored from_logits=True: with logits the gradient is (softmax(z) - one_hot) / batch": ref.sparse_categorical_crossentropy_grad(
                labels, z
            ),
        },
        remedy="use your stable softmax: (softmax(z) - one_hot) / batch",
        from_logits=True,
    )


# ------------------------------------------------------- the stability search
# hypothesis looks for the smallest input that makes the loss NaN or inf
# (dojo/testkit/stability.py: deterministic, a few dozen examples).


@pytest.mark.kata("losses.binary_crossentropy")
def test_bce_stability_search(kata):
    from hypothesis import strategies as st

    from dojo.testkit.stability import check_stable, floats, labels_and

    check_stable(
        lambda t, z: kata(t, z, from_logits=True),
        labels_and(floats()),
        lambda t, z: ref.binary_crossentropy(t, z, from_logits=True),
        "binary_crossentropy(from_logits=True)",
        "from logits z compute max(z, 0) - z*t + log1p(exp(-|z|)), stable for any z",
    )
    check_stable(
        kata,
        labels_and(st.sampled_from([0.0, 1.0, 0.5, 1e-9, 1 - 1e-9])),
        ref.binary_crossentropy,
        "binary_crossentropy",
        CLIP_REMEDY,
    )


@pytest.mark.kata("losses.categorical_crossentropy")
def test_ce_stability_search(kata):
    from dojo.testkit.stability import check_stable, one_hot_and_logits

    check_stable(
        lambda t, z: kata(t, z, from_logits=True),
        one_hot_and_logits(),
        lambda t, z: ref.categorical_crossentropy(t, z, from_logits=True),
        "categorical_crossentropy(from_logits=True)",
        "use the stable log-softmax z - max(z) - log(sum(exp(z - max(z)))), with the max of each row",
    )
