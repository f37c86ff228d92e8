"""A capstone whose only mistake is in the optimizer must say so, by name.

These variants are spliced into ``optimizers.py`` (or, for the way a model
calls its optimizer, into ``model.py``) while a capstone kata runs, through
``mutant(..., module=..., target=...)``: everything else is the answer key,
so the capstone's message must name the optimizer, not a layer or the data.
"""

import numpy as np
from mutation import mutant

from solutions.model import Sequential
from solutions.optimizers import SGD, Adam

ADAM_NAMED = r"your Adam\(.*update differs from Keras's from step"


@mutant("model.seed_mlp", expect=ADAM_NAMED + r".*step counter starts at 2", module="optimizers", target="Adam")
@mutant("conv.seed_cnn", expect=ADAM_NAMED + r".*step counter starts at 2", module="optimizers", target="Adam")
@mutant("rnn.remembers", expect=ADAM_NAMED + r".*step counter starts at 2", module="optimizers", target="Adam")
class AdamStepCounterFromTwo(Adam):
    """iterations += 1 before the update on the first call: the first step already uses t = 2."""

    def apply(self, params, grads):
        if self.iterations == 0:
            self.iterations = 1
        super().apply(params, grads)


@mutant("model.seed_mlp", expect=ADAM_NAMED + r" 2.*frozen at t = 1", module="optimizers", target="Adam")
@mutant("rnn.text_classifier", expect=ADAM_NAMED + r" 2.*frozen at t = 1", module="optimizers", target="Adam")
class AdamFrozenBiasCorrection(Adam):
    """The bias corrections computed once, with t = 1, and never again."""

    def apply(self, params, grads):
        self.iterations = 0
        super().apply(params, grads)


@mutant("model.seed_mlp", expect=ADAM_NAMED + r".*once per parameter", module="optimizers", target="Adam")
@mutant("model.sequential_fit", expect=ADAM_NAMED + r".*once per parameter", module="optimizers", target="Adam")
@mutant("rnn.forecast", expect=ADAM_NAMED + r".*once per parameter", module="optimizers", target="Adam")
class AdamCounterPerParameter(Adam):
    """self.iterations += 1 inside the loop over parameters."""

    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros(np.shape(p)) for p in params]
            self.velocities = [np.zeros(np.shape(p)) for p in params]
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            self.iterations += 1
            t = self.iterations
            alpha = self.learning_rate * np.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
            m += (grad - m) * (1.0 - self.beta_1)
            v += (grad * grad - v) * (1.0 - self.beta_2)
            param -= alpha * m / (np.sqrt(v) + self.epsilon)


@mutant("model.sequential_fit", expect=r"your SGD\(.*momentum is dampened", module="optimizers", target="SGD")
class SGDDampenedMomentum(SGD):
    """v = momentum * v + (1 - momentum) * g; w -= lr * v: the "exponential average" momentum."""

    def apply(self, params, grads):
        if self.momentum == 0:
            return super().apply(params, grads)
        if self.velocities is None:
            self.velocities = [np.zeros(np.shape(p)) for p in params]
        for param, grad, velocity in zip(params, grads, self.velocities):
            velocity *= self.momentum
            velocity += (1.0 - self.momentum) * grad
            param -= self.learning_rate * velocity


@mutant(
    "model.seed_mlp", expect=r"calls optimizer.apply \d+ times .* once per batch", module="model", target="Sequential"
)
@mutant(
    "conv.seed_cnn", expect=r"calls optimizer.apply \d+ times .* once per batch", module="model", target="Sequential"
)
@mutant(
    "rnn.text_classifier",
    expect=r"calls optimizer.apply \d+ times .* once per batch",
    module="model",
    target="Sequential",
)
class SequentialApplyingPerLayer(Sequential):
    """for layer in layers: optimizer.apply(layer.weights, layer.grads): the first layer's slots go to the next."""

    def _train_step(self, xb, yb):
        loss, out = self._loss_and_output(xb, yb, training=True)
        self._backward(xb, yb, out)
        for layer in self.trainable_layers:
            self.optimizer.apply(layer.weights, layer.grads)
        return loss, out
