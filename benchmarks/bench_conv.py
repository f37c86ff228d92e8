"""Convolution and pooling (`conv`) at the seed CNN's first layer, batch 64.

``conv2d``: x (64, 28, 28, 32), kernel 3x3 from 32 to 64 channels, valid
padding: 64*26*26*64 outputs of 288 multiply-adds each, 1.6 GFLOP per call.

``conv2d_naive`` loops in Python and is slow, so its own table runs every
contender at batch 4 and times 3 rounds: there, the answer key's vectorised
``conv2d`` and TensorFlow race the naive loops on the same small input.
"""

import pytest

from dojo.bench import ANSWER_KEY, Contender, Operation, race_cases, sizes

# The seed CNN's first layer; a laptop's race runs a quarter of the batch (--full: 64).
BATCH, SIDE, IN_CH, OUT_CH = sizes.pick(laptop=16, full=64), 28, 32, 64
NAIVE_BATCH = sizes.pick(laptop=1, full=4)


def _conv_inputs(batch):
    def inputs(rng):
        return (
            rng.normal(size=(batch, SIDE, SIDE, IN_CH)),
            rng.normal(size=(3, 3, IN_CH, OUT_CH)) / 17.0,
            rng.normal(size=OUT_CH),
        )

    return inputs


def _tf_conv(tf, x, kernel, bias):
    # What keras.layers.Conv2D computes: a correlation, then the bias.
    return tf.function(lambda: tf.nn.bias_add(tf.nn.conv2d(x, kernel, strides=1, padding="VALID"), bias))


def _conv_cost(x, kernel, bias):
    batch, height, width, _ = x.shape
    kh, kw, cin, cout = kernel.shape
    outputs = batch * (height - kh + 1) * (width - kw + 1) * cout
    return x.nbytes + kernel.nbytes + 8 * outputs, 2 * outputs * kh * kw * cin


CONV2D = Operation(
    name="conv2d",
    size=f"x ({BATCH}, {SIDE}, {SIDE}, {IN_CH}), kernel (3, 3, {IN_CH}, {OUT_CH}), valid, float64",
    inputs=_conv_inputs(BATCH),
    kata=("conv", "conv2d"),
    kernel="conv2d",
    tensorflow=_tf_conv,
    cost=_conv_cost,
)

CONV2D_NAIVE = Operation(
    name="conv2d_naive",
    size=f"x ({NAIVE_BATCH}, {SIDE}, {SIDE}, {IN_CH}), kernel (3, 3, {IN_CH}, {OUT_CH}), valid",
    note=f"naive loops are slow: every row here runs at batch {NAIVE_BATCH} (not {BATCH}), 3 rounds",
    inputs=_conv_inputs(NAIVE_BATCH),
    kata=("conv", "conv2d_naive"),
    extra=(Contender(ANSWER_KEY, "conv2d"),),
    tensorflow=_tf_conv,
    cost=_conv_cost,
    rounds=3,
)


def _backward_inputs(rng):
    x, kernel, _ = _conv_inputs(BATCH)(rng)
    dout = rng.normal(size=(BATCH, SIDE - 2, SIDE - 2, OUT_CH))
    return dout, x, kernel, (1, 1), "valid"


def _tf_conv_backward(tf, dout, x, kernel, strides, padding):
    # TensorFlow's own backward kernels, as GradientTape calls them for Conv2D.
    @tf.function
    def backward():
        dx = tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.shape(x), filter=kernel, out_backprop=dout, strides=[1, 1, 1, 1], padding="VALID"
        )
        dkernel = tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=tf.shape(kernel), out_backprop=dout, strides=[1, 1, 1, 1], padding="VALID"
        )
        return dx, dkernel, tf.reduce_sum(dout, axis=[0, 1, 2])

    return backward


CONV2D_BACKWARD = Operation(
    name="conv2d_backward",
    size=f"dout ({BATCH}, 26, 26, {OUT_CH}) -> dx, dkernel, dbias; x and kernel as conv2d",
    inputs=_backward_inputs,
    kata=("conv", "conv2d_backward"),
    tensorflow=_tf_conv_backward,
    cost=lambda dout, x, kernel, s, p: (
        dout.nbytes + 2 * x.nbytes + 2 * kernel.nbytes,
        2 * _conv_cost(x, kernel, None)[1],
    ),
)

POOL_INPUT = (BATCH, 26, 26, 32)  # the seed CNN: after its first Conv2D


def _tf_pool(tf, x):
    return tf.function(lambda: tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID"))


MAX_POOL = Operation(
    name="max_pool2d",
    size=f"x {POOL_INPUT} float64, pool 2x2, strides 2, valid",
    inputs=lambda rng: (rng.normal(size=POOL_INPUT),),
    kata=("conv", "max_pool2d"),
    kernel="max_pool2d",
    tensorflow=_tf_pool,
    cost=lambda x: (1.25 * x.nbytes, 0.75 * x.size),
)


def _pool_backward_inputs(rng):
    x = rng.normal(size=POOL_INPUT)
    dout = rng.normal(size=(BATCH, 13, 13, 32))
    return dout, x, (2, 2), (2, 2), "valid"


def _tf_pool_backward(tf, dout, x, pool_size, strides, padding):
    # MaxPoolGrad is what GradientTape calls for max_pool2d; it takes the forward output, made here untimed.
    pooled = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
    return tf.function(
        lambda: tf.raw_ops.MaxPoolGrad(
            orig_input=x, orig_output=pooled, grad=dout, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID"
        )
    )


MAX_POOL_BACKWARD = Operation(
    name="max_pool2d_backward",
    size=f"dout (64, 13, 13, 32), x {POOL_INPUT}, pool 2x2",
    note="TensorFlow gets the forward output for free; the katas recompute where the maxima are",
    inputs=_pool_backward_inputs,
    kata=("conv", "max_pool2d_backward"),
    kernel="max_pool2d_backward",
    tensorflow=_tf_pool_backward,
    cost=lambda dout, x, *_: (2 * x.nbytes + dout.nbytes, x.size),
)

IM2COL = Operation(
    name="im2col",
    size=f"x ({BATCH}, {SIDE}, {SIDE}, {IN_CH}), 3x3 patches, strides 1, valid -> 43,264 x 288",
    inputs=lambda rng: (rng.normal(size=(BATCH, SIDE, SIDE, IN_CH)), (3, 3), (1, 1), "valid"),
    kata=("conv", "im2col"),
    kernel="im2col",
    tensorflow=lambda tf, x, *_: tf.function(
        lambda: tf.image.extract_patches(
            x, sizes=[1, 3, 3, 1], strides=[1, 1, 1, 1], rates=[1, 1, 1, 1], padding="VALID"
        )
    ),
    cost=lambda x, *_: (x.nbytes + 9 * 8 * BATCH * 26 * 26 * IN_CH, 0),
)


@pytest.mark.parametrize(
    "operation, contender", race_cases(CONV2D, CONV2D_NAIVE, IM2COL, CONV2D_BACKWARD, MAX_POOL, MAX_POOL_BACKWARD)
)
def test_conv_and_pool(race, operation, contender):
    race(operation, contender)
