"""Track 5 — Optimizers: the answer key, following the installed Keras 3 source.

Each optimizer's ``apply(params, grads)`` updates the arrays in ``params`` in
place (as Keras assigns to variables) and keeps its own state (momentums,
moving averages, step count), one slot per position in ``params``.
"""

import numpy as np


class Optimizer:
    """Shared bookkeeping: state slots created on the first call, one per parameter."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.iterations = 0

    def _slots(self, name, params):
        if not hasattr(self, name):
            setattr(self, name, [np.zeros_like(p, dtype=float) for p in params])
        return getattr(self, name)

    def apply(self, params, grads):
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} params but {len(grads)} grads")
        for index, (param, grad) in enumerate(zip(params, grads)):
            self.update(index, param, np.asarray(grad, dtype=float), params)
        self.iterations += 1

    def update(self, index, param, grad, params):
        raise NotImplementedError


class SGD(Optimizer):
    """``v = momentum * v - lr * g``; ``w += v`` (Nesterov: ``w += momentum * v - lr * g``)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = momentum
        self.nesterov = nesterov

    def update(self, index, param, grad, params):
        if self.momentum == 0:
            param -= self.learning_rate * grad
            return
        velocity = self._slots("velocities", params)[index]
        velocity *= self.momentum
        velocity -= self.learning_rate * grad
        if self.nesterov:
            param += self.momentum * velocity - self.learning_rate * grad
        else:
            param += velocity


class RMSprop(Optimizer):
    """``v = rho v + (1 - rho) g**2``; ``w -= lr * g / sqrt(v + epsilon)`` (epsilon inside the root)."""

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        super().__init__(learning_rate)
        self.rho = rho
        self.epsilon = epsilon

    def update(self, index, param, grad, params):
        v = self._slots("velocities", params)[index]
        v *= self.rho
        v += (1.0 - self.rho) * grad * grad
        param -= self.learning_rate * grad / np.sqrt(v + self.epsilon)


class Adam(Optimizer):
    """Keras's Adam: the bias corrections are folded into the step size,
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, and epsilon is added
    to ``sqrt(v)`` (not ``sqrt(v_hat)``): ``w -= alpha * m / (sqrt(v) + epsilon)``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def apply(self, params, grads):
        t = self.iterations + 1
        self._alpha = self.learning_rate * np.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        super().apply(params, grads)

    def update(self, index, param, grad, params):
        m = self._slots("momentums", params)[index]
        v = self._slots("velocities", params)[index]
        m += (grad - m) * (1.0 - self.beta_1)
        v += (grad * grad - v) * (1.0 - self.beta_2)
        param -= self._alpha * m / (np.sqrt(v) + self.epsilon)
