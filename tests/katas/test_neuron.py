"""Kata tests for katas/neuron.py, checked against TensorFlow/Keras."""

import numpy as np
import pytest

from dojo.testkit.checks import assert_close, call, check, show
from dojo.testkit.special import expit
from reference import neuron as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

# The seed's worked example: 0.5*0.4 + 0.8*0.6 + 0.3*0.2 = 0.74; plus bias 0.1 = 0.84;
# sigmoid(0.84) is about 0.70.
SEED_INPUTS = [0.5, 0.8, 0.3]
SEED_WEIGHTS = [0.4, 0.6, 0.2]
SEED_BIAS = 0.1

# Activations handed to the learner's `neuron`, each with the name under which
# the reference engine applies the same function in TensorFlow.
ACTIVATIONS = {"sigmoid": expit, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}


# ------------------------------------------------------------------ kata neuron.weighted_sum


@pytest.mark.kata("neuron.weighted_sum")
def test_weighted_sum_seed_example(kata):
    got = call(kata, SEED_INPUTS, SEED_WEIGHTS)
    assert_close(
        got,
        0.74,
        call="weighted_sum([0.5, 0.8, 0.3], [0.4, 0.6, 0.2])",
        mistakes={
            "you added the bias here; the bias belongs to the neuron (next kata), not to the weighted sum": 0.84,
            "that is sum(inputs) * sum(weights); multiply pair by pair first, then add": 1.6 * 1.2,
            "you returned the products without adding them up": np.multiply(SEED_INPUTS, SEED_WEIGHTS),
        },
    )
    assert_close(got, ref.weighted_sum(SEED_INPUTS, SEED_WEIGHTS), call="weighted_sum(seed example)")


@pytest.mark.kata("neuron.weighted_sum")
@pytest.mark.parametrize("n, seed", [(1, 0), (7, 1), (100, 2)])
def test_weighted_sum_random_vectors(kata, n, seed):
    rng = np.random.default_rng(seed)
    inputs, weights = rng.normal(size=n), rng.normal(size=n)
    got = call(kata, inputs, weights)
    assert_close(
        got,
        ref.weighted_sum(inputs, weights),
        call=f"weighted_sum(<{n} random inputs>, <{n} weights>)",
        mistakes={"you returned the products without adding them up": inputs * weights},
    )


@pytest.mark.kata("neuron.weighted_sum")
def test_weighted_sum_edge_cases(kata):
    # The last pair cancels: 1100 - 1099.9999 = 1e-4 in float64; float32 holds 1.1 and 1.0999999 to 7
    # digits only, and its sum is 1.19e-4, 19% off.
    for inputs, weights in [
        ([0.0, 0.0], [3.0, -2.0]),
        ([1e8, -1e8], [1.0, 1.0]),
        ([2.0], [-4.0]),
        ([1.1, -1.0999999], [1000.0, 1000.0]),
    ]:
        got = call(kata, inputs, weights)
        in_float32 = float(np.dot(np.float32(inputs), np.float32(weights)))
        assert_close(
            got,
            ref.weighted_sum(inputs, weights),
            call=f"weighted_sum({inputs}, {weights})",
            mistakes={
                "that is the sum computed in float32 (7 significant digits), where two close numbers cancel: "
                "keep float64 (np.asarray(inputs, dtype=float))": in_float32
            },
        )


# ------------------------------------------------------------------ kata neuron.neuron


@pytest.mark.kata("neuron.neuron")
def test_neuron_seed_example(kata):
    got = call(kata, SEED_INPUTS, SEED_WEIGHTS, SEED_BIAS)
    assert_close(
        got,
        0.84,
        call="neuron([0.5, 0.8, 0.3], [0.4, 0.6, 0.2], bias=0.1)",
        mistakes={
            "the bias is missing: add it to the weighted sum": 0.74,
            "the bias was subtracted; add it": 0.64,
        },
    )
    assert_close(got, ref.neuron(SEED_INPUTS, SEED_WEIGHTS, SEED_BIAS), call="neuron(seed example)")


@pytest.mark.kata("neuron.neuron")
def test_neuron_seed_example_with_sigmoid(kata):
    got = call(kata, SEED_INPUTS, SEED_WEIGHTS, SEED_BIAS, activation=expit)
    text = "neuron([0.5, 0.8, 0.3], [0.4, 0.6, 0.2], 0.1, activation=sigmoid)"
    assert_close(
        got,
        ref.neuron(SEED_INPUTS, SEED_WEIGHTS, SEED_BIAS, "sigmoid"),
        call=text,
        mistakes={
            "the activation was not applied: return activation(z) when an activation is given": 0.84,
            "the activation was applied before adding the bias; it comes last": expit(0.74) + 0.1,
        },
    )
    # The seed's rounded value, as a sanity check of the reference itself.
    check(round(float(got), 2) == 0.70, f"{text} returned {show(got)}; the seed says about 0.70")


@pytest.mark.kata("neuron.neuron")
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_neuron_random_with_activation(kata, activation):
    rng = np.random.default_rng(3)
    inputs, weights, bias = rng.normal(size=5), rng.normal(size=5), float(rng.normal())
    got = call(kata, inputs, weights, bias, activation=ACTIVATIONS[activation])
    assert_close(
        got,
        ref.neuron(inputs, weights, bias, activation),
        call=f"neuron(<5 inputs>, <5 weights>, bias={bias:.3f}, activation={activation})",
    )


@pytest.mark.kata("neuron.neuron")
def test_neuron_negative_bias_and_zero_inputs(kata):
    got = call(kata, [0.0, 0.0, 0.0], [1.0, 2.0, 3.0], -1.5)
    assert_close(
        got, ref.neuron([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], -1.5), call="neuron([0, 0, 0], [1, 2, 3], bias=-1.5)"
    )


# ------------------------------------------------------------------ kata neuron.dense_forward


def _dense_mistakes(x, kernel, bias):
    """Wrong answers learners really produce, by name."""
    mistakes = {"the bias is missing: add it to every row": x @ kernel}
    if kernel.shape[0] == kernel.shape[1]:
        mistakes["the kernel is transposed: Keras stores it as (input_dim, units), so compute x @ kernel"] = (
            x @ kernel.T + bias
        )
    return mistakes


@pytest.mark.kata("neuron.dense_forward")
def test_dense_forward_docstring_example(kata):
    x = np.array([[1.0, 2.0]])
    kernel = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]])
    bias = np.array([0.0, 0.1, 0.2])
    got = call(kata, x, kernel, bias)
    assert_close(
        got,
        ref.dense_forward(x, kernel, bias),
        call="dense_forward(x=[[1, 2]], kernel (2, 3), bias (3,))",
        mistakes=_dense_mistakes(x, kernel, bias),
    )


@pytest.mark.kata("neuron.dense_forward")
@pytest.mark.parametrize("batch, inputs, units", [(1, 3, 4), (32, 10, 5), (4, 6, 6), (7, 784, 128)])
def test_dense_forward_random_shapes(kata, batch, inputs, units):
    rng = np.random.default_rng(batch * 1000 + units)
    x, kernel, bias = rng.normal(size=(batch, inputs)), rng.normal(size=(inputs, units)), rng.normal(size=units)
    got = call(kata, x, kernel, bias)
    assert_close(
        got,
        ref.dense_forward(x, kernel, bias),
        call=f"dense_forward(x {x.shape}, kernel {kernel.shape}, bias {bias.shape})",
        mistakes=_dense_mistakes(x, kernel, bias),
    )


@pytest.mark.kata("neuron.dense_forward")
def test_dense_forward_large_values(kata):
    rng = np.random.default_rng(11)
    x, kernel, bias = 1e3 * rng.normal(size=(5, 3)), 1e3 * rng.normal(size=(3, 2)), 1e6 * rng.normal(size=2)
    got = call(kata, x, kernel, bias)
    assert_close(got, ref.dense_forward(x, kernel, bias), call="dense_forward(values around 1e3, bias around 1e6)")
