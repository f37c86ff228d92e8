"""Neurons.

A neuron takes numbers in, multiplies each by a weight, adds them up with a
bias, and passes the result through an activation function:

    z = inputs[0]*weights[0] + inputs[1]*weights[1] + ... + bias
    output = activation(z)

A Dense layer is many neurons that share the same inputs. Keras stores their
weights as a *kernel* of shape ``(inputs, units)``: column ``j`` holds the
weights of neuron ``j``.

Run ``pytest`` after each kata; it tells you what to do next.
"""

import numpy as np


# A solved example, to show the shape of an answer: the activation of
# Rosenblatt's perceptron (1958), the first trained neuron.
def step(z):
    """Heaviside step: 1.0 where ``z > 0``, else 0.0, elementwise.

    Example:
        >>> step(np.array([-2.0, 0.0, 3.0]))
        array([0., 0., 1.])
    """
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, 1.0, 0.0)


def weighted_sum(inputs, weights):
    """Return the weighted sum of ``inputs``: ``sum(inputs[i] * weights[i])``.

    Args:
        inputs: a list or 1-D array of numbers, shape ``(n,)``.
        weights: a list or 1-D array of the same length.

    Returns:
        One number (a Python float or a NumPy scalar).

    Example (the seed's neuron):
        >>> weighted_sum([0.5, 0.8, 0.3], [0.4, 0.6, 0.2])
        0.74                 # 0.5*0.4 + 0.8*0.6 + 0.3*0.2 = 0.20 + 0.48 + 0.06
    """
    # TODO: kata neuron.weighted_sum
    raise NotImplementedError("kata neuron.weighted_sum")


def neuron(inputs, weights, bias, activation=None):
    """Return one neuron's output: ``activation(weighted_sum(inputs, weights) + bias)``.

    Args:
        inputs: shape ``(n,)``.
        weights: shape ``(n,)``.
        bias: one number.
        activation: a function of one number (for example ``np.tanh``), or
            ``None`` for no activation (the identity).

    Example (the seed's neuron):
        >>> neuron([0.5, 0.8, 0.3], [0.4, 0.6, 0.2], 0.1)
        0.84                 # 0.74 + 0.1
        >>> neuron([0.5, 0.8, 0.3], [0.4, 0.6, 0.2], 0.1, activation=np.tanh)
        0.6858...            # tanh(0.84)
        >>> logistic = lambda z: 1 / (1 + np.exp(-z))    # the sigmoid: you write it in the activations track
        >>> neuron([0.5, 0.8, 0.3], [0.4, 0.6, 0.2], 0.1, activation=logistic)
        0.698...             # 1 / (1 + e**-0.84), about 0.70
    """
    # TODO: kata neuron.neuron
    raise NotImplementedError("kata neuron.neuron")


def dense_forward(x, kernel, bias):
    """Forward pass of a Dense layer (no activation): ``x @ kernel + bias``.

    Args:
        x: a batch of inputs, shape ``(batch, input_dim)``.
        kernel: shape ``(input_dim, units)``; column ``j`` is neuron ``j``'s weights.
        bias: shape ``(units,)``; one bias per neuron.

    Returns:
        Shape ``(batch, units)``: row ``b`` holds every neuron's output for ``x[b]``.

    Example:
        >>> dense_forward(np.array([[1.0, 2.0]]),           # batch of one, 2 inputs
        ...               np.array([[1.0, 0.0, -1.0],
        ...                         [0.5, 1.0,  2.0]]),    # 2 inputs -> 3 units
        ...               np.array([0.0, 0.1, 0.2]))
        array([[2. , 2.1, 3.2]])
    """
    # TODO: kata neuron.dense_forward
    raise NotImplementedError("kata neuron.dense_forward")
