"""Wrong and right ways to write katas/regularization.py.

Functions are whole replacements; layer variants subclass the answer key's
class and change only the method where the mistake lives. The self-test
splices a variant's source into a copy of solutions/regularization.py, so the
names in its body are that module's; the import below only lets this file
define the classes. A variant that needs your model's Dense or your Conv2D
underneath calls ``model_module.Dense`` / ``conv_module.Conv2D`` by name:
``super()`` would reach the answer key's method, which already adds the penalty.
"""

import numpy as np
from mutation import alternative, mutant

from solutions.regularization import BatchNormalization, Conv2D, Dense, Dropout

# ------------------------------------------------------------------ dropout_forward


@mutant("regularization.dropout_forward", expect="divided by rate")
def dropout_forward_scaled_by_rate(x, rate, rng, training=True):
    """x * mask / rate: the right factor at rate 0.5 only."""
    x = np.asarray(x, dtype=float)
    if not training:
        return x.copy(), None
    mask = rng.random(x.shape) >= rate
    return x * mask / rate, mask


@mutant("regularization.dropout_forward", expect="not scaled")
def dropout_forward_without_scaling(x, rate, rng, training=True):
    x = np.asarray(x, dtype=float)
    if not training:
        return x.copy(), None
    mask = rng.random(x.shape) >= rate
    return x * mask, mask


@mutant("regularization.dropout_forward", expect="active at inference")
def dropout_forward_always_on(x, rate, rng, training=True):
    """The training flag is ignored."""
    x = np.asarray(x, dtype=float)
    if rate >= 1:
        return np.zeros_like(x), np.zeros(x.shape, dtype=bool)
    mask = rng.random(x.shape) >= rate
    return x * mask / (1 - rate), mask


@mutant("regularization.dropout_forward", expect="fraction DROPPED")
def dropout_forward_keeping_with_probability_rate(x, rate, rng, training=True):
    """mask = rng.random(...) < rate: rate read as the keep probability."""
    x = np.asarray(x, dtype=float)
    if not training:
        return x.copy(), None
    mask = rng.random(x.shape) < rate
    return x * mask / (1 - rate), mask


@mutant("regularization.dropout_forward", expect="every row got the same mask")
def dropout_forward_one_mask_per_feature(x, rate, rng, training=True):
    x = np.asarray(x, dtype=float)
    if not training:
        return x.copy(), None
    if rate >= 1:
        return np.zeros_like(x), np.zeros(x.shape, dtype=bool)
    mask = np.broadcast_to(rng.random(x.shape[-1:]) >= rate, x.shape)
    return x * mask / (1 - rate), mask


@mutant("regularization.dropout_forward", expect="must draw its mask from `rng`")
def dropout_forward_with_global_random(x, rate, rng, training=True):
    x = np.asarray(x, dtype=float)
    if not training:
        return x.copy(), None
    if rate >= 1:
        return np.zeros_like(x), np.zeros(x.shape, dtype=bool)
    mask = np.random.random(x.shape) >= rate
    return x * mask / (1 - rate), mask


@mutant("regularization.dropout_forward", expect=r"rate=1\.0, rng, training=True\) returned NaN in y: at rate=1 .* 0/0")
def dropout_forward_zero_over_zero(x, rate, rng, training=True):
    x = np.asarray(x, dtype=float)
    if not training:
        return x.copy(), None
    mask = rng.random(x.shape) >= rate
    return x * mask / (1.0 - rate), mask  # MISTAKE: rate=1 gives 0 * x / 0


@mutant("regularization.dropout_backward", expect=r"rate=1\.0\) returned NaN in dx: at rate=1 .* 0/0")
def dropout_backward_zero_over_zero(dout, mask, rate):
    dout = np.asarray(dout, dtype=float)
    if mask is None:
        return dout.copy()
    return dout * mask / (1.0 - rate)  # MISTAKE: rate=1 gives 0 * dout / 0


@alternative("regularization.dropout_forward")
def dropout_forward_with_where_and_a_float_mask(x, rate, rng, training=True):
    """np.where and a 0/1 float mask; rate 0 returns the input as it is."""
    x = np.asarray(x, dtype=float)
    if not training or rate == 0:
        return x.copy(), (None if not training else np.ones(x.shape))
    keep = 1.0 - rate
    mask = (rng.uniform(size=x.shape) >= rate).astype(float)
    if keep == 0:
        return np.zeros_like(x), mask
    return np.where(mask == 1.0, x / keep, 0.0), mask


# ------------------------------------------------------------------ dropout_backward


@mutant("regularization.dropout_backward", expect="not scaled")
def dropout_backward_without_scaling(dout, mask, rate):
    return np.asarray(dout, dtype=float) * (1 if mask is None else mask)


@mutant("regularization.dropout_backward", expect="through dropped units")
def dropout_backward_without_the_mask(dout, mask, rate):
    dout = np.asarray(dout, dtype=float)
    return dout if mask is None else dout / (1 - rate)


@mutant("regularization.dropout_backward", expect="mask None means")
def dropout_backward_scaling_without_a_mask(dout, mask, rate):
    """Always dout * mask / (1 - rate), mask None read as all kept."""
    dout = np.asarray(dout, dtype=float)
    if rate >= 1:
        return np.zeros_like(dout)
    return dout * (1 if mask is None else mask) / (1 - rate)


@alternative("regularization.dropout_backward")
def dropout_backward_with_where(dout, mask, rate):
    dout = np.asarray(dout, dtype=float)
    if mask is None:
        return dout.copy()
    return np.where(np.asarray(mask, dtype=bool), dout / max(1.0 - rate, 1e-300), 0.0)


# ----------------------------------------------------------------------- l2_penalty


@mutant("regularization.l2_penalty", expect="factor 1/2")
def l2_penalty_with_a_half(kernel, l2):
    return 0.5 * l2 * float(np.sum(np.square(kernel)))


@mutant("regularization.l2_penalty", expect="mean of the squares")
def l2_penalty_as_a_mean(kernel, l2):
    return l2 * float(np.mean(np.square(kernel)))


# ------------------------------------------------------------------ l2_penalty_grad


@mutant("regularization.l2_penalty_grad", expect="factor 1/2")
def l2_penalty_grad_of_the_textbook(kernel, l2):
    return l2 * np.asarray(kernel, dtype=float)


@alternative("regularization.l2_penalty_grad")
def l2_penalty_grad_by_adding(kernel, l2):
    kernel = np.asarray(kernel, dtype=float)
    return l2 * kernel + l2 * kernel


@alternative("regularization.l2_penalty")
def l2_penalty_with_vdot(kernel, l2):
    flat = np.asarray(kernel, dtype=float).ravel()
    return l2 * float(np.vdot(flat, flat))


# ------------------------------------------------------------------ batch_norm_forward


@mutant("regularization.batch_norm_forward", expect="unbiased")
def batch_norm_forward_with_unbiased_variance(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    x = np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    if not training:
        y = (x - moving_mean) / np.sqrt(moving_variance + epsilon) * gamma + beta
        return y, np.array(moving_mean, dtype=float), np.array(moving_variance, dtype=float)
    mean, var = x.mean(axis=axes), x.var(axis=axes, ddof=1) if x.size > x.shape[-1] else x.var(axis=axes)
    y = (x - mean) / np.sqrt(var + epsilon) * gamma + beta
    return y, moving_mean * momentum + mean * (1 - momentum), moving_variance * momentum + var * (1 - momentum)


@mutant("regularization.batch_norm_forward", expect="moved the moving statistics")
def batch_norm_forward_updating_at_inference(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    """Inference normalises with the moving statistics but still moves them with the batch's."""
    x = np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    new_mean = moving_mean * momentum + mean * (1 - momentum)
    new_var = moving_variance * momentum + var * (1 - momentum)
    if not training:
        mean, var = moving_mean, moving_variance
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta, new_mean, new_var


@mutant("regularization.batch_norm_forward", expect="1 - momentum")
def batch_norm_forward_with_pytorch_momentum(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    """moving = moving * (1 - momentum) + batch * momentum, as PyTorch's momentum=0.1 reads."""
    x = np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    if not training:
        y = (x - moving_mean) / np.sqrt(moving_variance + epsilon) * gamma + beta
        return y, np.array(moving_mean, dtype=float), np.array(moving_variance, dtype=float)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    y = (x - mean) / np.sqrt(var + epsilon) * gamma + beta
    return y, moving_mean * (1 - momentum) + mean * momentum, moving_variance * (1 - momentum) + var * momentum


@mutant("regularization.batch_norm_forward", expect="PyTorch's 1e-5")
def batch_norm_forward_with_pytorch_epsilon(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    epsilon = 1e-5
    x = np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        new = moving_mean * momentum + mean * (1 - momentum), moving_variance * momentum + var * (1 - momentum)
    else:
        mean, var = moving_mean, moving_variance
        new = np.array(moving_mean, dtype=float), np.array(moving_variance, dtype=float)
    return ((x - mean) / np.sqrt(var + epsilon) * gamma + beta,) + new


@mutant("regularization.batch_norm_forward", expect="batch axis only")
def batch_norm_forward_over_the_batch_axis_only(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    """axis=0, as for Dense inputs, also for images: per-pixel statistics."""
    x = np.asarray(x, dtype=float)
    if not training:
        y = (x - moving_mean) / np.sqrt(moving_variance + epsilon) * gamma + beta
        return y, np.array(moving_mean, dtype=float), np.array(moving_variance, dtype=float)
    mean, var = x.mean(axis=0), x.var(axis=0)
    y = (x - mean) / np.sqrt(var + epsilon) * gamma + beta
    flat_mean, flat_var = mean.reshape(-1, x.shape[-1]).mean(0), var.reshape(-1, x.shape[-1]).mean(0)
    new_mean = moving_mean * momentum + flat_mean * (1 - momentum)
    return y, new_mean, moving_variance * momentum + flat_var * (1 - momentum)


@alternative("regularization.batch_norm_forward")
def batch_norm_forward_flattened_with_tf_form(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    """Rows of a (n, features) view, and tf.nn.batch_normalization's x * inv + (beta - mean * inv)."""
    x = np.asarray(x, dtype=float)
    rows = x.reshape(-1, x.shape[-1])
    if training:
        mean = rows.sum(axis=0) / len(rows)
        var = ((rows - mean) ** 2).sum(axis=0) / len(rows)
        new_mean = moving_mean + (mean - moving_mean) * (1 - momentum)
        new_var = moving_variance + (var - moving_variance) * (1 - momentum)
    else:
        mean, var = np.asarray(moving_mean, float), np.asarray(moving_variance, float)
        new_mean, new_var = mean.copy(), var.copy()
    inv = gamma / np.sqrt(var + epsilon)
    return (rows * inv + (beta - mean * inv)).reshape(x.shape), new_mean, new_var


# ------------------------------------------------------------------ batch_norm_backward


@mutant("regularization.batch_norm_backward", expect="treats the batch mean and variance as constants")
def batch_norm_backward_with_constant_statistics(dout, x, gamma, epsilon=1e-3):
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    inv = 1 / np.sqrt(x.var(axis=axes) + epsilon)
    x_hat = (x - x.mean(axis=axes)) * inv
    return dout * gamma * inv, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)


@mutant("regularization.batch_norm_backward", expect="every axis but the last")
def batch_norm_backward_summing_over_the_batch_only(dout, x, gamma, epsilon=1e-3):
    """Statistics and sums over axis 0: right for Dense, wrong for images."""
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    inv = 1 / np.sqrt(x.var(axis=axes) + epsilon)
    x_hat = (x - x.mean(axis=axes)) * inv
    dx = gamma * inv * (dout - dout.mean(axis=axes) - x_hat * (dout * x_hat).mean(axis=axes))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


@alternative("regularization.batch_norm_backward")
def batch_norm_backward_step_by_step(dout, x, gamma, epsilon=1e-3):
    """The chain rule in the textbook's steps: d x_hat, d var, d mean, then dx."""
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    n = x.size // x.shape[-1]
    mean = x.mean(axis=axes)
    centred = x - mean
    var = (centred**2).mean(axis=axes)
    std = np.sqrt(var + epsilon)
    x_hat = centred / std
    dx_hat = dout * gamma
    dvar = (dx_hat * centred).sum(axis=axes) * -0.5 * std**-3
    dmean = -(dx_hat / std).sum(axis=axes) + dvar * (-2.0 * centred).sum(axis=axes) / n
    dx = dx_hat / std + dvar * 2.0 * centred / n + dmean / n
    return dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)


# ------------------------------------------------------------------ layers


@mutant("regularization.Dropout", expect="active at inference")
class DropoutAlwaysTraining(Dropout):
    def forward(self, x, training=False):
        y, self.mask = dropout_forward(x, self.rate, self.rng, training=True)
        return y


@mutant("regularization.Dropout", expect="another mask than the forward pass")
class DropoutDrawingANewMaskInBackward(Dropout):
    def backward(self, dout):
        _, mask = dropout_forward(np.ones_like(dout), self.rate, np.random.default_rng(0))
        return dropout_backward(dout, mask, self.rate)


@mutant("regularization.Dropout", expect="(every row|every sample in the batch) got the same mask")
class DropoutSharingItsMaskAcrossTheBatch(Dropout):
    """One keep-draw per feature, broadcast over the batch: `rng.random(x.shape[1:])`."""

    def forward(self, x, training=False):
        if not training:
            self.scaled = None
            return np.array(x, dtype=float)
        keep = self.rng.random(np.shape(x)[1:]) >= self.rate  # MISTAKE: the same mask for every sample
        self.scaled = np.broadcast_to(keep / (1 - self.rate), np.shape(x))
        return x * self.scaled

    def backward(self, dout):
        return dout if self.scaled is None else dout * self.scaled


@mutant("regularization.Dropout", expect="every step of a sequence got the same mask")
class DropoutSharingItsMaskOverTime(Dropout):
    """One draw per sample and feature, repeated over the steps: `rng.random((batch, 1, features))`."""

    def forward(self, x, training=False):
        if not training:
            self.scaled = None
            return np.array(x, dtype=float)
        shape = np.shape(x)
        draw_shape = shape if len(shape) < 3 else (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)
        keep = self.rng.random(draw_shape) >= self.rate  # MISTAKE: recurrent-style noise_shape
        self.scaled = np.broadcast_to(keep / (1 - self.rate), shape)
        return x * self.scaled

    def backward(self, dout):
        return dout if self.scaled is None else dout * self.scaled


@alternative("regularization.Dropout")
class DropoutScalingInTheLayer(Dropout):
    """The layer keeps the scaled mask itself and multiplies."""

    def forward(self, x, training=False):
        if not training:
            self.scaled = None
            return np.array(x, dtype=float)
        self.scaled = (self.rng.random(np.shape(x)) >= self.rate) / (1 - self.rate)
        return x * self.scaled

    def backward(self, dout):
        return dout if self.scaled is None else dout * self.scaled


@mutant("regularization.BatchNormalization", expect="zeros for the moving")
class BatchNormalizationWithTwoGrads(BatchNormalization):
    def backward(self, dout):
        dx, dgamma, dbeta = batch_norm_backward(dout, self._x, self.weights[0], self.epsilon)
        self.grads = [dgamma, dbeta]
        return dx


@mutant("regularization.BatchNormalization", expect="replaced its weight arrays")
class BatchNormalizationRebindingItsStatistics(BatchNormalization):
    def forward(self, x, training=False):
        gamma, beta, mean, var = self.weights
        y, mean, var = batch_norm_forward(x, gamma, beta, mean, var, self.momentum, self.epsilon, training)
        self.weights = [gamma, beta, mean, var]
        self._x = x
        return y


@mutant("regularization.BatchNormalization", expect="did not move")
class BatchNormalizationForgettingTheNewStatistics(BatchNormalization):
    def forward(self, x, training=False):
        self._x = x
        return batch_norm_forward(x, *self.weights, self.momentum, self.epsilon, training)[0]


@alternative("regularization.BatchNormalization")
class BatchNormalizationCopyingWithCopyto(BatchNormalization):
    def build(self, input_shape, rng):
        n = input_shape[-1]
        self.weights = [np.full(n, 1.0), np.full(n, 0.0), np.zeros(n), np.ones(n)]
        self.built = True

    def forward(self, x, training=False):
        y, mean, var = batch_norm_forward(
            x,
            *self.weights,
            momentum=self.momentum,
            epsilon=self.epsilon,
            training=training,
        )
        if training:
            np.copyto(self.weights[2], mean)
            np.copyto(self.weights[3], var)
        self._x, self.frozen = x, not training
        return y

    def backward(self, dout):
        if self.frozen:  # inference: the moving statistics are constants, y is affine in x
            gamma, _, mean, var = self.weights
            scale = gamma / np.sqrt(var + self.epsilon)
            axes = tuple(range(np.ndim(dout) - 1))
            dx = dout * scale
            x_hat = (self._x - mean) / np.sqrt(var + self.epsilon)
            dgamma, dbeta = (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)
        else:
            dx, dgamma, dbeta = batch_norm_backward(dout, self._x, self.weights[0], self.epsilon)
        self.grads = [dgamma, dbeta] + [np.zeros_like(w) for w in self.weights[2:]]
        return dx


@mutant("regularization.BatchNormalization", expect="used the batch's mean and variance.*moving statistics")
class BatchNormalizationWithTheTrainingBackwardAlways(BatchNormalization):
    """One backward for both modes: the batch-statistics formula, also after forward(training=False)."""

    def backward(self, dout):
        dx, dgamma, dbeta = batch_norm_backward(dout, self._x, self.weights[0], self.epsilon)
        self.grads = [dgamma, dbeta, np.zeros_like(self.weights[2]), np.zeros_like(self.weights[3])]
        return dx


@mutant("regularization.Dense", expect="penalty's gradient is missing from dkernel")
class DenseWithoutThePenaltyGradient(Dense):
    def backward_from_logits(self, dz):
        return model_module.Dense.backward_from_logits(self, dz)


@mutant("regularization.Dense", expect="no factor 1/2")
class DenseWithAHalfPenalty(Dense):
    def regularization_loss(self):
        return 0.0 if self.kernel_regularizer is None else 0.5 * self.kernel_regularizer(self.weights[0])


@mutant(
    "regularization.Dense",
    expect=r"^your DenseWithoutReturningThePenalty\.regularization_loss \(.*regularization\.py, line \d+\) "
    r"returned None, which the check could not use \(TypeError: .*\).*a `return` is missing",
)
class DenseWithoutReturningThePenalty(Dense):
    def regularization_loss(self):
        if self.kernel_regularizer is not None:
            self.kernel_regularizer(self.weights[0])  # MISTAKE: computed, never returned


@mutant("regularization.Dense", expect="missing when backward starts from the logits")
class DensePenalisingOnlyThroughTheActivation(Dense):
    """The penalty added in backward; backward_from_logits (the output layer's path) left alone."""

    def backward(self, dout):
        dx = model_module.Dense.backward_from_logits(self, self._backward_activation(dout, self.z))
        if self.kernel_regularizer is not None:
            self.grads = [self.grads[0] + self.kernel_regularizer.gradient(self.weights[0]), self.grads[1]]
        return dx

    def backward_from_logits(self, dz):
        return model_module.Dense.backward_from_logits(self, dz)


@alternative("regularization.Dense")
class DensePenalisingInPlace(Dense):
    def regularization_loss(self):
        if not self.kernel_regularizer:
            return 0.0
        return float(self.kernel_regularizer(self.weights[0]))

    def backward_from_logits(self, dz):
        dx = model_module.Dense.backward_from_logits(self, dz)
        if self.kernel_regularizer:
            self.grads[0] = self.grads[0] + 2.0 * self.kernel_regularizer.l2 * self.weights[0]
        return dx


@mutant("regularization.Conv2D", expect="penalty's gradient is missing from dkernel")
class Conv2DWithoutThePenaltyGradient(Conv2D):
    def backward(self, dout):
        return conv_module.Conv2D.backward(self, dout)


@mutant("regularization.Conv2D", expect="no factor 1/2")
class Conv2DWithAHalfPenalty(Conv2D):
    def regularization_loss(self):
        return 0.0 if self.kernel_regularizer is None else 0.5 * self.kernel_regularizer(self.weights[0])


@alternative("regularization.Conv2D")
class Conv2DPenalisingWithL2Functions(Conv2D):
    def regularization_loss(self):
        reg = self.kernel_regularizer
        return l2_penalty(self.weights[0], reg.l2) if reg is not None else 0.0

    def backward(self, dout):
        dx = conv_module.Conv2D.backward(self, dout)
        reg = self.kernel_regularizer
        if reg is not None:
            dkernel, dbias = self.grads
            self.grads = [dkernel + l2_penalty_grad(self.weights[0], reg.l2), dbias]
        return dx


# ------------------------------------------------------------------ the capstone


@mutant("regularization.overfitting", expect=r"L2 penalty's gradient, 2 \* l2 \* kernel, is missing")
class DenseWhosePenaltyNeverReachesTheGradient(Dense):
    """regularization_loss is right, so the loss fit reports is right at the start; the kernels never feel it."""

    def backward_from_logits(self, dz):
        return model_module.Dense.backward_from_logits(self, dz)


@alternative("regularization.overfitting")
class DenseAddingThePenaltyGradientInBackwardOnly(Dense):
    """The penalty's gradient added wherever backward ends, computed from l2 directly."""

    def backward(self, dout):
        dx = model_module.Dense.backward_from_logits(self, self._backward_activation(dout, self.z))
        self._penalise()
        return dx

    def backward_from_logits(self, dz):
        dx = model_module.Dense.backward_from_logits(self, dz)
        self._penalise()
        return dx

    def _penalise(self):
        if self.kernel_regularizer is not None:
            self.grads = [self.grads[0] + 2 * self.kernel_regularizer.l2 * self.weights[0], self.grads[1]]


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("regularization.batch_norm_forward", expect=r"the variance is the unbiased one")
def batch_norm_forward_unbiased_moving_variance(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    # MISTAKE (PyTorch's habit): normalises with the biased variance but moves the moving variance with
    # the unbiased one, n / (n - 1) times larger. Keras uses the biased variance for both.
    x = np.asarray(x, dtype=float)
    moving_mean, moving_variance = np.asarray(moving_mean, dtype=float), np.asarray(moving_variance, dtype=float)
    if training:
        rows = x.reshape(-1, x.shape[-1])
        mean, variance = rows.mean(axis=0), rows.var(axis=0)
        moving_mean = moving_mean * momentum + mean * (1.0 - momentum)
        moving_variance = moving_variance * momentum + rows.var(axis=0, ddof=1) * (1.0 - momentum)
    else:
        mean, variance = moving_mean, moving_variance
        moving_mean, moving_variance = moving_mean.copy(), moving_variance.copy()
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta, moving_mean, moving_variance


@mutant("regularization.batch_norm_forward", expect=r"epsilon is PyTorch's 1e-5")
def batch_norm_forward_pytorch_epsilon(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-5, training=True
):
    # MISTAKE: PyTorch's default epsilon (1e-5); Keras's BatchNormalization defaults to 1e-3.
    x = np.asarray(x, dtype=float)
    moving_mean, moving_variance = np.asarray(moving_mean, dtype=float), np.asarray(moving_variance, dtype=float)
    if training:
        rows = x.reshape(-1, x.shape[-1])
        mean, variance = rows.mean(axis=0), rows.var(axis=0)
        moving_mean = moving_mean * momentum + mean * (1.0 - momentum)
        moving_variance = moving_variance * momentum + variance * (1.0 - momentum)
    else:
        mean, variance = moving_mean, moving_variance
        moving_mean, moving_variance = moving_mean.copy(), moving_variance.copy()
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta, moving_mean, moving_variance


@mutant("regularization.batch_norm_forward", expect=r"momentum is used as 1 - momentum")
def batch_norm_forward_pytorch_momentum(
    x, gamma, beta, moving_mean, moving_variance, momentum=0.99, epsilon=1e-3, training=True
):
    # MISTAKE: PyTorch's convention, moving = (1 - momentum) * moving + momentum * batch.
    x = np.asarray(x, dtype=float)
    moving_mean, moving_variance = np.asarray(moving_mean, dtype=float), np.asarray(moving_variance, dtype=float)
    if training:
        rows = x.reshape(-1, x.shape[-1])
        mean, variance = rows.mean(axis=0), rows.var(axis=0)
        moving_mean = moving_mean * (1.0 - momentum) + mean * momentum
        moving_variance = moving_variance * (1.0 - momentum) + variance * momentum
    else:
        mean, variance = moving_mean, moving_variance
        moving_mean, moving_variance = moving_mean.copy(), moving_variance.copy()
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta, moving_mean, moving_variance


@mutant("regularization.batch_norm_backward", expect=r"taken over axis 0 only")
def batch_norm_backward_over_the_batch_axis_only(dout, x, gamma, epsilon=1e-3):
    # MISTAKE: statistics over axis 0 alone; for NHWC images every pixel is a sample too.
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    centred = x - x.mean(axis=0)
    inverse = 1.0 / np.sqrt(np.square(centred).mean(axis=0) + epsilon)
    x_hat = centred * inverse
    axes = tuple(range(x.ndim - 1))
    dbeta, dgamma = dout.sum(axis=axes), (dout * x_hat).sum(axis=axes)
    dx = gamma * inverse * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))
    return dx, dgamma, dbeta


@alternative("regularization.batch_norm_backward")
def batch_norm_backward_by_the_chain_rule(dout, x, gamma, epsilon=1e-3):
    dout, x = np.asarray(dout, dtype=float), np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim - 1))
    n = x.size // x.shape[-1]
    mean = x.mean(axis=axes)
    var = ((x - mean) ** 2).mean(axis=axes)
    x_hat = (x - mean) / np.sqrt(var + epsilon)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * (x - mean), axis=axes) * -0.5 * (var + epsilon) ** -1.5
    dmean = np.sum(-dx_hat / np.sqrt(var + epsilon), axis=axes) + dvar * np.mean(-2.0 * (x - mean), axis=axes)
    dx = dx_hat / np.sqrt(var + epsilon) + dvar * 2.0 * (x - mean) / n + dmean / n
    return dx, np.sum(dout * x_hat, axis=axes), np.sum(dout, axis=axes)


# second blind batch: the layers


@mutant("regularization.Dense", expect=r"the bias is not penalised")
class DensePenalisingTheBiasToo(Dense):
    # MISTAKE: the L2 gradient added to the bias as well (kernel_regularizer is for the kernel only).
    def backward_from_logits(self, dz):
        dx = model_module.Dense.backward_from_logits(self, dz)
        if self.kernel_regularizer is not None:
            self.grads = [g + self.kernel_regularizer.gradient(w) for g, w in zip(self.grads, self.weights)]
        return dx


@mutant("regularization.Dropout", expect=r"the layer is active at inference")
class DropoutScaledAtInference(Dropout):
    # MISTAKE: the original (non-inverted) dropout: no scaling in training, x * (1 - rate) at inference.
    def forward(self, x, training=False):
        if self.rng is None:
            self.rng = np.random.default_rng(self.seed)
        x = np.asarray(x, dtype=float)
        if not training:
            self.mask = None
            return x * (1.0 - self.rate)
        self.mask = self.rng.random(x.shape) >= self.rate
        return x * self.mask

    def backward(self, dout):
        dout = np.asarray(dout, dtype=float)
        return dout if self.mask is None else dout * self.mask


# third blind batch


@mutant("regularization.dropout_backward", expect=r"when rate >= 1, return zeros before scaling")
def dropout_backward_without_the_rate_one_guard(dout, mask, rate):
    # MISTAKE: rate = 1 divides by zero: NaN (0 / 0) where Keras gives zeros.
    dout = np.asarray(dout, dtype=float)
    if mask is None:
        return dout.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return dout * mask / (1.0 - rate)
