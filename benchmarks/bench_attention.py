"""Attention (`attention`): your attention and MultiHeadAttention against Keras's, float64.

``scaled_dot_product_attention`` races at batch 32, 128 queries and 128 keys
of 64 features (what one head of a small Transformer sees); TensorFlow runs
``keras.ops.dot_product_attention`` on the same numbers (one head).
``MultiHeadAttention`` races a self-attention layer of 8 heads of 32 on
(32, 128, 256) inputs, forward, and forward plus backward (every weight's
gradient and dx): your layer, the answer key's, and
``keras.layers.MultiHeadAttention`` holding the same weights, compiled with
``tf.function`` (the backward through ``tf.GradientTape``).
"""

import numpy as np
import pytest

from dojo.bench import ANSWER_KEY, LEARNER, Operation, race_cases, sizes

BATCH, STEPS, FEATURES = sizes.pick(laptop=8, full=32), 128, 64
HEADS, KEY_DIM, MODEL_DIM = 8, 32, 256


def _qkv(rng):
    return tuple(rng.normal(size=(BATCH, STEPS, FEATURES)) for _ in range(3))


def _tf_attention(tf, query, key, value):
    from reference._engine import keras

    ops = keras().ops
    scale = tf.constant(1.0 / FEATURES**0.5, dtype=tf.float64)
    q, k, v = (t[:, :, None, :] for t in (query, key, value))  # (batch, steps, 1 head, features)
    return tf.function(lambda: ops.dot_product_attention(q, k, v, scale=scale))


def _attention_cost(q, k, v):
    scores = q.shape[0] * q.shape[1] * k.shape[1]
    return 4 * q.nbytes + 2 * 8 * scores, 4 * scores * q.shape[2]


ATTENTION = Operation(
    name="scaled_dot_product_attention",
    size=f"query, key, value ({BATCH}, {STEPS}, {FEATURES}) float64 -> output and weights ({BATCH}, {STEPS}, {STEPS})",
    inputs=_qkv,
    kata=("attention", "scaled_dot_product_attention"),
    tensorflow=_tf_attention,
    cost=_attention_cost,
)


def _layer_inputs(rng):
    x = rng.normal(size=(BATCH, STEPS, MODEL_DIM))
    limit = np.sqrt(6.0 / (MODEL_DIM + HEADS * KEY_DIM))
    weights = []
    for _ in range(3):
        weights += [rng.uniform(-limit, limit, size=(MODEL_DIM, HEADS, KEY_DIM)), np.zeros((HEADS, KEY_DIM))]
    weights += [rng.uniform(-limit, limit, size=(HEADS, KEY_DIM, MODEL_DIM)), np.zeros(MODEL_DIM)]
    return x, weights, rng.normal(size=x.shape)


def _ours(backward):
    def build(layer_class, inputs):
        x, weights, dout = inputs
        layer = layer_class(HEADS, KEY_DIM)
        layer.build(x.shape[1:], np.random.default_rng(0))
        layer.set_weights(weights)
        if not backward:
            return lambda: layer.forward(x)

        def step():
            layer.forward(x)
            return layer.backward(dout)

        return step

    return build


def _keras(backward):
    def build(tf, x, weights, dout):
        from reference._engine import keras

        layer = keras().layers.MultiHeadAttention(num_heads=HEADS, key_dim=KEY_DIM, dtype="float64")
        layer.build((None, STEPS, MODEL_DIM), (None, STEPS, MODEL_DIM))
        layer.set_weights([np.asarray(w) for w in weights])  # a list: it arrives as NumPy
        if not backward:
            return tf.function(lambda: layer(x, x))
        xv = tf.Variable(x)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                out = layer(xv, xv)
            return tape.gradient(out, [xv, *layer.trainable_variables], output_gradients=dout)

        return step

    return build


def _layer_cost(x, weights, dout, passes=1):
    projections = 4 * 2 * x.shape[0] * x.shape[1] * MODEL_DIM * HEADS * KEY_DIM
    attention = 4 * x.shape[0] * HEADS * x.shape[1] ** 2 * KEY_DIM
    return passes * (2 * x.nbytes + sum(w.nbytes for w in weights)), passes * (projections + attention)


MHA_FORWARD = Operation(
    name="MultiHeadAttention",
    size=f"self-attention, {HEADS} heads of {KEY_DIM}, x ({BATCH}, {STEPS}, {MODEL_DIM}) float64",
    note="TensorFlow: keras.layers.MultiHeadAttention with the same weights, in tf.function",
    inputs=_layer_inputs,
    kata=("attention", "MultiHeadAttention"),
    build={LEARNER: _ours(False), ANSWER_KEY: _ours(False)},
    tensorflow=_keras(False),
    cost=_layer_cost,
    rounds=5,
)

MHA_BACKWARD = Operation(
    name="MultiHeadAttention backward",
    size=f"forward + backward (dx and the 8 weights' gradients), x ({BATCH}, {STEPS}, {MODEL_DIM})",
    note="TensorFlow: tf.GradientTape through keras.layers.MultiHeadAttention, in tf.function",
    inputs=_layer_inputs,
    kata=("attention", "MultiHeadAttention"),
    build={LEARNER: _ours(True), ANSWER_KEY: _ours(True)},
    tensorflow=_keras(True),
    cost=lambda x, w, d: _layer_cost(x, w, d, passes=3),
    rounds=3,
)


@pytest.mark.parametrize("operation, contender", race_cases(ATTENTION, MHA_FORWARD, MHA_BACKWARD))
def test_attention(race, operation, contender):
    race(operation, contender)
