"""Batch normalisation (`regularization`) at the size of the seed CNN's first feature maps.

x (64, 26, 26, 32) float64, NHWC: 1,384,448 values, statistics per channel over
43,264 values each. The work is a few passes over memory (mean, variance,
normalise), so the rate column is bandwidth. TensorFlow runs what
``keras.layers.BatchNormalization`` calls in training: ``tf.nn.moments`` and
``tf.nn.batch_normalization``, compiled with ``tf.function``; its backward is
GradientTape through the same.
"""

import pytest

from dojo.bench import Operation, race_cases, sizes

SHAPE = (sizes.pick(laptop=16, full=64), 26, 26, 32)
AXES = [0, 1, 2]


def _forward_inputs(rng):
    channels = SHAPE[-1]
    return (
        rng.normal(loc=1.0, scale=2.0, size=SHAPE),
        1 + 0.1 * rng.normal(size=channels),
        0.1 * rng.normal(size=channels),
        0.1 * rng.normal(size=channels),
        rng.uniform(0.5, 1.5, size=channels),
    )


def _tf_forward(tf, x, gamma, beta, moving_mean, moving_variance):
    @tf.function
    def forward():
        mean, variance = tf.nn.moments(x, axes=AXES)
        y = tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-3)
        return y, moving_mean * 0.99 + mean * 0.01, moving_variance * 0.99 + variance * 0.01

    return forward


BATCH_NORM = Operation(
    name="batch_norm_forward",
    size=f"x {SHAPE} float64, NHWC, training=True (batch statistics, moving update)",
    inputs=_forward_inputs,
    kata=("regularization", "batch_norm_forward"),
    tensorflow=_tf_forward,
    cost=lambda x, *_: (3 * x.nbytes, 8 * x.size),
)


def _backward_inputs(rng):
    x, gamma, *_ = _forward_inputs(rng)
    return rng.normal(size=SHAPE), x, gamma


def _tf_backward(tf, dout, x, gamma):
    beta = tf.zeros_like(gamma)

    @tf.function
    def backward():
        with tf.GradientTape() as tape:
            tape.watch([x, gamma])
            mean, variance = tf.nn.moments(x, axes=AXES)
            y = tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-3)
        return tape.gradient(y, [x, gamma, beta], output_gradients=dout)

    return backward


BATCH_NORM_BACKWARD = Operation(
    name="batch_norm_backward",
    size=f"dout {SHAPE} -> dx, dgamma, dbeta; x as batch_norm_forward",
    inputs=_backward_inputs,
    kata=("regularization", "batch_norm_backward"),
    tensorflow=_tf_backward,
    cost=lambda dout, x, gamma: (3 * dout.nbytes + 2 * x.nbytes, 12 * x.size),
)


@pytest.mark.parametrize("operation, contender", race_cases(BATCH_NORM, BATCH_NORM_BACKWARD))
def test_batch_norm(race, operation, contender):
    race(operation, contender)
