"""Wrong and right ways to write katas/neuron.py."""

import numpy as np
from mutation import alternative, mutant


@mutant("neuron.weighted_sum", expect="multiply pair by pair")
def weighted_sum_of_sums(inputs, weights):
    return float(np.sum(inputs) * np.sum(weights))


@mutant("neuron.weighted_sum", expect="without adding them up")
def weighted_sum_without_the_sum(inputs, weights):
    return np.asarray(inputs, dtype=float) * np.asarray(weights, dtype=float)


@alternative("neuron.weighted_sum")
def weighted_sum_with_a_loop(inputs, weights):
    total = 0.0
    for x, w in zip(inputs, weights):
        total += x * w
    return total


@mutant("neuron.neuron", expect="bias is missing")
def neuron_without_bias(inputs, weights, bias, activation=None):
    z = weighted_sum(inputs, weights)
    return z if activation is None else activation(z)


@mutant("neuron.neuron", expect="activation was applied before adding the bias")
def neuron_activation_before_bias(inputs, weights, bias, activation=None):
    z = weighted_sum(inputs, weights)
    return (z if activation is None else activation(z)) + bias


@alternative("neuron.neuron")
def neuron_with_numpy_dot(inputs, weights, bias, activation=None):
    z = np.asarray(inputs, dtype=float) @ np.asarray(weights, dtype=float) + bias
    if activation is not None:
        z = activation(z)
    return z


@mutant("neuron.dense_forward", expect="bias is missing")
def dense_forward_without_bias(x, kernel, bias):
    return np.asarray(x, dtype=float) @ np.asarray(kernel, dtype=float)


@mutant("neuron.dense_forward", expect="transposed")
def dense_forward_transposed_kernel(x, kernel, bias):
    return np.asarray(x, dtype=float) @ np.asarray(kernel, dtype=float).T + bias


@mutant("neuron.dense_forward", expect="float32")
def dense_forward_in_float32(x, kernel, bias):
    return np.asarray(x, np.float32) @ np.asarray(kernel, np.float32) + np.asarray(bias, np.float32)


@mutant("neuron.dense_forward", expect="changed its input `x` in place")
def dense_forward_scaling_x_in_place(x, kernel, bias):
    x *= 1.0 + 1e-3  # "normalise" the inputs in place: the caller's array changes
    return x @ kernel + bias


@alternative("neuron.dense_forward")
def dense_forward_with_einsum(x, kernel, bias):
    return np.einsum("bi,iu->bu", np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)) + bias


@alternative("neuron.dense_forward")
def dense_forward_neuron_by_neuron(x, kernel, bias):
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    out = np.empty((x.shape[0], kernel.shape[1]))
    for unit in range(kernel.shape[1]):
        out[:, unit] = x @ kernel[:, unit] + bias[unit]
    return out


@mutant("neuron.dense_forward", expect="returned integers .*astype\\(int\\)")
def dense_forward_cast_to_int(x, kernel, bias):
    # Truncated, the docstring example [2, 2.1, 3.2] becomes [2, 2, 3]: by chance exactly x @ kernel,
    # which must not be reported as "the bias is missing".
    return (np.asarray(x) @ np.asarray(kernel) + np.asarray(bias)).astype(int)


@mutant("neuron.neuron", expect="your code raised AssertionError at .*neuron.py:\\d+ \\(in neuron_asserting")
def neuron_asserting_positive_inputs(inputs, weights, bias, activation=None):
    assert all(v > 0 for v in inputs), "inputs must be positive"  # a learner's own check, false for [0, 0, 0]
    z = float(np.dot(inputs, weights)) + bias
    return z if activation is None else activation(z)


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("neuron.neuron", expect=r"the activation was applied before adding the bias")
def neuron_bias_after_the_activation(inputs, weights, bias, activation=None):
    # MISTAKE: activation(w . x) + b: the same as the answer key when activation is None.
    z = float(np.dot(np.asarray(inputs, dtype=float), np.asarray(weights, dtype=float)))
    return z + bias if activation is None else activation(z) + bias


@mutant("neuron.dense_forward", expect=r"float32")
def dense_forward_in_float32(x, kernel, bias):
    # MISTAKE: float32 arithmetic (the dtype most tutorials use), returned as float64.
    x, kernel, bias = (np.asarray(a, dtype=np.float32) for a in (x, kernel, bias))
    return (x @ kernel + bias).astype(float)


@mutant("neuron.weighted_sum", expect=r"float32")
def weighted_sum_in_float32(inputs, weights):
    # MISTAKE: float32 arithmetic inside, float64 outside.
    return float(np.dot(np.asarray(inputs, dtype=np.float32), np.asarray(weights, dtype=np.float32)))


@alternative("neuron.dense_forward")
def dense_forward_with_einsum(x, kernel, bias):
    x, kernel, bias = (np.asarray(a, dtype=float) for a in (x, kernel, bias))
    return np.einsum("...i,ij->...j", x, kernel) + bias
