"""The speed track: your vectorised code against Python loops, the answer key and TensorFlow.

``pairwise_squared_distances`` races at 2,000 x 2,000 points of 64 features;
the solved loop version (one Python step per pair) would take seconds there,
so its table runs everyone at 200 x 200. ``attention`` races at batch 32,
128 positions, 4 heads of 32. The GPU kernels race in benchmarks/bench_gpu.py.
"""

import pytest

from dojo.bench import ANSWER_KEY, Contender, Operation, race_cases, sizes


def _points(n, d=64):
    return lambda rng: (rng.normal(size=(n, d)), rng.normal(size=(n, d)))


def _tf_distances(tf, a, b):
    # What a TensorFlow user writes for this: the same expanded form, compiled.
    def distances():
        squared = (
            tf.reduce_sum(a * a, axis=1)[:, None]
            - 2.0 * tf.matmul(a, b, transpose_b=True)
            + tf.reduce_sum(b * b, axis=1)[None, :]
        )
        return tf.maximum(squared, 0.0)

    return tf.function(distances)


def _distance_cost(a, b):
    return a.nbytes + b.nbytes + 8 * len(a) * len(b), 2 * len(a) * len(b) * a.shape[1]


POINTS = sizes.pick(laptop=1000, full=2000)

DISTANCES = Operation(
    name="pairwise_squared_distances",
    size=f"a ({POINTS}, 64), b ({POINTS}, 64) -> ({POINTS}, {POINTS}), float64",
    inputs=_points(POINTS),
    kata=("speed", "pairwise_squared_distances"),
    tensorflow=_tf_distances,
    cost=_distance_cost,
)

DISTANCES_VS_LOOPS = Operation(
    name="pairwise_squared_distances (vs loops)",
    size="a (200, 64), b (200, 64) -> (200, 200), float64",
    note="the loop version makes 40,000 Python steps here; every row runs at this small size, 3 rounds",
    inputs=_points(200),
    kata=("speed", "pairwise_squared_distances"),
    extra=(Contender(ANSWER_KEY, "pairwise_squared_distances_loops"),),
    tensorflow=_tf_distances,
    cost=_distance_cost,
    rounds=3,
)

ATTENTION_SHAPE = (sizes.pick(laptop=8, full=32), 128, 4, 32)  # batch, positions, heads, head size


def _tf_attention(tf, query, key, value):
    from reference._engine import keras

    scale = tf.constant(1.0 / ATTENTION_SHAPE[-1] ** 0.5, dtype=tf.float64)
    ops = keras().ops
    return tf.function(lambda: ops.dot_product_attention(query, key, value, scale=scale))


ATTENTION = Operation(
    name="attention",
    size=f"query, key, value {ATTENTION_SHAPE} (batch, positions, heads, head size), float64",
    inputs=lambda rng: tuple(rng.normal(size=ATTENTION_SHAPE) for _ in range(3)),
    kata=("speed", "attention"),
    tensorflow=_tf_attention,
    cost=lambda q, k, v: (
        4 * q.nbytes + 8 * q.shape[0] * q.shape[2] * q.shape[1] ** 2,
        4 * q.shape[0] * q.shape[2] * q.shape[1] ** 2 * q.shape[3],
    ),
)


@pytest.mark.parametrize("operation, contender", race_cases(DISTANCES, DISTANCES_VS_LOOPS, ATTENTION))
def test_speed(race, operation, contender):
    race(operation, contender)
