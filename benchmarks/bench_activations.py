"""Activations (`activations`) and the Dense layer (`neuron`), at the sizes a real batch has.

Elementwise activations move memory and do almost no arithmetic, so the
rate column is bandwidth (GB/s): read x, write y, 8 bytes each in float64.
"""

import pytest

from dojo.bench import Operation, race_cases

VALUES = (1000, 1000)  # 1,000,000 values: a batch of 1,000 hidden layers of 1,000 units


def _elementwise(name, flops_per_value):
    return Operation(
        name=name,
        size=f"x {VALUES} float64: 1,000,000 values",
        inputs=lambda rng: (rng.normal(scale=3.0, size=VALUES),),
        kata=("activations", name),
        kernel=name,
        tensorflow=lambda tf, x: (lambda: getattr(tf.math, name)(x)) if name != "relu" else (lambda: tf.nn.relu(x)),
        cost=lambda x: (2 * x.nbytes, flops_per_value * x.size),
    )


RELU = _elementwise("relu", 1)
SIGMOID = _elementwise("sigmoid", 4)
TANH = _elementwise("tanh", 4)

SOFTMAX = Operation(
    name="softmax",
    size="logits (4096, 1000) float64: 4,096 rows of 1,000 classes, axis=-1",
    inputs=lambda rng: (rng.normal(scale=5.0, size=(4096, 1000)),),
    kata=("activations", "softmax"),
    kernel="softmax",
    tensorflow=lambda tf, x: lambda: tf.nn.softmax(x, axis=-1),
    cost=lambda x: (2 * x.nbytes, 5 * x.size),
)

DENSE = Operation(
    name="dense_forward",
    size="x (256, 784) @ kernel (784, 128) + bias, float64",
    inputs=lambda rng: (rng.normal(size=(256, 784)), rng.normal(size=(784, 128)), rng.normal(size=128)),
    kata=("neuron", "dense_forward"),
    kernel="dense_forward",
    # A Dense layer's call is one matmul and a bias add; tf.function as Keras compiles it.
    tensorflow=lambda tf, x, kernel, bias: tf.function(lambda: tf.nn.bias_add(tf.matmul(x, kernel), bias)),
    cost=lambda x, k, b: (
        x.nbytes + k.nbytes + b.nbytes + 8 * x.shape[0] * k.shape[1],
        2 * x.shape[0] * x.shape[1] * k.shape[1],
    ),
)


@pytest.mark.parametrize("operation, contender", race_cases(RELU, SIGMOID, TANH, SOFTMAX, DENSE))
def test_activations_and_dense(race, operation, contender):
    race(operation, contender)
