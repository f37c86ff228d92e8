"""A capstone whose only mistake is in the optimizer must say so, by name.

These variants are spliced into ``optimizers.py`` (or, for the way a model
calls its optimizer, into ``model.py``) while a capstone kata runs, through
``mutant(..., module=..., target=...)``: everything else is the answer key,
so the capstone's message must name the optimizer, not a layer or the data.
"""

import numpy as np
from mutation import mutant

from solutions.model import Sequential
from solutions.optimizers import SGD, Adam, RMSprop

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


# ---- real third-party patterns: right on large gradients, wrong where epsilon or the batch size shows

TEXTBOOK = ADAM_NAMED + r".*epsilon is added to sqrt\(v_hat\)"


@mutant("model.seed_mlp", expect=TEXTBOOK, module="optimizers", target="Adam")
@mutant("model.sequential_fit", expect=TEXTBOOK, module="optimizers", target="Adam")
@mutant("conv.seed_cnn", expect=TEXTBOOK, module="optimizers", target="Adam")
@mutant("regularization.overfitting", expect=TEXTBOOK, module="optimizers", target="Adam")
@mutant("attention.text_transformer", expect=TEXTBOOK, module="optimizers", target="Adam")
class AdamAsThePaperWritesIt(Adam):
    """Kingma & Ba's Algorithm 1 (numpy-ml, ML-From-Scratch, CS231n): m_hat / (sqrt(v_hat) + eps)."""

    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros(np.shape(p)) for p in params]
            self.velocities = [np.zeros(np.shape(p)) for p in params]
        self.iterations += 1
        t = self.iterations
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * grad
            v[...] = self.beta_2 * v + (1 - self.beta_2) * grad**2
            m_hat = m / (1 - self.beta_1**t)
            v_hat = v / (1 - self.beta_2**t)
            param -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)


@mutant(
    "model.sequential_fit",
    expect=r"your RMSprop\(.*update differs from Keras's from step.*epsilon is added outside the square root",
    module="optimizers",
    target="RMSprop",
)
class RMSpropWithEpsilonOutsideTheRoot(RMSprop):
    """Hinton's slides and most tutorials: g / (sqrt(v) + eps)."""

    def apply(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros(np.shape(p)) for p in params]
        for param, grad, v in zip(params, grads, self.velocities):
            v[...] = self.rho * v + (1 - self.rho) * grad**2
            param -= self.learning_rate * grad / (np.sqrt(v) + self.epsilon)


UNAVERAGED = r"gradients your fit hands to optimizer.apply on the first batch.*times Keras's.*1/batch_size"


@mutant("model.seed_mlp", expect=UNAVERAGED, module="model", target="Sequential")
@mutant("conv.seed_cnn", expect=UNAVERAGED, module="model", target="Sequential")
class SequentialWithAnUnaveragedCrossEntropyGradient(Sequential):
    """numpy-ml's CrossEntropy.grad: softmax(z) - onehot(y), without the 1/batch_size of a mean loss.
    Adam hides most of it (it divides by the gradient's own size), so only epsilon and the short last
    batch show it."""

    def _backward(self, xb, yb, out):
        if not self._fused():
            return super()._backward(xb, yb, out)
        logits = self.layers[-1].z
        probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        dz = probabilities.copy()
        dz[np.arange(len(dz)), np.asarray(yb).astype(int).ravel()] -= 1.0
        dout = self.layers[-1].backward_from_logits(dz)
        for layer in reversed(self.layers[:-1]):
            dout = layer.backward(dout)
