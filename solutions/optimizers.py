"""Optimizers: the answer key, following the installed Keras 3 source
(``keras/src/optimizers/{sgd,rmsprop,adam}.py``).

Each optimizer's ``apply(params, grads)`` updates the arrays in ``params`` in
place (as Keras assigns to its variables) and keeps its own state (velocities,
moving averages, step count), one slot per position in ``params``.
"""

import numpy as np


class SignSGD:
    """``param -= learning_rate * sign(grad)``, in place (the solved example)."""

    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate
        self.iterations = 0

    def apply(self, params, grads):
        for param, grad in zip(params, grads):
            param -= self.learning_rate * np.sign(grad)
        self.iterations += 1


def _zeros_like_each(params):
    """One float64 state array per parameter, created on the first step."""
    return [np.zeros(np.shape(p), dtype=float) for p in params]


def _check_lengths(params, grads):
    if len(params) != len(grads):
        raise ValueError(
            f"apply() needs one gradient per parameter. Received: {len(params)} params and {len(grads)} grads"
        )


class SGD:
    """``v = momentum * v - lr * g``; ``w += v`` (Nesterov: ``w += momentum * v - lr * g``)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocities = None

    def apply(self, params, grads):
        _check_lengths(params, grads)
        if self.momentum == 0:
            for param, grad in zip(params, grads):
                param -= self.learning_rate * np.asarray(grad, dtype=float)
            return
        if self.velocities is None:
            self.velocities = _zeros_like_each(params)
        for param, grad, velocity in zip(params, grads, self.velocities):
            grad = np.asarray(grad, dtype=float)
            velocity *= self.momentum
            velocity -= self.learning_rate * grad
            if self.nesterov:
                # Keras's Nesterov: step along the *updated* velocity once more.
                param += self.momentum * velocity - self.learning_rate * grad
            else:
                param += velocity


class RMSprop:
    """``v = rho v + (1 - rho) g**2``; ``w -= lr * g / sqrt(v + epsilon)`` (epsilon inside the root)."""

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.velocities = None

    def apply(self, params, grads):
        _check_lengths(params, grads)
        if self.velocities is None:
            self.velocities = _zeros_like_each(params)
        for param, grad, v in zip(params, grads, self.velocities):
            grad = np.asarray(grad, dtype=float)
            v *= self.rho
            v += (1.0 - self.rho) * grad * grad
            param -= self.learning_rate * grad / np.sqrt(v + self.epsilon)


class Adam:
    """Keras's Adam: the bias corrections are folded into the step size,
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, and epsilon is added
    to ``sqrt(v)`` (not ``sqrt(v_hat)``): ``w -= alpha * m / (sqrt(v) + epsilon)``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.iterations = 0
        self.momentums = None
        self.velocities = None

    def apply(self, params, grads):
        _check_lengths(params, grads)
        if self.momentums is None:
            self.momentums = _zeros_like_each(params)
            self.velocities = _zeros_like_each(params)
        t = self.iterations + 1  # one step for all parameters
        alpha = self.learning_rate * np.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            grad = np.asarray(grad, dtype=float)
            m += (grad - m) * (1.0 - self.beta_1)
            v += (grad * grad - v) * (1.0 - self.beta_2)
            param -= alpha * m / (np.sqrt(v) + self.epsilon)
        self.iterations = t
