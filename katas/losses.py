"""Losses.

A loss turns a batch of predictions ``y_pred`` and targets ``y_true`` into ONE
number that training makes smaller. Keras computes it in two steps, and
``model.compile(loss=...)`` uses exactly these::

    1. a loss per sample:   reduce over the last axis (mean for MSE and binary
                            cross-entropy, sum for categorical cross-entropy)
    2. one number:          the mean of the per-sample losses over the batch
                            (Keras calls this reduction "sum_over_batch_size")

The gradient of that number with respect to ``y_pred`` is where
backpropagation starts, so each loss has a ``*_grad`` twin returning
``d loss / d y_pred``, an array of the same shape as ``y_pred``. Don't forget
that the batch mean divides every entry of the gradient by the batch size.

Cross-entropies take ``from_logits``: with ``False`` (Keras's default)
``y_pred`` holds probabilities (the output of a sigmoid or softmax); with
``True`` it holds the raw scores before that activation ("logits"), and the
loss applies the activation itself, in a numerically stable way. Keras clips
probabilities to ``[1e-7, 1 - 1e-7]`` (``keras.config.epsilon()``) before any
log, so that a prediction of exactly 0 or 1 gives a large but finite loss.

Your answers are checked against ``keras.losses.*`` in float64, gradients
against ``tf.GradientTape`` on the same scalar.

Run ``pytest`` after each kata; it tells you what to do next.
"""

import numpy as np

EPSILON = 1e-7  # keras.config.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]


# A solved example, to show the shape of an answer: Keras's "mae" loss.
def mean_absolute_error(y_true, y_pred):
    """Mean absolute error: ``mean(|y_true - y_pred|)``, as ONE number.

    Per sample, the mean over the last axis; then the mean over the batch.
    Every sample has as many values, so that is the mean of all the values.

    Example:
        >>> mean_absolute_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        0.5                  # per sample [0.5, 0.5], batch mean 0.5
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if abs(y_true.ndim - y_pred.ndim) == 1 and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)  # labels (batch,) against predictions (batch, 1)
    return float(np.mean(np.abs(y_true - y_pred)))


def mean_squared_error(y_true, y_pred):
    """Mean squared error: ``mean((y_true - y_pred)**2)``, as ONE number.

    The loss of regression. Large errors count much more than small ones.

    Shapes: ``y_true`` and ``y_pred`` are ``(batch, outputs)`` (or ``(batch,)``).
    Keras also accepts labels of shape ``(batch,)`` against predictions of
    shape ``(batch, 1)``: it lines them up element by element. NumPy would
    broadcast ``(batch,) - (batch, 1)`` to ``(batch, batch)``, a silent
    disaster: reshape ``y_true`` to ``y_pred``'s shape first in that case.

    Returns:
        One float.

    Example:
        >>> mean_squared_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        0.5                  # per sample [(1 + 0)/2, (1 + 0)/2] = [0.5, 0.5]; batch mean 0.5
    """
    # TODO: kata losses.mean_squared_error
    raise NotImplementedError("kata losses.mean_squared_error")


def mean_squared_error_grad(y_true, y_pred):
    """Gradient of ``mean_squared_error`` with respect to ``y_pred``.

    The loss is a mean of N = ``y_pred.size`` terms ``(p - t)**2``, so::

        d loss / d p = 2 * (p - t) / N

    Returns:
        An array of ``y_pred``'s shape.

    Example:
        >>> mean_squared_error_grad([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
        array([[0.5, 0. ],
               [0.5, 0. ]])   # 2 * (p - t) / 4
    """
    # TODO: kata losses.mean_squared_error_grad
    raise NotImplementedError("kata losses.mean_squared_error_grad")


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Binary cross-entropy, as ONE number: the loss of yes/no (sigmoid) outputs.

    For a target t in {0, 1} (or a soft target in [0, 1]) and a predicted
    probability p::

        loss = -(t * log(p) + (1 - t) * log(1 - p))        mean over all values

    A confident wrong answer costs a lot: t = 1, p = 0.01 costs 4.6.

    Keras clips p to ``[1e-7, 1 - 1e-7]`` first, so p = 0 or 1 gives a
    finite loss (about 16.1 for a wrong certainty) instead of ``inf``.

    With ``from_logits=True``, ``y_pred`` holds logits z with p = sigmoid(z).
    Do not compute ``log(sigmoid(z))``: it overflows or gives log(0) at
    z = +-1000. The same loss, written stably (no clipping here)::

        loss = max(z, 0) - z * t + log(1 + exp(-|z|))        (np.log1p)

    Shapes: ``y_true`` and ``y_pred`` are ``(batch, outputs)``, usually
    ``(batch, 1)``; labels ``(batch,)`` against ``(batch, 1)`` are lined up
    element by element, as in mean_squared_error.

    Returns:
        One float.

    Example:
        >>> binary_crossentropy([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]])
        0.8149...             # -(log(0.4) + log(0.4) + log(0.6) + log(0.4)) / 4
    """
    # TODO: kata losses.binary_crossentropy
    raise NotImplementedError("kata losses.binary_crossentropy")


def binary_crossentropy_grad(y_true, y_pred, from_logits=False):
    """Gradient of ``binary_crossentropy`` with respect to ``y_pred`` (or the logits).

    With N = ``y_pred.size`` (the mean)::

        probabilities:  d loss / d p = (p - t) / (p * (1 - p)) / N
                        and 0 where y_pred is below 1e-7 or above 1 - 1e-7:
                        there the clip makes the loss flat in y_pred
        logits:         d loss / d z = (sigmoid(z) - t) / N

    The second is the first times dp/dz = p(1 - p): the sigmoid's derivative
    cancels the division, which is why Keras prefers logits.

    Returns:
        An array of ``y_pred``'s shape.

    Example:
        >>> binary_crossentropy_grad([[1.0, 0.0]], [[0.0, 0.0]], from_logits=True)
        array([[-0.25,  0.25]])   # (sigmoid(0) - t) / 2 = (0.5 - t) / 2
    """
    # TODO: kata losses.binary_crossentropy_grad
    raise NotImplementedError("kata losses.binary_crossentropy_grad")


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Categorical cross-entropy, as ONE number: the loss of softmax classifiers.

    ``y_true`` is one-hot, shape ``(batch, classes)``: ``[0, 1, 0]`` means
    class 1. Per sample::

        loss = -sum_c t_c * log(p_c)      (= -log of the probability of the right class)

    then the mean over the batch. Keras first divides each row of ``y_pred``
    by its sum (so a row that does not add up to 1 is renormalised), then
    clips to ``[1e-7, 1 - 1e-7]``.

    With ``from_logits=True``, ``y_pred`` holds the scores z before the softmax,
    and log(p) is the stable log-softmax (no clipping)::

        log_softmax(z) = z - max(z) - log(sum(exp(z - max(z))))     along the last axis

    Returns:
        One float.

    Example:
        >>> categorical_crossentropy([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
        1.1769...             # per sample [-log(0.95), -log(0.1)] = [0.0513, 2.3026]; mean
    """
    # TODO: kata losses.categorical_crossentropy
    raise NotImplementedError("kata losses.categorical_crossentropy")


def categorical_crossentropy_grad(y_true, y_pred, from_logits=False):
    """Gradient of ``categorical_crossentropy`` with respect to ``y_pred`` (or the logits).

    With ``batch`` samples (the mean)::

        logits:         d loss / d z = (softmax(z) - t) / batch      (rows of t sum to 1)

        probabilities:  two steps. With p = y / sum(y) (the renormalisation):
                        d loss / d p = -t / p / batch   (0 where p was clipped)
                        d loss / d y = (dp - sum(dp * p)) / sum(y)   per row

    For rows that already sum to 1, the renormalisation adds ``sum(t) / batch``
    to every entry: ``-t / p`` alone is not the whole answer.

    Returns:
        An array of ``y_pred``'s shape.

    Example:
        >>> categorical_crossentropy_grad([[0.0, 1.0]], [[0.0, 0.0]], from_logits=True)
        array([[ 0.5, -0.5]])     # softmax([0, 0]) - [0, 1]
    """
    # TODO: kata losses.categorical_crossentropy_grad
    raise NotImplementedError("kata losses.categorical_crossentropy_grad")


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Categorical cross-entropy with integer labels, as ONE number.

    ``y_true`` holds class indices, shape ``(batch,)`` or ``(batch, 1)``
    (``[1, 2]`` rather than ``[[0, 1, 0], [0, 0, 1]]``); ``y_pred`` is
    ``(batch, classes)``. Per sample, minus the log of the probability of the
    labelled class; then the mean over the batch.

    Keras, from probabilities: clip p to ``[1e-7, 1 - 1e-7]``, take the log,
    and treat that as logits, i.e. ``-log(p_c[label] / sum(p_c))`` with p_c the
    clipped row. From logits: the log-softmax, as in categorical_crossentropy.

    Careful with labels of shape ``(batch, 1)``: ``y_pred[np.arange(batch), labels]``
    then broadcasts to ``(batch, batch)``. Flatten them to ``(batch,)`` first.

    Returns:
        One float.

    Example:
        >>> sparse_categorical_crossentropy([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
        1.1769...             # same as the one-hot example above
    """
    # TODO: kata losses.sparse_categorical_crossentropy
    raise NotImplementedError("kata losses.sparse_categorical_crossentropy")


def sparse_categorical_crossentropy_grad(y_true, y_pred, from_logits=False):
    """Gradient of ``sparse_categorical_crossentropy`` with respect to ``y_pred`` (or the logits).

    With one-hot rows t made from the labels, and ``batch`` samples::

        logits:         d loss / d z = (softmax(z) - t) / batch
        probabilities:  Keras used log(p_c) as logits (p_c the clipped y_pred), so
                        d loss / d p = (p_c / sum(p_c) - t) / batch / p_c
                        and 0 where y_pred was clipped

    Returns:
        An array of ``y_pred``'s shape.

    Example:
        >>> sparse_categorical_crossentropy_grad([1], [[0.0, 0.0]], from_logits=True)
        array([[ 0.5, -0.5]])
    """
    # TODO: kata losses.sparse_categorical_crossentropy_grad
    raise NotImplementedError("kata losses.sparse_categorical_crossentropy_grad")
