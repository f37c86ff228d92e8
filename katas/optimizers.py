"""Optimizers.

An optimizer turns gradients into weight updates. Every one here has the
same interface as Keras's: ``optimizer.apply(params, grads)``, where
``params`` is a list of weight arrays (a kernel, a bias, ...) and ``grads`` a
list of arrays of the same shapes. It

* updates every array of ``params`` **in place** (``param -= step``, or
  ``param[...] = new_value``). Your model's layers hold these very arrays:
  a new array made with ``param = param - step`` is never seen by them;
* never changes ``grads``;
* keeps its own state between calls (velocities, moving averages, the step
  count), one slot per position in ``params``: the state of ``params[0]``
  is always at position 0.

The formulas are those of the installed Keras source
(``keras/src/optimizers/{sgd,rmsprop,adam}.py``); the tests run the real
``keras.optimizers`` on the same gradients and compare every step. Where
Keras differs from the textbook, both forms are written side by side below.
The difference is invisible for ordinary gradients and large for tiny ones
(1e-7 and below), which is exactly where the tests look.

Run ``pytest`` after each kata; it tells you what to do next.
"""

import numpy as np


# A solved example, to show the shape of an answer: sign gradient descent
# (the core of "signSGD" and of Adam's behaviour for tiny gradients). It moves
# every weight by the same amount, against the sign of its gradient, and
# counts its steps to show where an optimizer keeps state.
class SignSGD:
    """``param -= learning_rate * sign(grad)``, in place.

    Example:
        >>> w = np.array([1.0, 2.0])
        >>> opt = SignSGD(learning_rate=0.1)
        >>> opt.apply([w], [np.array([0.5, -3.0])])
        >>> w                      # the same array object, changed in place
        array([0.9, 2.1])
        >>> opt.iterations
        1
    """

    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate
        self.iterations = 0  # state: how many times apply() ran

    def apply(self, params, grads):
        for param, grad in zip(params, grads):
            param -= self.learning_rate * np.sign(grad)  # `-=` writes into the array itself
        self.iterations += 1


class SGD:
    """Stochastic gradient descent, with optional momentum (Keras ``SGD``).

    Plain (``momentum == 0``), kata optimizers.SGD:

        param = param - learning_rate * grad

    With momentum, kata optimizers.sgd_momentum: a *velocity* per parameter (zeros at first)
    remembers the recent steps, so a consistent slope builds up speed and a
    zig-zagging one cancels out:

        velocity = momentum * velocity - learning_rate * grad
        param    = param + velocity

    With ``nesterov=True`` the parameter looks one step ahead along the new
    velocity (Keras's form of Nesterov momentum):

        velocity = momentum * velocity - learning_rate * grad
        param    = param + momentum * velocity - learning_rate * grad

    Keras versus the textbook: many courses (and PyTorch) write
    ``velocity = momentum * velocity + grad; param -= learning_rate * velocity``.
    With a constant learning rate that is the same update (their velocity is
    Keras's divided by ``-learning_rate``); either passes.

    Args:
        learning_rate: the step size (Keras's default 0.01).
        momentum: 0 for plain SGD; 0.9 is common.
        nesterov: use Nesterov momentum.

    Example (momentum=0.9, learning_rate=0.05, the same grad 1.0 every step):
        step 1: velocity = -0.05,   param moves by -0.05
        step 2: velocity = -0.095,  param moves by -0.095
        step 3: velocity = -0.1355, ... building up towards -0.5
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocities = None  # one array per parameter, created on the first apply()

    def apply(self, params, grads):
        """Update every array of ``params`` in place from ``grads``."""
        if self.momentum == 0:
            # TODO: kata optimizers.SGD
            raise NotImplementedError("kata optimizers.SGD")
        # TODO: kata optimizers.sgd_momentum
        raise NotImplementedError("kata optimizers.sgd_momentum: SGD with momentum")


class RMSprop:
    """RMSprop (Keras ``RMSprop``, not centered, no momentum): divide each
    step by a running root-mean-square of recent gradients, so every weight
    moves at about ``learning_rate`` per step whatever the size of its gradient.

    Keras:                                   Textbook (Hinton's lecture, many courses):
        v = rho * v + (1 - rho) * grad**2        v = rho * v + (1 - rho) * grad**2
        param -= lr * grad / sqrt(v + eps)       param -= lr * grad / (sqrt(v) + eps)

    Keras puts ``epsilon`` *inside* the square root. For ordinary gradients
    it makes no difference; for a gradient of 1e-8, ``sqrt(v)`` is ~1e-8 and
    ``sqrt(v + 1e-7)`` is ~3e-4, so the Keras step is thousands of times
    smaller. ``v`` starts at zeros, one array per parameter.

    Args:
        learning_rate: 0.001 by default.
        rho: the decay of the moving average of squared gradients.
        epsilon: added inside the square root.

    Example (defaults, one step, grad = 2.0):
        v = 0.9 * 0 + 0.1 * 4.0 = 0.4
        param -= 0.001 * 2.0 / sqrt(0.4 + 1e-7) = 0.0031622...
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.velocities = None  # the moving averages v, one per parameter

    def apply(self, params, grads):
        """Update every array of ``params`` in place from ``grads``."""
        # TODO: kata optimizers.RMSprop
        raise NotImplementedError("kata optimizers.RMSprop")


class Adam:
    """Adam (Keras ``Adam``, no amsgrad): momentum on the gradient (``m``) and
    RMSprop-style scaling (``v``), both corrected for starting at zero.

    With ``t`` the step number (1 on the first call) and ``m``, ``v`` zeros at first:

        m = m + (grad - m) * (1 - beta_1)          # = beta_1 m + (1 - beta_1) grad
        v = v + (grad**2 - v) * (1 - beta_2)       # = beta_2 v + (1 - beta_2) grad**2

    Keras:                                             Textbook (Kingma and Ba, Algorithm 1):
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)   m_hat = m / (1 - beta_1**t)
        param -= alpha * m / (sqrt(v) + eps)                 v_hat = v / (1 - beta_2**t)
                                                             param -= lr * m_hat / (sqrt(v_hat) + eps)

    Keras folds both bias corrections into the step size ``alpha`` (the
    "efficient version" in section 2 of the paper). Without ``eps`` the two
    are equal; with it, Keras adds ``eps`` to ``sqrt(v)`` where the textbook
    adds it to ``sqrt(v_hat) = sqrt(v) / sqrt(1 - beta_2**t)``, so Keras's
    epsilon acts ~30x larger on the first step. For gradients near 1e-8 that
    changes the step completely; the tests check it.

    The step count ``t`` is shared by all parameters: one ``apply`` call is
    one step. (Keras rounds beta_1 and beta_2 to float32 inside the powers;
    the tests allow for that, so use plain float64.)

    Example (defaults, first step, grad = 2.0):
        m = 0.2, v = 0.004, alpha = 0.001 * sqrt(0.001) / 0.1 = 0.000316...
        param -= 0.000316 * 0.2 / (sqrt(0.004) + 1e-7) = 0.00099999...   (about lr)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.iterations = 0  # steps taken so far: t = iterations + 1 during apply()
        self.momentums = None  # m, one per parameter
        self.velocities = None  # v, one per parameter

    def apply(self, params, grads):
        """Update every array of ``params`` in place from ``grads``."""
        # TODO: kata optimizers.Adam
        raise NotImplementedError("kata optimizers.Adam")
