"""Wrong and right ways to write katas/speed.py."""

import numpy as np
from mutation import alternative, mutant

# ---------------------------------------------------------------- speed.pairwise_squared_distances


@mutant("speed.pairwise_squared_distances", expect="loop over the rows")
def distances_with_a_loop_over_rows(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.array([((row - b) ** 2).sum(axis=1) for row in a]).reshape(len(a), len(b))


@mutant("speed.pairwise_squared_distances", expect="below zero")
def distances_without_the_clip(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return (a * a).sum(axis=1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(axis=1)[None, :]


@mutant("speed.pairwise_squared_distances", expect="square root")
def distances_not_squared(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    squared = (a * a).sum(axis=1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(axis=1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


@mutant("speed.pairwise_squared_distances", expect="factor 2")
def distances_without_the_factor_two(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.maximum((a * a).sum(axis=1)[:, None] - a @ b.T + (b * b).sum(axis=1)[None, :], 0.0)


@mutant("speed.pairwise_squared_distances", expect="calls map \\(line \\d+\\): that is a Python-level loop")
def distances_with_map_over_rows(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    # map runs np.subtract per row from C: no Python line of this file runs per row
    rows = list(map(np.subtract, a, np.broadcast_to(np.zeros(a.shape[1]), a.shape)))
    a = np.array(rows)
    return np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


@mutant("speed.pairwise_squared_distances", expect="calls np.vectorize")
def distances_with_vectorize(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    square = np.vectorize(float.__mul__)  # one call per element
    return np.maximum(square(a, a).sum(1)[:, None] - 2 * a @ b.T + square(b, b).sum(1)[None, :], 0.0)


@mutant("speed.pairwise_squared_distances", expect="loop over the rows .*once per item from C")
def distances_with_map_over_a_local_array(a, b):
    points, others = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    # map hands each row to np.dot from C: no line of this file runs per row
    norms = np.array(list(map(np.dot, points, points)))
    return np.maximum(norms[:, None] - 2.0 * points @ others.T + (others * others).sum(1)[None, :], 0.0)


@mutant("speed.pairwise_squared_distances", expect="loop over the rows .*once per item from C")
def distances_with_an_aliased_apply_along_axis(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    per_row = np.apply_along_axis  # under another name: no source check can see it
    norms = per_row(np.linalg.norm, 1, a) ** 2
    return np.maximum(norms[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


@alternative("speed.pairwise_squared_distances")
def distances_mapping_over_the_two_inputs(a, b):
    a, b = map(np.asarray, (a, b))  # a map over two arrays, not over rows: allowed
    return np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


@alternative("speed.pairwise_squared_distances")
def distances_by_broadcasting_the_differences(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)


@alternative("speed.pairwise_squared_distances")
def distances_with_einsum(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    squared = np.einsum("id,id->i", a, a)[:, None] - 2.0 * np.einsum("id,jd->ij", a, b) + np.einsum("jd,jd->j", b, b)
    return np.clip(squared, 0.0, None)


# ---------------------------------------------------------------- speed.attention


@mutant("speed.attention", expect="not scaled")
def attention_without_the_scale(query, key, value):
    scores = np.einsum("btnh,bsnh->bnts", query, key)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", weights, value)


@mutant("speed.attention", expect="over the queries")
def attention_softmax_over_queries(query, key, value):
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(query.shape[-1])
    weights = np.exp(scores - scores.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", weights, value)


@mutant("speed.attention", expect="overflow|NaN|stable")
def attention_with_an_unshifted_softmax(query, key, value):
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(query.shape[-1])
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", weights, value)


@mutant("speed.attention", expect="shifted by one max for the whole array")
def attention_shifted_by_the_global_max(query, key, value):
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(query.shape[-1])
    weights = np.exp(scores - scores.max())
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", weights, value)


@mutant("speed.attention", expect="loop over the batch")
def attention_with_a_loop_over_the_batch(query, key, value):
    out = np.empty(np.shape(query))
    for b in range(len(query)):
        q, k, v = (np.asarray(t[b], dtype=float).transpose(1, 0, 2) for t in (query, key, value))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        out[b] = (weights @ v).transpose(1, 0, 2)
    return out


@mutant("speed.attention", expect="loop over the batch items .*once per item from C")
def attention_with_map_over_the_batch(query, key, value):
    q, k, v = (np.asarray(t, dtype=float).transpose(0, 2, 1, 3) for t in (query, key, value))
    # one matmul per batch item, called by map from C
    scores = np.stack(list(map(np.matmul, q, k.transpose(0, 1, 3, 2)))) / np.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return (weights @ v).transpose(0, 2, 1, 3)


@alternative("speed.attention")
def attention_with_einsum(query, key, value):
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(np.shape(query)[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", weights, value, optimize=True)


@alternative("speed.attention")
def attention_with_a_loop_over_heads_only(query, key, value):
    # A loop over a fixed, small axis (heads) does not grow with the batch: allowed.
    query, key, value = (np.asarray(t, dtype=float) for t in (query, key, value))
    out = np.empty(query.shape)
    for n in range(query.shape[2]):
        scores = query[:, :, n] @ key[:, :, n].transpose(0, 2, 1) / np.sqrt(query.shape[-1])
        scores -= scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
        out[:, :, n] = weights @ value[:, :, n]
    return out


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("speed.pairwise_squared_distances", expect=r"float32's precision")
def distances_in_float32(a, b):
    # MISTAKE: float32 for speed; the cancellation in |a|^2 - 2ab + |b|^2 then loses most digits.
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    squared = (a * a).sum(axis=1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(axis=1)[None, :]
    return np.maximum(squared, 0.0).astype(float)


@mutant("speed.attention", expect=r"float32's precision")
def attention_in_float32(query, key, value):
    # MISTAKE: float32 for speed, cast back to float64 at the end.
    q, k, v = (np.asarray(t, dtype=np.float32).transpose(0, 2, 1, 3) for t in (query, key, value))
    scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(q.shape[-1]))
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return (weights @ v).transpose(0, 2, 1, 3).astype(float)


@mutant("speed.attention", expect=r"divided by sqrt\(S\) = sqrt\(\d+\), the number of keys")
def attention_scaled_by_the_sequence_length(query, key, value):
    # MISTAKE: divides by sqrt(T) (the number of keys) instead of sqrt(H) (the head size).
    q, k, v = (np.asarray(t, dtype=float).transpose(0, 2, 1, 3) for t in (query, key, value))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(k.shape[2])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return (weights @ v).transpose(0, 2, 1, 3)


@alternative("speed.attention")
def attention_with_matmul_and_scipy_softmax(query, key, value):
    from scipy.special import softmax as scipy_softmax

    q, k, v = (np.moveaxis(np.asarray(t, dtype=float), 2, 1) for t in (query, key, value))
    weights = scipy_softmax(np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1]), axis=-1)
    return np.moveaxis(np.matmul(weights, v), 1, 2)
