"""Wrong and right ways to write katas/losses.py."""

import numpy as np
from mutation import alternative, mutant

# ------------------------------------------------------------ mean_squared_error


@mutant("losses.mean_squared_error", expect="summed the per-sample losses over the batch")
def mse_summed_over_the_batch(y_true, y_pred):
    y_pred = _f(y_pred)
    y_true = _match_rank(_f(y_true), y_pred)
    return float(np.sum(np.mean((y_true - y_pred) ** 2, axis=-1)))


@mutant("losses.mean_squared_error", expect="one loss per sample")
def mse_per_sample(y_true, y_pred):
    y_pred = _f(y_pred)
    return np.mean((_match_rank(_f(y_true), y_pred) - y_pred) ** 2, axis=-1)


@mutant("losses.mean_squared_error", expect="broadcast to a \\(5, 5\\) table")
def mse_broadcasting_labels(y_true, y_pred):
    return float(np.mean((_f(y_true) - _f(y_pred)) ** 2))


@mutant("losses.mean_squared_error", expect="RMSE")
def mse_root(y_true, y_pred):
    y_pred = _f(y_pred)
    return float(np.sqrt(np.mean((_match_rank(_f(y_true), y_pred) - y_pred) ** 2)))


@alternative("losses.mean_squared_error")
def mse_per_sample_then_batch(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    per_sample = np.mean(np.square(y_true - y_pred), axis=-1)
    return float(np.mean(per_sample))


@alternative("losses.mean_squared_error")
def mse_with_a_loop(y_true, y_pred):
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    y_true = np.asarray(y_true, dtype=float).ravel()
    total = 0.0
    for t, p in zip(y_true, y_pred):
        total += (t - p) ** 2
    return total / len(y_pred)


# ------------------------------------------------------- mean_squared_error_grad


@mutant("losses.mean_squared_error_grad", expect="factor 2 is missing")
def mse_grad_without_the_2(y_true, y_pred):
    y_pred = _f(y_pred)
    return (y_pred - _match_rank(_f(y_true), y_pred)) / y_pred.size


@mutant("losses.mean_squared_error_grad", expect="1/N of the mean is missing")
def mse_grad_without_1_over_n(y_true, y_pred):
    y_pred = _f(y_pred)
    return 2.0 * (y_pred - _match_rank(_f(y_true), y_pred))


@mutant("losses.mean_squared_error_grad", expect="divided by the batch size")
def mse_grad_over_the_batch_only(y_true, y_pred):
    y_pred = _f(y_pred)
    return 2.0 * (y_pred - _match_rank(_f(y_true), y_pred)) / len(y_pred)


@alternative("losses.mean_squared_error_grad")
def mse_grad_per_sample_then_batch(y_true, y_pred):
    y_pred = np.asarray(y_pred, dtype=float)
    y_true = np.asarray(y_true, dtype=float).reshape(y_pred.shape)
    features = y_pred.shape[-1] if y_pred.ndim > 1 else y_pred.size
    batch = y_pred.size // features
    return 2.0 * (y_pred - y_true) / features / batch


# ----------------------------------------------------------- binary_crossentropy


@mutant("losses.binary_crossentropy", expect="Keras clips y_pred to \\[1e-7, 1 - 1e-7\\]")
def bce_without_clipping(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    p = sigmoid(y_pred) if from_logits else y_pred
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


@mutant("losses.binary_crossentropy", expect="scikit-learn")
def bce_clipping_like_sklearn(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    if from_logits:
        return float(np.mean(np.maximum(y_pred, 0) - y_pred * t + np.log1p(np.exp(-np.abs(y_pred)))))
    p = np.clip(y_pred, 1e-15, 1 - 1e-15)
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


@mutant("losses.binary_crossentropy", expect="ignored from_logits=True")
def bce_ignoring_from_logits(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    p = _clip(y_pred)
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


@mutant("losses.binary_crossentropy", expect="stable for any z")
def bce_logits_through_textbook_sigmoid(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    p = 1.0 / (1.0 + np.exp(-y_pred)) if from_logits else _clip(y_pred)
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


@mutant("losses.binary_crossentropy", expect="summed the per-sample losses")
def bce_summed_over_the_batch(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    p = sigmoid(y_pred) if from_logits else _clip(y_pred)
    return float(np.sum(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), axis=-1)))


@mutant("losses.binary_crossentropy", expect="broadcast to a \\(6, 6\\) table")
def bce_broadcasting_labels(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    p = sigmoid(y_pred) if from_logits else _clip(y_pred)
    return float(np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))))


@alternative("losses.binary_crossentropy")
def bce_with_logaddexp(y_true, y_pred, from_logits=False):
    y_pred = np.asarray(y_pred, dtype=float)
    t = np.asarray(y_true, dtype=float).reshape(y_pred.shape)
    if from_logits:
        # -log sigmoid(z) = logaddexp(0, -z) and -log(1 - sigmoid(z)) = logaddexp(0, z).
        per_element = t * np.logaddexp(0.0, -y_pred) + (1 - t) * np.logaddexp(0.0, y_pred)
    else:
        p = np.minimum(np.maximum(y_pred, 1e-7), 1 - 1e-7)
        per_element = -(t * np.log(p) + (1 - t) * np.log1p(-p))
    return per_element.mean()


# ------------------------------------------------------ binary_crossentropy_grad


@mutant("losses.binary_crossentropy_grad", expect="the clip makes the loss flat")
def bce_grad_through_the_clip(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    if from_logits:
        return (sigmoid(y_pred) - t) / y_pred.size
    p = _clip(y_pred)
    return (p - t) / (p * (1.0 - p)) / y_pred.size


@mutant("losses.binary_crossentropy_grad", expect="with respect to the LOGITS")
def bce_grad_logits_formula_for_probabilities(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    return ((sigmoid(y_pred) if from_logits else y_pred) - t) / y_pred.size


@mutant("losses.binary_crossentropy_grad", expect="1/N of the mean is missing")
def bce_grad_logits_without_the_mean(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    if from_logits:
        return sigmoid(y_pred) - t
    p = _clip(y_pred)
    return np.where(_inside_clip(y_pred), (p - t) / (p * (1.0 - p)), 0.0)


@alternative("losses.binary_crossentropy_grad")
def bce_grad_as_two_terms(y_true, y_pred, from_logits=False):
    from scipy.special import expit

    y_pred = np.asarray(y_pred, dtype=float)
    t = np.asarray(y_true, dtype=float).reshape(y_pred.shape)
    if from_logits:
        return (expit(y_pred) - t) / y_pred.size
    p = np.clip(y_pred, 1e-7, 1 - 1e-7)
    grad = -t / p + (1 - t) / (1 - p)  # d/dp of -(t log p + (1-t) log(1-p))
    grad[(y_pred < 1e-7) | (y_pred > 1 - 1e-7)] = 0.0
    return grad / y_pred.size


# ------------------------------------------------------ categorical_crossentropy


@mutant("losses.categorical_crossentropy", expect="mean over the classes as well")
def ce_mean_over_everything(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    p = softmax(y_pred) if from_logits else y_pred / y_pred.sum(-1, keepdims=True)
    return float(np.mean(-y_true * np.log(_clip(p))))


@mutant("losses.categorical_crossentropy", expect="summed the per-sample losses over the batch")
def ce_summed_over_the_batch(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    p = softmax(y_pred) if from_logits else y_pred / y_pred.sum(-1, keepdims=True)
    return float(np.sum(-np.sum(y_true * np.log(_clip(p)), axis=-1)))


@mutant("losses.categorical_crossentropy", expect="not renormalised")
def ce_without_renormalising(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        return float(np.mean(-np.sum(y_true * np.log(softmax(y_pred)), axis=-1)))
    return float(np.mean(-np.sum(y_true * np.log(_clip(y_pred)), axis=-1)))


@mutant("losses.categorical_crossentropy", expect="Keras clips y_pred")
def ce_without_clipping(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    p = softmax(y_pred) if from_logits else y_pred / y_pred.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(-np.sum(y_true * np.log(p), axis=-1)))


@mutant("losses.categorical_crossentropy", expect="ignored from_logits=True")
def ce_ignoring_from_logits(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    p = _clip(y_pred / y_pred.sum(-1, keepdims=True))
    return float(np.mean(-np.sum(y_true * np.log(p), axis=-1)))


@mutant("losses.categorical_crossentropy", expect="stable log-softmax")
def ce_logits_without_max_shift(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        log_p = y_pred - np.log(np.sum(np.exp(y_pred), axis=-1, keepdims=True))
    else:
        log_p = np.log(_clip(y_pred / y_pred.sum(-1, keepdims=True)))
    return float(np.mean(-np.sum(y_true * log_p, axis=-1)))


@alternative("losses.categorical_crossentropy")
def ce_with_logsumexp(y_true, y_pred, from_logits=False):
    from scipy.special import logsumexp

    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if from_logits:
        log_p = y_pred - logsumexp(y_pred, axis=-1, keepdims=True)
    else:
        log_p = np.log(np.clip(y_pred / np.sum(y_pred, axis=-1, keepdims=True), 1e-7, 1 - 1e-7))
    return float(-np.einsum("bc,bc->", y_true, log_p) / y_pred.shape[0])


@alternative("losses.categorical_crossentropy")
def ce_sample_by_sample(y_true, y_pred, from_logits=False):
    import math

    total = 0.0
    for t_row, row in zip(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)):
        if from_logits:
            m = max(row)
            log_norm = m + math.log(sum(math.exp(v - m) for v in row))
            total -= sum(t * (v - log_norm) for t, v in zip(t_row, row))
        else:
            s = sum(row)
            total -= sum(t * math.log(min(max(v / s, 1e-7), 1 - 1e-7)) for t, v in zip(t_row, row))
    return total / len(y_pred)


# ------------------------------------------------- categorical_crossentropy_grad


@mutant("losses.categorical_crossentropy_grad", expect="renormalises each row")
def ce_grad_without_the_renormalisation(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    n = _batch_size(y_pred)
    if from_logits:
        return (softmax(y_pred) - y_true) / n
    p = y_pred / y_pred.sum(-1, keepdims=True)
    return np.where(_inside_clip(p), -y_true / _clip(p), 0.0) / n


@mutant("losses.categorical_crossentropy_grad", expect="with respect to the LOGITS")
def ce_grad_logits_formula_for_probabilities(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    p = softmax(y_pred) if from_logits else y_pred
    return (p - y_true) / _batch_size(y_pred)


@mutant("losses.categorical_crossentropy_grad", expect="batch \\* classes")
def ce_grad_over_every_value(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        return (softmax(y_pred) - y_true) / y_pred.size
    total = y_pred.sum(axis=-1, keepdims=True)
    p = y_pred / total
    dp = np.where(_inside_clip(p), -y_true / _clip(p), 0.0)
    return (dp - np.sum(dp * p, axis=-1, keepdims=True)) / total / _batch_size(y_pred)


@alternative("losses.categorical_crossentropy_grad")
def ce_grad_with_the_jacobian(y_true, y_pred, from_logits=False):
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    batch, classes = y_pred.shape
    if from_logits:
        e = np.exp(y_pred - y_pred.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True) - y_true) / batch
    out = np.zeros_like(y_pred)
    for b in range(batch):
        total = y_pred[b].sum()
        p = y_pred[b] / total
        dp = np.where((p >= 1e-7) & (p <= 1 - 1e-7), -y_true[b] / np.clip(p, 1e-7, 1 - 1e-7), 0.0)
        jacobian = (np.eye(classes) - p[:, None]) / total  # J[j, k] = d p_j / d y_k
        out[b] = dp @ jacobian / batch
    return out


# ----------------------------------------------- sparse_categorical_crossentropy


@mutant("losses.sparse_categorical_crossentropy", expect="flatten the labels")
def sparse_ce_column_labels_broadcast(y_true, y_pred, from_logits=False):
    labels, y_pred = np.asarray(y_true).astype(int), _f(y_pred)
    log_p = (
        np.log(_clip(y_pred) / _clip(y_pred).sum(-1, keepdims=True))
        if not from_logits
        else y_pred
        - y_pred.max(-1, keepdims=True)
        - np.log(np.exp(y_pred - y_pred.max(-1, keepdims=True)).sum(-1, keepdims=True))
    )
    return float(np.mean(-log_p[np.arange(len(y_pred)), labels]))


@mutant("losses.sparse_categorical_crossentropy", expect="ignored from_logits=True")
def sparse_ce_ignoring_from_logits(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    return categorical_crossentropy(_one_hot(y_true, y_pred.shape[-1]), np.log(_clip(y_pred)), from_logits=True)


@mutant("losses.sparse_categorical_crossentropy", expect="renormalises the clipped row")
def sparse_ce_without_renormalising(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    labels = np.asarray(y_true).astype(int).reshape(-1)
    if from_logits:
        return categorical_crossentropy(_one_hot(labels, y_pred.shape[-1]), y_pred, from_logits=True)
    return float(np.mean(-np.log(_clip(y_pred)[np.arange(len(labels)), labels])))


@alternative("losses.sparse_categorical_crossentropy")
def sparse_ce_by_gathering(y_true, y_pred, from_logits=False):
    from scipy.special import logsumexp

    y_pred = np.asarray(y_pred, dtype=float)
    labels = np.asarray(y_true).astype(int).reshape(-1)
    logits = y_pred if from_logits else np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    log_p = logits - logsumexp(logits, axis=-1, keepdims=True)
    return float(-log_p[np.arange(len(labels)), labels].mean())


# ------------------------------------------ sparse_categorical_crossentropy_grad


@mutant("losses.sparse_categorical_crossentropy_grad", expect="with respect to the LOGITS")
def sparse_ce_grad_logits_formula_for_probabilities(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    p = softmax(y_pred) if from_logits else y_pred
    return (p - one_hot) / _batch_size(y_pred)


@mutant("losses.sparse_categorical_crossentropy_grad", expect="ignored from_logits=True")
def sparse_ce_grad_ignoring_from_logits(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    p = _clip(y_pred)
    d_log_p = categorical_crossentropy_grad(one_hot, np.log(p), from_logits=True)
    return np.where(_inside_clip(y_pred), d_log_p / p, 0.0)


@mutant("losses.sparse_categorical_crossentropy_grad", expect="1/batch of the mean is missing")
def sparse_ce_grad_without_the_mean(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    if from_logits:
        return softmax(y_pred) - one_hot
    p = _clip(y_pred)
    d_log_p = softmax(np.log(p)) - one_hot
    return np.where(_inside_clip(y_pred), d_log_p / p, 0.0)


@alternative("losses.sparse_categorical_crossentropy_grad")
def sparse_ce_grad_row_by_row(y_true, y_pred, from_logits=False):
    y_pred = np.asarray(y_pred, dtype=float)
    labels = np.asarray(y_true).astype(int).reshape(-1)
    batch = len(labels)
    out = np.zeros_like(y_pred)
    for b, label in enumerate(labels):
        if from_logits:
            e = np.exp(y_pred[b] - y_pred[b].max())
            out[b] = e / e.sum()
            out[b, label] -= 1.0
        else:
            clipped = np.clip(y_pred[b], 1e-7, 1 - 1e-7)
            d_log_p = clipped / clipped.sum()
            d_log_p[label] -= 1.0
            inside = (y_pred[b] >= 1e-7) & (y_pred[b] <= 1 - 1e-7)
            out[b] = np.where(inside, d_log_p / clipped, 0.0)
    return out / batch


# ------------------------------------------------- mistakes seen in real code


@mutant("losses.mean_squared_error", expect="HALF the mean squared error")
def mse_half(y_true, y_pred):
    y_pred = _f(y_pred)
    return float(np.mean(0.5 * (_match_rank(_f(y_true), y_pred) - y_pred) ** 2))


@mutant("losses.mean_squared_error_grad", expect="HALF the squared error")
def mse_grad_of_half_mse(y_true, y_pred):
    y_pred = _f(y_pred)
    return (y_pred - _match_rank(_f(y_true), y_pred)) / y_pred.size


@mutant("losses.binary_crossentropy", expect="applied the sigmoid and then clipped")
def bce_logits_through_a_clipped_sigmoid(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    p = _clip(sigmoid(y_pred)) if from_logits else _clip(y_pred)
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


@mutant("losses.binary_crossentropy", expect="log\\(p \\+ machine eps 2.2e-16\\) is not Keras's guard")
def bce_log_plus_machine_eps(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    if from_logits:
        return float(np.mean(np.maximum(y_pred, 0) - y_pred * t + np.log1p(np.exp(-np.abs(y_pred)))))
    eps = np.finfo(float).eps
    return float(np.mean(-(t * np.log(y_pred + eps) + (1 - t) * np.log(1 - y_pred + eps))))


@mutant("losses.binary_crossentropy", expect="log\\(p \\+ 1e-7\\) is not Keras's guard")
def bce_log_plus_keras_epsilon(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    if from_logits:
        return float(np.mean(np.maximum(y_pred, 0) - y_pred * t + np.log1p(np.exp(-np.abs(y_pred)))))
    return float(np.mean(-(t * np.log(y_pred + 1e-7) + (1 - t) * np.log(1 - y_pred + 1e-7))))


@mutant("losses.categorical_crossentropy", expect="applied the softmax and then clipped")
def ce_logits_through_a_clipped_softmax(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    p = softmax(y_pred) if from_logits else y_pred / y_pred.sum(axis=-1, keepdims=True)
    return float(np.mean(-np.sum(y_true * np.log(_clip(p)), axis=-1)))


@mutant("losses.categorical_crossentropy", expect="log\\(p \\+ machine eps 2.2e-16\\)")
def ce_log_plus_machine_eps(y_true, y_pred, from_logits=False):
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        return float(np.mean(-np.sum(y_true * log_p, axis=-1)))
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return float(np.mean(-np.sum(y_true * np.log(p + np.finfo(float).eps), axis=-1)))


@mutant("losses.sparse_categorical_crossentropy", expect="applied the softmax and then clipped")
def sparse_ce_logits_through_a_clipped_softmax(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    one_hot = _one_hot(y_true, y_pred.shape[-1])
    p = _clip(softmax(y_pred) if from_logits else y_pred)  # the clip belongs to probabilities only
    return categorical_crossentropy(one_hot, np.log(p), from_logits=True)


@mutant("losses.sparse_categorical_crossentropy", expect="went through the categorical loss")
def sparse_ce_through_the_categorical_loss(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    return categorical_crossentropy(_one_hot(y_true, y_pred.shape[-1]), y_pred, from_logits=from_logits)


@mutant("losses.sparse_categorical_crossentropy_grad", expect="reused the categorical gradient")
def sparse_ce_grad_through_the_categorical_gradient(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    return categorical_crossentropy_grad(_one_hot(y_true, y_pred.shape[-1]), y_pred, from_logits=from_logits)


@mutant("losses.binary_crossentropy", expect="returned integers")
def bce_as_an_integer(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    t = _match_rank(_f(y_true), y_pred)
    if from_logits:
        per_element = np.maximum(y_pred, 0) - y_pred * t + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        p = _clip(y_pred)
        per_element = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return int(np.mean(per_element))  # int() cuts the fraction off


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("losses.binary_crossentropy_grad", expect=r"clip passes no gradient outside its range")
def bce_grad_through_the_clip(y_true, y_pred, from_logits=False):
    # MISTAKE: the gradient passes where p was clipped (TF's clip stops it there).
    y_pred = _f(y_pred)
    y_true = _match_rank(_f(y_true), y_pred)
    if from_logits:
        return (sigmoid(y_pred) - y_true) / y_pred.size
    p = _clip(y_pred)
    return (p - y_true) / (p * (1.0 - p)) / y_pred.size


@mutant("losses.binary_crossentropy", expect=r"returned nan where Keras gives .*max\(z, 0\) - z\*t \+ log1p")
def bce_logits_through_log_sigmoid(y_true, y_pred, from_logits=False):
    # MISTAKE: from_logits as log(sigmoid(z)) and log(1 - sigmoid(z)): -inf for extreme logits.
    y_pred = _f(y_pred)
    y_true = _match_rank(_f(y_true), y_pred)
    p = sigmoid(y_pred) if from_logits else _clip(y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_element = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))
    return float(np.mean(per_element))


@mutant("losses.sparse_categorical_crossentropy", expect=r"labels of shape \(batch, 1\)")
def sparse_cce_labels_column_not_squeezed(y_true, y_pred, from_logits=False):
    # MISTAKE: labels of shape (batch, 1) give one-hot rows of shape (batch, 1, classes), broadcast.
    y_pred = _f(y_pred)
    one_hot = np.eye(y_pred.shape[-1])[np.asarray(y_true).astype(int)]
    logits = y_pred if from_logits else np.log(_clip(y_pred))
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(np.mean(-np.sum(one_hot * log_p, axis=-1)))


@mutant("losses.categorical_crossentropy", expect=r"clipped before renormalising")
def cce_clip_before_renormalising(y_true, y_pred, from_logits=False):
    # MISTAKE: clips first, then renormalises (Keras renormalises, then clips).
    y_true, y_pred = _f(y_true), _f(y_pred)
    if from_logits:
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    else:
        p = _clip(y_pred)
        log_p = np.log(p / p.sum(axis=-1, keepdims=True))
    return float(np.mean(-np.sum(y_true * log_p, axis=-1)))


@alternative("losses.sparse_categorical_crossentropy")
def sparse_cce_with_take_along_axis(y_true, y_pred, from_logits=False):
    y_pred = _f(y_pred)
    labels = np.asarray(y_true).astype(int).reshape(y_pred.shape[:-1])
    if from_logits:
        log_norm = np.log(np.exp(y_pred - y_pred.max(-1, keepdims=True)).sum(-1)) + y_pred.max(-1)
        picked = np.take_along_axis(y_pred, labels[..., None], axis=-1)[..., 0]
        return float(np.mean(log_norm - picked))
    p = np.clip(y_pred, 1e-7, 1 - 1e-7)
    picked = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
    return float(np.mean(np.log(p.sum(-1)) - np.log(picked)))


# third blind batch


@mutant("losses.binary_crossentropy_grad", expect=r"line the labels up with the logits first")
def bce_grad_from_logits_without_lining_up_the_labels(y_true, y_pred, from_logits=False):
    # MISTAKE: from logits, labels (batch,) against logits (batch, 1) broadcast to (batch, batch).
    y_pred = _f(y_pred)
    if from_logits:
        return (sigmoid(y_pred) - _f(y_true)) / y_pred.size
    y_true = _match_rank(_f(y_true), y_pred)
    p = _clip(y_pred)
    return np.where(_inside_clip(y_pred), (p - y_true) / (p * (1.0 - p)), 0.0) / y_pred.size
