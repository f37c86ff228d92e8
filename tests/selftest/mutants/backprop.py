"""Wrong and right ways to write katas/backprop.py."""

import numpy as np
from mutation import alternative, mutant

# ------------------------------------------------------------ numerical_gradient


@mutant("backprop.numerical_gradient", expect="one-sided difference")
def numerical_gradient_one_sided(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    base = f(x)
    for index in np.ndindex(x.shape):
        x[index] += eps
        grad[index] = (f(x) - base) / eps
        x[index] -= eps
    return grad


@mutant("backprop.numerical_gradient", expect="one-sided \\(backward\\) difference")
def numerical_gradient_backward_difference(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    base = f(x)
    for index in np.ndindex(x.shape):
        x[index] -= eps
        grad[index] = (base - f(x)) / eps
        x[index] += eps
    return grad


@mutant("backprop.numerical_gradient", expect="2 \\* eps apart")
def numerical_gradient_divides_by_eps(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = f(x)
        x[index] = original - eps
        minus = f(x)
        x[index] = original
        grad[index] = (plus - minus) / eps
    return grad


@mutant("backprop.numerical_gradient", expect="changed its input `x` in place")
def numerical_gradient_on_the_callers_array(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        x[index] += eps  # nudges the caller's array...
        plus = f(x)
        x[index] -= 2 * eps
        minus = f(x)  # ...and leaves it at x - eps
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@mutant("backprop.numerical_gradient", expect="put x\\[index\\] back")
def numerical_gradient_without_undoing_nudges(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        x[index] += eps
        plus = f(x)
        x[index] -= 2 * eps  # never restored: later slopes see this element at x - eps
        minus = f(x)
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@mutant("backprop.numerical_gradient", expect="nudge by the eps you are given")
def numerical_gradient_with_fixed_eps(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    h = 1e-6
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = f(x)
        x[index] = original - h
        minus = f(x)
        x[index] = original
        grad[index] = (plus - minus) / (2 * h)
    return grad


@alternative("backprop.numerical_gradient")
def numerical_gradient_with_fresh_copies(f, x, eps=1e-6):
    x = np.asarray(x, dtype=float)
    flat_grad = np.empty(x.size)
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = eps
        step = step.reshape(x.shape)
        flat_grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return flat_grad.reshape(x.shape)


# ---------------------------------------------------------------- dense_backward


@mutant("backprop.dense_backward", expect="mean of dout over the batch")
def dense_backward_mean_bias(dout, x, kernel):
    return dout @ kernel.T, x.T @ dout, dout.mean(axis=0)


@mutant("backprop.dense_backward", expect="batch dimension")
def dense_backward_bias_not_summed(dout, x, kernel):
    return dout @ kernel.T, x.T @ dout, dout


@mutant("backprop.dense_backward", expect="dout.T @ x")
def dense_backward_kernel_grad_transposed(dout, x, kernel):
    return dout @ kernel.T, dout.T @ x, dout.sum(axis=0)


@mutant("backprop.dense_backward", expect="dout @ kernel.T")
def dense_backward_kernel_not_transposed(dout, x, kernel):
    return dout @ kernel, x.T @ dout, dout.sum(axis=0)


@mutant("backprop.dense_backward", expect="divided by the batch size")
def dense_backward_averaged_kernel_grad(dout, x, kernel):
    return dout @ kernel.T, x.T @ dout / len(x), dout.sum(axis=0)


@alternative("backprop.dense_backward")
def dense_backward_with_einsum_and_loops(dout, x, kernel):
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    dx = np.einsum("bu,iu->bi", dout, kernel)
    dkernel = np.zeros_like(kernel)
    for b in range(len(x)):  # one outer product per sample, added up
        dkernel += np.outer(x[b], dout[b])
    return dx, dkernel, np.einsum("bu->u", dout)


# ---------------------------------------------------------------- glorot_uniform


@mutant("backprop.glorot_uniform", expect="normally distributed")
def glorot_normal_instead(shape, rng):
    field = int(np.prod(shape[:-2])) if len(shape) >= 2 else 1
    fan_in, fan_out = (shape[-2] * field, shape[-1] * field) if len(shape) >= 2 else (shape[0], shape[0])
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


@mutant("backprop.glorot_uniform", expect="receptive field")
def glorot_uniform_without_receptive_field(shape, rng):
    fan_in, fan_out = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


@mutant("backprop.glorot_uniform", expect="fan_in only")
def glorot_uniform_with_fan_in_only(shape, rng):
    field = int(np.prod(shape[:-2])) if len(shape) >= 2 else 1
    fan_in, fan_out = (shape[-2] * field, shape[-1] * field) if len(shape) >= 2 else (shape[0], shape[0])
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


@mutant("backprop.glorot_uniform", expect="standard deviation")
def glorot_uniform_with_std_as_limit(shape, rng):
    field = int(np.prod(shape[:-2])) if len(shape) >= 2 else 1
    fan_in, fan_out = (shape[-2] * field, shape[-1] * field) if len(shape) >= 2 else (shape[0], shape[0])
    limit = np.sqrt(2.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


@mutant("backprop.glorot_uniform", expect="draw from the `rng` argument")
def glorot_uniform_from_global_numpy(shape, rng):
    field = int(np.prod(shape[:-2])) if len(shape) >= 2 else 1
    fan_in, fan_out = (shape[-2] * field, shape[-1] * field) if len(shape) >= 2 else (shape[0], shape[0])
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.uniform(-limit, limit, size=shape)


@alternative("backprop.glorot_uniform")
def glorot_uniform_from_unit_interval(shape, rng):
    shape = tuple(shape)
    receptive_field = 1
    for dim in shape[:-2]:
        receptive_field *= dim
    if len(shape) >= 2:
        fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    else:
        fan_in = fan_out = shape[0]
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return limit * (2.0 * rng.random(shape) - 1.0)


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("backprop.glorot_uniform", expect=r"the receptive field is missing")
def glorot_uniform_without_receptive_field(shape, rng):
    # MISTAKE: the fans of a convolution kernel (kh, kw, in, out) taken as in and out alone.
    shape = tuple(shape)
    fan_in, fan_out = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


@mutant("backprop.numerical_gradient", expect=r"one-sided difference")
def numerical_gradient_forward_difference(f, x, eps=1e-6):
    # MISTAKE: one-sided differences: an O(eps) error instead of O(eps**2).
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    base = float(f(x))
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        grad[index] = (float(f(x)) - base) / eps
        x[index] = original
    return grad


@mutant("backprop.dense_backward", expect=r"dbias is the mean of dout")
def dense_backward_bias_mean_over_batch(dout, x, kernel):
    # MISTAKE: the bias gradient averaged over the batch instead of summed.
    dout, x, kernel = (np.asarray(a, dtype=float) for a in (dout, x, kernel))
    return dout @ kernel.T, x.T @ dout, dout.mean(axis=0)


@mutant("backprop.numerical_gradient", expect=r"written into the integer array itself")
def numerical_gradient_probes_the_callers_array(f, x, eps=1e-6):
    # MISTAKE: probes x itself (no copy); restores each entry, but f sees the caller's array mutated
    # and an integer array loses the probes.
    grad = np.zeros(np.shape(x), dtype=float)
    for index in np.ndindex(np.shape(x)):
        original = x[index]
        x[index] = original + eps
        plus = float(f(x))
        x[index] = original - eps
        minus = float(f(x))
        x[index] = original
        grad[index] = (plus - minus) / (2.0 * eps)
    return grad


@alternative("backprop.numerical_gradient")
def numerical_gradient_with_unit_vectors(f, x, eps=1e-6):
    x = np.asarray(x, dtype=float)
    flat = np.empty(x.size)
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = eps
        step = step.reshape(x.shape)
        flat[i] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return flat.reshape(x.shape)
