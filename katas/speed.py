"""Speed.

The same answers as before, without Python loops. A loop in Python costs
tens of nanoseconds per step *before* it does any arithmetic; NumPy runs the
loop in compiled code over whole arrays, and a matrix product calls BLAS,
which uses every core and the CPU's vector units. The GPU goes further:
thousands of threads, one per element: the next track, gpu, has you
write those kernels.

Each kata here is checked twice: the result against TensorFlow at a
realistic size, and the amount of Python it runs: if it grows with the batch,
there is a Python loop over the batch. How much faster you got shows in

    pytest --bench -k speed

which races your version against the loops below, the answer key and TensorFlow.
"""

import numpy as np


# A solved example, to show the shape of an answer, and the slow version
# that kata speed.pairwise_squared_distances replaces: one Python step per pair of rows.
def pairwise_squared_distances_loops(a, b):
    """Squared Euclidean distances between every row of ``a`` and every row of ``b``.

    Correct, and slow: for a (2000, 64) and b (2000, 64) it runs 4,000,000
    Python steps.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = np.empty((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            diff = a[i] - b[j]
            out[i, j] = diff @ diff
    return out


def pairwise_squared_distances(a, b):
    """All squared distances ``|a[i] - b[j]|**2`` at once, with no Python loop.

    Used by k-nearest neighbours, RBF kernels, k-means, and to compare
    embeddings. Expand the square:

        |a_i - b_j|^2 = |a_i|^2  -  2 a_i . b_j  +  |b_j|^2
                        (n, 1)      (n, m)          (1, m)    -> broadcast to (n, m)

    The middle term for every pair at once is one matrix product, ``a @ b.T``.

    Careful: the expanded form rounds. Where a point meets itself the exact
    answer is 0, and the three terms cancel to something like -3e-15. A
    squared distance is never negative: clip at 0.

    Args:
        a: shape ``(n, d)``, one point per row.
        b: shape ``(m, d)``.

    Returns:
        Shape ``(n, m)``: entry ``[i, j]`` is ``|a[i] - b[j]|**2``, float64, all >= 0.

    Example:
        >>> pairwise_squared_distances([[0.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
        array([[ 1.,  0., 25.],
               [ 1.,  2., 13.]])
    """
    # TODO: kata speed.pairwise_squared_distances
    raise NotImplementedError("kata speed.pairwise_squared_distances")


def attention(query, key, value):
    """Scaled dot-product attention, as ``keras.ops.dot_product_attention``: no loops.

    Every query position looks at every key position, scores how well they
    match (a dot product, scaled by ``1/sqrt(H)`` so the scores do not grow
    with the head size), turns the scores into weights with a softmax over
    the keys, and returns the weighted mean of the values:

        scores  = Q K^T / sqrt(H)            (B, N, T, S)
        weights = softmax(scores, axis=S)    each row sums to 1
        output  = weights V                  back to (B, T, N, H)

    Shapes, in Keras's words: B batch, T query length, S key/value length,
    N heads, H head size.

        query (B, T, N, H) ──┐
                             ├─ scores (B, N, T, S) ─ softmax over S ─┐
        key   (B, S, N, H) ──┘                                        ├─ output (B, T, N, H)
        value (B, S, N, H) ───────────────────────────────────────────┘

    Args:
        query: shape ``(B, T, N, H)``.
        key: shape ``(B, S, N, H)``.
        value: shape ``(B, S, N, H)``.

    Returns:
        Shape ``(B, T, N, H)``, float64.

    Example: with an all-zero query every score is 0, every key gets the same
    weight ``1/S``, and the output is the mean of the values over S.
    """
    # TODO: kata speed.attention
    raise NotImplementedError("kata speed.attention")
