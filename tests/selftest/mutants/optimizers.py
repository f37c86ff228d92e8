"""Wrong and right ways to write katas/optimizers.py."""

import numpy as np
from mutation import SOLUTIONS, alternative, mutant

from dojo.course.implementation import Implementation

# The variants below subclass the answer key's classes. Spliced into a copy of
# solutions/optimizers.py, their base names resolve to that copy's classes;
# here, they must exist for the class statements to run.
_answer_key = Implementation(SOLUTIONS).module("optimizers")
SGD, RMSprop, Adam = _answer_key.SGD, _answer_key.RMSprop, _answer_key.Adam

# ------------------------------------------------------------------------ SGD


@mutant("optimizers.SGD", expect="up the gradient")
class SGDUphill(SGD):
    def apply(self, params, grads):
        for param, grad in zip(params, grads):
            param += self.learning_rate * grad


@mutant("optimizers.SGD", expect="replaced params\\[0\\] with a new array")
class SGDRebindingListItems(SGD):
    def apply(self, params, grads):
        for i, grad in enumerate(grads):
            params[i] = params[i] - self.learning_rate * grad


@mutant("optimizers.SGD", expect="only rebinds a local name")
class SGDRebindingLocalName(SGD):
    def apply(self, params, grads):
        for param, grad in zip(params, grads):
            param = param - self.learning_rate * grad


@mutant("optimizers.SGD", expect="returned new values")
class SGDReturningNewArrays(SGD):
    def apply(self, params, grads):
        return [param - self.learning_rate * grad for param, grad in zip(params, grads)]


@alternative("optimizers.SGD")
class SGDWithOutArgument(SGD):
    def apply(self, params, grads):
        if self.momentum:
            return super().apply(params, grads)
        for param, grad in zip(params, grads):
            np.subtract(param, self.learning_rate * np.asarray(grad), out=param)


# ---------------------------------------------------------------- SGD momentum


@mutant("optimizers.sgd_momentum", expect="wrong sign")
class SGDMomentumSignError(SGD):
    def apply(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for param, grad, velocity in zip(params, grads, self.velocities):
            velocity *= self.momentum
            velocity += self.learning_rate * grad
            param += self.momentum * velocity + self.learning_rate * grad if self.nesterov else velocity


@mutant("optimizers.sgd_momentum", expect="Nesterov was ignored")
class SGDNesterovAsPlainMomentum(SGD):
    def apply(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for param, grad, velocity in zip(params, grads, self.velocities):
            velocity *= self.momentum
            velocity -= self.learning_rate * grad
            param += velocity


@mutant("optimizers.sgd_momentum", expect="not kept between calls")
class SGDMomentumForgettingVelocity(SGD):
    def apply(self, params, grads):
        for param, grad in zip(params, grads):
            velocity = np.zeros_like(param)  # a fresh velocity every call: no momentum at all
            velocity = self.momentum * velocity - self.learning_rate * grad
            param += self.momentum * velocity - self.learning_rate * grad if self.nesterov else velocity


@mutant("optimizers.sgd_momentum", expect="on self")
class SGDMomentumStateOnTheClass(SGD):
    shared_velocities = {}  # a class attribute: every SGD instance shares it

    def apply(self, params, grads):
        for i, (param, grad) in enumerate(zip(params, grads)):
            velocity = self.shared_velocities.setdefault(i, np.zeros_like(param))
            velocity *= self.momentum
            velocity -= self.learning_rate * grad
            param += self.momentum * velocity - self.learning_rate * grad if self.nesterov else velocity


@alternative("optimizers.sgd_momentum")
class SGDTextbookMomentum(SGD):
    """PyTorch's form: v = momentum * v + g; w -= lr * v (Nesterov: w -= lr * (g + momentum * v))."""

    def apply(self, params, grads):
        if self.momentum == 0:
            return super().apply(params, grads)
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for i, (param, grad) in enumerate(zip(params, grads)):
            self.velocities[i] = self.momentum * self.velocities[i] + grad
            step = grad + self.momentum * self.velocities[i] if self.nesterov else self.velocities[i]
            param[...] = param - self.learning_rate * step


# -------------------------------------------------------------------- RMSprop


@mutant("optimizers.RMSprop", expect="epsilon is outside the square root")
class RMSpropEpsilonOutsideRoot(RMSprop):
    def apply(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for param, grad, v in zip(params, grads, self.velocities):
            v *= self.rho
            v += (1 - self.rho) * grad**2
            param -= self.learning_rate * grad / (np.sqrt(v) + self.epsilon)


@mutant("optimizers.RMSprop", expect="swapped")
class RMSpropRhoSwapped(RMSprop):
    def apply(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for param, grad, v in zip(params, grads, self.velocities):
            v *= 1 - self.rho
            v += self.rho * grad**2
            param -= self.learning_rate * grad / np.sqrt(v + self.epsilon)


@mutant("optimizers.RMSprop", expect="not kept between calls")
class RMSpropForgettingAverage(RMSprop):
    def apply(self, params, grads):
        for param, grad in zip(params, grads):
            v = (1 - self.rho) * grad**2  # starts from zero every call
            param -= self.learning_rate * grad / np.sqrt(v + self.epsilon)


@alternative("optimizers.RMSprop")
class RMSpropRebindingItsOwnState(RMSprop):
    def apply(self, params, grads):
        if self.velocities is None:
            self.velocities = [0.0] * len(params)
        for i, (param, grad) in enumerate(zip(params, grads)):
            self.velocities[i] = self.rho * self.velocities[i] + (1 - self.rho) * np.square(grad)
            param[...] = param - self.learning_rate * grad / np.sqrt(self.velocities[i] + self.epsilon)


# ----------------------------------------------------------------------- Adam


@mutant("optimizers.Adam", expect="textbook form")
class AdamTextbook(Adam):
    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
        self.iterations += 1
        t = self.iterations
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * grad
            v[...] = self.beta_2 * v + (1 - self.beta_2) * grad**2
            m_hat = m / (1 - self.beta_1**t)
            v_hat = v / (1 - self.beta_2**t)
            param -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)


@mutant("optimizers.Adam", expect="bias correction is missing")
class AdamWithoutBiasCorrection(Adam):
    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            m += (grad - m) * (1 - self.beta_1)
            v += (grad**2 - v) * (1 - self.beta_2)
            param -= self.learning_rate * m / (np.sqrt(v) + self.epsilon)


@mutant("optimizers.Adam", expect="t stays at 1")
class AdamStepCountNeverGrows(Adam):
    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
        t = self.iterations + 1  # never stored back
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            m += (grad - m) * (1 - self.beta_1)
            v += (grad**2 - v) * (1 - self.beta_2)
            param -= alpha * m / (np.sqrt(v) + self.epsilon)


@mutant("optimizers.Adam", expect="step counter advances once per PARAMETER")
class AdamCountingStepsPerParameter(Adam):
    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            self.iterations += 1  # one step per parameter instead of per apply call
            t = self.iterations
            alpha = self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
            m += (grad - m) * (1 - self.beta_1)
            v += (grad**2 - v) * (1 - self.beta_2)
            param -= alpha * m / (np.sqrt(v) + self.epsilon)


@alternative("optimizers.Adam")
class AdamWithHatsAndRescaledEpsilon(Adam):
    """The textbook's m_hat and v_hat, with epsilon rescaled so that the update is Keras's:
    alpha * m / (sqrt(v) + eps) = lr * m_hat / (sqrt(v_hat) + eps / sqrt(1 - beta_2**t))."""

    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
        t = self.iterations = self.iterations + 1
        for i, (param, grad) in enumerate(zip(params, grads)):
            self.momentums[i] = self.beta_1 * self.momentums[i] + (1 - self.beta_1) * grad
            self.velocities[i] = self.beta_2 * self.velocities[i] + (1 - self.beta_2) * grad * grad
            m_hat = self.momentums[i] / (1 - self.beta_1**t)
            v_hat = self.velocities[i] / (1 - self.beta_2**t)
            param -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon / np.sqrt(1 - self.beta_2**t))


@alternative("optimizers.Adam")
class AdamWithKerasFloat32Betas(Adam):
    """Rounds the betas to float32 inside the powers, exactly as Keras does."""

    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
        t = self.iterations + 1
        b1, b2 = float(np.float32(self.beta_1)), float(np.float32(self.beta_2))
        alpha = self.learning_rate * np.sqrt(1 - b2**t) / (1 - b1**t)
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            m += (grad - m) * (1 - self.beta_1)
            v += (grad**2 - v) * (1 - self.beta_2)
            param -= alpha * m / (np.sqrt(v) + self.epsilon)
        self.iterations = t


@mutant("optimizers.Adam", expect="step counter starts at 2")
class AdamCounterStartingAtTwo(Adam):
    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
            self.iterations = 1  # "the first step": then incremented again below
        self.iterations += 1
        t = self.iterations
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            m += (grad - m) * (1 - self.beta_1)
            v += (grad**2 - v) * (1 - self.beta_2)
            param -= alpha * m / (np.sqrt(v) + self.epsilon)


@mutant("optimizers.Adam", expect="bias correction is frozen at t = 1")
class AdamBiasCorrectionComputedOnce(Adam):
    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros_like(p) for p in params]
            self.velocities = [np.zeros_like(p) for p in params]
            # computed once, on the first call, and kept: t is 1 forever
            self.alpha = self.learning_rate * np.sqrt(1 - self.beta_2) / (1 - self.beta_1)
        self.iterations += 1
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            m += (grad - m) * (1 - self.beta_1)
            v += (grad**2 - v) * (1 - self.beta_2)
            param -= self.alpha * m / (np.sqrt(v) + self.epsilon)


@mutant("optimizers.sgd_momentum", expect="dampened momentum")
class SGDDampenedMomentum(SGD):
    def apply(self, params, grads):
        if not hasattr(self, "_dampened"):
            self._dampened = [np.zeros_like(p) for p in params]
        for param, grad, v in zip(params, grads, self._dampened):
            v[...] = self.momentum * v + (1 - self.momentum) * grad
            update = self.momentum * v + (1 - self.momentum) * grad if self.nesterov else v
            param -= self.learning_rate * update


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("optimizers.RMSprop", expect=r"epsilon defaults to 1e-8")
class RMSpropPyTorchEpsilon(RMSprop):
    # MISTAKE: PyTorch's default epsilon (1e-8); Keras's is 1e-7. Only shows with epsilon left to its default.
    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-8):
        super().__init__(learning_rate, rho, epsilon)


@mutant("optimizers.Adam", expect=r"epsilon defaults to 1e-8")
class AdamPaperEpsilon(Adam):
    # MISTAKE: the Adam paper's default epsilon (1e-8); Keras's is 1e-7.
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__(learning_rate, beta_1, beta_2, epsilon)


@mutant("optimizers.Adam", expect=r"epsilon is inside the square root")
class AdamEpsilonInsideTheRoot(Adam):
    # MISTAKE: sqrt(v + epsilon), RMSprop's placement, in Adam.
    def apply(self, params, grads):
        if self.momentums is None:
            self.momentums = [np.zeros(np.shape(p)) for p in params]
            self.velocities = [np.zeros(np.shape(p)) for p in params]
        t = self.iterations + 1
        alpha = self.learning_rate * np.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        for param, grad, m, v in zip(params, grads, self.momentums, self.velocities):
            grad = np.asarray(grad, dtype=float)
            m += (grad - m) * (1.0 - self.beta_1)
            v += (grad * grad - v) * (1.0 - self.beta_2)
            param -= alpha * m / np.sqrt(v + self.epsilon)
        self.iterations = t


@mutant("optimizers.sgd_momentum", expect=r"float32")
class SGDFloat32Velocity(SGD):
    # MISTAKE: the velocity kept in float32 (np.zeros_like of a float32 copy): each step rounds it.
    def apply(self, params, grads):
        if self.momentum == 0:
            return super().apply(params, grads)
        if self.velocities is None:
            self.velocities = [np.zeros(np.shape(p), dtype=np.float32) for p in params]
        for param, grad, velocity in zip(params, grads, self.velocities):
            grad = np.asarray(grad, dtype=float)
            velocity *= self.momentum
            velocity -= (self.learning_rate * grad).astype(np.float32)
            if self.nesterov:
                param += self.momentum * velocity - self.learning_rate * grad
            else:
                param += velocity


@mutant("optimizers.RMSprop", expect=r"moving average")
class RMSpropStartsFromTheFirstSquare(RMSprop):
    # MISTAKE: the moving average starts at the first g**2 instead of 0 (some tutorials' "warm start").
    def apply(self, params, grads):
        first = self.velocities is None
        if first:
            self.velocities = [np.asarray(g, dtype=float) ** 2 for g in grads]
        for param, grad, v in zip(params, grads, self.velocities):
            grad = np.asarray(grad, dtype=float)
            if not first:
                v *= self.rho
                v += (1.0 - self.rho) * grad * grad
            param -= self.learning_rate * grad / np.sqrt(v + self.epsilon)


@alternative("optimizers.RMSprop")
class RMSpropWithSlices:
    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        self.learning_rate, self.rho, self.epsilon = learning_rate, rho, epsilon
        self.mean_squares = {}

    def apply(self, params, grads):
        for i, (param, grad) in enumerate(zip(params, grads)):
            grad = np.asarray(grad, dtype=float)
            old = self.mean_squares.get(i, np.zeros(np.shape(param)))
            self.mean_squares[i] = self.rho * old + (1 - self.rho) * np.square(grad)
            param[...] = param - self.learning_rate * grad / np.sqrt(self.mean_squares[i] + self.epsilon)
