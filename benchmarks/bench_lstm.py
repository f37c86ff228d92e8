"""LSTM (`rnn`) against Keras's LSTM: batch 64, 50 steps, 128 features, 64 units.

Keras's layer runs inside ``tf.function`` (compiled once, during the warm-up),
as ``model.fit`` would run it. The backward rows compute the forward pass too:
``lstm_backward`` takes no cache (it recomputes the states it needs), and
TensorFlow's tape must record the forward pass before it can go back.
"""

import pytest

from dojo.bench import KERNELS, Operation, race_cases, sizes

BATCH, STEPS, FEATURES, UNITS = sizes.pick(laptop=16, full=64), 50, 128, 64
SIZE = f"x ({BATCH}, {STEPS}, {FEATURES}) float64, {UNITS} units, last state only"


def _weights(rng):
    scale = 1.0 / FEATURES**0.5
    return (
        rng.normal(scale=scale, size=(FEATURES, 4 * UNITS)),
        rng.normal(scale=scale, size=(UNITS, 4 * UNITS)),
        rng.normal(scale=0.1, size=4 * UNITS),
    )


def _forward_inputs(rng):
    return (rng.normal(size=(BATCH, STEPS, FEATURES)), *_weights(rng))


def _keras_lstm(tf, kernel, recurrent_kernel, bias):
    from reference._engine import keras

    layer = keras().layers.LSTM(UNITS, dtype="float64")
    layer.build((None, STEPS, FEATURES))
    layer.set_weights([kernel.numpy(), recurrent_kernel.numpy(), bias.numpy()])
    return layer


def _tf_forward(tf, x, kernel, recurrent_kernel, bias):
    layer = _keras_lstm(tf, kernel, recurrent_kernel, bias)
    return tf.function(lambda: layer(x))


def _kernels_forward(lstm_cell, inputs):
    # kernels has a fused cell, not a whole layer: loop it over the time steps, as lstm_forward does.
    x, kernel, recurrent_kernel, bias = inputs

    def run():
        import kernels

        xp = __import__("cupy") if kernels.backend() == "cupy" else __import__("numpy")
        h = xp.zeros((x.shape[0], UNITS))
        c = xp.zeros((x.shape[0], UNITS))
        for t in range(x.shape[1]):
            h, c = lstm_cell(x[:, t], h, c, kernel, recurrent_kernel, bias)
        return h

    return run


def _flops(steps=STEPS):
    return steps * (2 * BATCH * (FEATURES + UNITS) * 4 * UNITS + 10 * BATCH * 4 * UNITS)


LSTM_FORWARD = Operation(
    name="lstm_forward",
    size=SIZE,
    inputs=_forward_inputs,
    kata=("rnn", "lstm_forward"),
    kernel="lstm_cell",
    build={KERNELS: _kernels_forward},
    tensorflow=_tf_forward,
    cost=lambda x, k, r, b: (x.nbytes + STEPS * (k.nbytes + r.nbytes), _flops()),
)


def _backward_inputs(rng):
    x, kernel, recurrent_kernel, bias = _forward_inputs(rng)
    return rng.normal(size=(BATCH, UNITS)), x, kernel, recurrent_kernel, bias


def _tf_backward(tf, dout, x, kernel, recurrent_kernel, bias):
    layer = _keras_lstm(tf, kernel, recurrent_kernel, bias)
    x = tf.Variable(x)

    @tf.function
    def backward():
        with tf.GradientTape() as tape:
            out = layer(x)
        return tape.gradient(out, [x, *layer.trainable_variables], output_gradients=dout)

    return backward


LSTM_BACKWARD = Operation(
    name="lstm_backward",
    size=SIZE + "; dout (64, 64) -> dx, dkernel, drecurrent_kernel, dbias",
    inputs=_backward_inputs,
    kata=("rnn", "lstm_backward"),
    tensorflow=_tf_backward,
    cost=lambda dout, x, k, r, b: (3 * x.nbytes + 3 * STEPS * (k.nbytes + r.nbytes), 3 * _flops()),
)


def _cell_inputs(rng):
    kernel, recurrent_kernel, bias = _weights(rng)
    return (
        rng.normal(size=(BATCH, FEATURES)),
        rng.normal(size=(BATCH, UNITS)),
        rng.normal(size=(BATCH, UNITS)),
        kernel,
        recurrent_kernel,
        bias,
    )


def _tf_cell(tf, x_t, h, c, kernel, recurrent_kernel, bias):
    from reference._engine import keras

    cell = keras().layers.LSTMCell(UNITS, dtype="float64")
    cell.build((None, FEATURES))
    cell.set_weights([kernel.numpy(), recurrent_kernel.numpy(), bias.numpy()])
    return tf.function(lambda: cell(x_t, [h, c]))


LSTM_CELL = Operation(
    name="lstm_cell",
    size=f"one step: x_t ({BATCH}, {FEATURES}), h and c ({BATCH}, {UNITS}), float64",
    inputs=_cell_inputs,
    kata=("rnn", "lstm_cell_forward"),
    kernel="lstm_cell",
    tensorflow=_tf_cell,
    cost=lambda x, h, c, k, r, b: (x.nbytes + 2 * h.nbytes + k.nbytes + r.nbytes + 2 * h.nbytes, _flops(1)),
)


@pytest.mark.parametrize("operation, contender", race_cases(LSTM_CELL, LSTM_FORWARD, LSTM_BACKWARD))
def test_lstm(race, operation, contender):
    race(operation, contender)
