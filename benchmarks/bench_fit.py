"""Training (`model`): your ``Sequential.fit`` against ``keras.Model.fit``, same model, data and epochs.

The seed's MLP: 784 -> Dense 128 relu -> Dense 64 relu -> Dense 10 softmax,
Adam, sparse categorical cross-entropy, batch 32, on the first 480 training
digits (28x28, shipped with scikit-learn; all 1,438 with ``--full``): one epoch
(15 steps; 45 steps) per round,
float64 everywhere, no shuffling, no validation, silent. Both models start
from the same weights; each round continues training, which costs the same.
"""

import numpy as np
import pytest

from dojo.bench import ANSWER_KEY, LEARNER, Operation, race_cases, sizes

LAYERS = ((128, "relu"), (64, "relu"), (10, "softmax"))
BATCH_SIZE = 32
#: A laptop's race trains on the first 480 digits (15 steps); --full on all 1,438 (45 steps).
SAMPLES = sizes.pick(laptop=480, full=None)


def _inputs(rng):
    from dojo.testkit.datasets import load_digits

    (x, y), _ = load_digits()
    x, y = x[:SAMPLES], y[:SAMPLES]
    x = x.reshape(len(x), -1)
    weights = []
    fan_in = x.shape[1]
    for units, _ in LAYERS:  # Glorot uniform, as Keras initialises Dense
        limit = np.sqrt(6.0 / (fan_in + units))
        weights += [rng.uniform(-limit, limit, size=(fan_in, units)), np.zeros(units)]
        fan_in = units
    return x, y, weights


def _ours(sequential, inputs):
    # `sequential` is the implementation's Sequential; its Dense lives in the same module.
    import sys

    x, y, weights = inputs
    dense = sys.modules[sequential.__module__].Dense
    model = sequential([dense(units, activation=activation) for units, activation in LAYERS])
    model.build((x.shape[1],))
    model.set_weights([w.copy() for w in weights])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # Keras's defaults: lr 0.001
    return lambda: model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0)


def _keras(tf, x, y, weights):
    from reference._engine import keras

    k = keras()
    model = k.Sequential(
        [k.Input((x.shape[1],), dtype="float64")]
        + [k.layers.Dense(units, activation=activation, dtype="float64") for units, activation in LAYERS]
    )
    model.set_weights(list(weights))
    model.compile(optimizer=k.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    x, y = x.numpy(), y.numpy()
    return lambda: model.fit(x, y, epochs=1, batch_size=BATCH_SIZE, shuffle=False, verbose=0)


def _flops(x, y, weights):
    sizes = [w.shape for w in weights[::2]]
    per_sample = sum(2 * a * b for a, b in sizes)
    return x.nbytes, 3 * per_sample * len(x)  # forward + backward (about twice the forward)


FIT = Operation(
    name="mlp_fit",
    size=f"784-128-64-10 MLP, Adam, sparse CE, batch 32, 1 epoch of {SAMPLES or 1438:,} digits",
    note="gate: the non-capstone katas of Sequential and Dense",
    inputs=_inputs,
    kata=("model", "Sequential"),
    gate=(("model", "Dense"),),
    build={LEARNER: _ours, ANSWER_KEY: _ours},
    tensorflow=_keras,
    cost=_flops,
    rounds=3,
)


@pytest.mark.parametrize("operation, contender", race_cases(FIT))
def test_fit(race, operation, contender):
    race(operation, contender)
