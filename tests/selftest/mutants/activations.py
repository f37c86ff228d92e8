"""Wrong and right ways to write katas/activations.py."""

import numpy as np
from mutation import alternative, mutant

# ------------------------------------------------------------------ relu


@mutant("activations.relu", expect="changed its input `x` in place")
def relu_zeroing_negatives_in_place(x):
    x = np.asarray(x, dtype=float)  # no copy for a float64 array: this is the caller's array
    x[x < 0] = 0
    return x


@mutant("activations.relu", expect="np.abs")
def relu_as_abs(x):
    return np.abs(np.asarray(x, dtype=float))


@mutant("activations.relu", expect="mask")
def relu_returning_the_mask(x):
    return np.asarray(x) > 0


@alternative("activations.relu")
def relu_by_masking_a_copy(x):
    out = np.array(x, dtype=float)
    out[out < 0] = 0.0
    return out


@alternative("activations.relu")
def relu_as_x_times_mask(x):
    x = np.asarray(x, dtype=float)
    return x * (x > 0)


# --------------------------------------------------------------- sigmoid


@alternative("activations.sigmoid")
def sigmoid_textbook(x):
    # The overflow policy: exp(1000) overflows with a warning, 1 / inf is exactly 0.0: right values pass.
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


@alternative("activations.sigmoid")
def sigmoid_where_with_unsafe_branches(x):
    # The unused branch is NaN at x = 1000 (with a warning); np.where drops it, so the values are right.
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-x)), np.exp(x) / (1.0 + np.exp(x)))


@mutant("activations.sigmoid", expect="inf / inf = NaN for x > 709")
def sigmoid_exp_over_one_plus_exp(x):
    e = np.exp(np.asarray(x, dtype=float))
    return e / (1.0 + e)


@mutant("activations.sigmoid", expect="cancels to 0.0 in the tail: sigmoid\\(-50\\) is 1.9e-22")
def sigmoid_with_tanh(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


@mutant("activations.sigmoid", expect="returned integers .*astype\\(int\\)")
def sigmoid_cast_to_int(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(int)


@mutant("activations.sigmoid", expect="complex numbers")
def sigmoid_through_complex_exp(x):
    x = np.asarray(x, dtype=complex)
    e = np.exp(-np.abs(x.real)) + 0j
    return np.where(x.real >= 0, 1 / (1 + e), e / (1 + e)) * np.exp(1e-3j * x.real)


@mutant("activations.sigmoid", expect="float16 values, expected float64.*3 significant digits")
def sigmoid_in_float16(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float16)


@mutant("activations.sigmoid", expect="object array \\(dtype=object\\)")
def sigmoid_as_object_array(x):
    import math

    x = np.asarray(x, dtype=float)
    out = np.empty(x.shape, dtype=object)
    for i, v in np.ndenumerate(x):
        out[i] = 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))
    return out


@mutant("activations.sigmoid", expect="your code raised AssertionError at .*activations.py:\\d+ .*: probabilities")
def sigmoid_with_a_learner_assert(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    assert np.all((out > 0) & (out < 1)), "probabilities must lie in (0, 1)"  # false at x = 1000: out is 1.0
    return out


@mutant("activations.sigmoid", expect="sign of the exponent")
def sigmoid_sign_flipped(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x < 0, 1.0 / (1.0 + e), e / (1.0 + e))


@mutant("activations.sigmoid", expect="float32")
def sigmoid_in_float32(x):
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)


@alternative("activations.sigmoid")
def sigmoid_with_scipy_expit(x):
    from scipy.special import expit

    return expit(np.asarray(x, dtype=float))


@alternative("activations.sigmoid")
def sigmoid_with_logaddexp(x):
    # log sigmoid(x) = -log(1 + exp(-x)) = -logaddexp(0, -x), computed without overflow.
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


@alternative("activations.sigmoid")
def sigmoid_with_a_loop(x):
    import math

    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    for i, v in np.ndenumerate(x):
        out[i] = 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))
    return out


# ------------------------------------------------------------------ tanh


@mutant("activations.tanh", expect="is inf / inf = NaN beyond \\|x\\| = 710: use np.tanh")
def tanh_textbook(x):
    x = np.asarray(x, dtype=float)
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


@mutant("activations.tanh", expect="2 \\* sigmoid\\(2x\\) - 1")
def tanh_from_sigmoid_without_the_2x(x):
    return 2.0 * sigmoid(x) - 1.0


@alternative("activations.tanh")
def tanh_from_stable_sigmoid(x):
    return 2.0 * sigmoid(2.0 * np.asarray(x, dtype=float)) - 1.0


@alternative("activations.tanh")
def tanh_two_over_one_plus_exp(x):
    # exp(2000) overflows at x = -1000 (a warning), 2 / inf is 0.0 and the value, -1, is exact.
    return 2.0 / (1.0 + np.exp(-2.0 * np.asarray(x, dtype=float))) - 1.0


@alternative("activations.tanh")
def tanh_with_expm1(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(-2.0 * np.abs(x))
    return np.sign(x) * -np.expm1(-2.0 * np.abs(x)) / (1.0 + e)


# --------------------------------------------------------------- softmax


@mutant("activations.softmax", expect="rows of your softmax sum to .*, not 1: normalise along axis=-1")
def softmax_over_axis_0(x, axis=-1):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@mutant("activations.softmax", expect="exp\\(1000\\) is inf and inf / inf is NaN: subtract each row's max")
def softmax_without_max_shift(x, axis=-1):
    e = np.exp(np.asarray(x, dtype=float))
    return e / e.sum(axis=axis, keepdims=True)


@mutant("activations.softmax", expect="ignore the `axis` argument")
def softmax_ignoring_axis(x, axis=-1):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@mutant("activations.softmax", expect="sum to .*, not 1")
def softmax_dividing_by_the_total(x, axis=-1):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max())
    return e / e.sum()


@mutant("activations.softmax", expect="max of the whole array, not of each row")
def softmax_shifting_by_the_global_max(x, axis=-1):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - x.max())  # one shift for the whole batch
    return e / e.sum(axis=axis, keepdims=True)


@mutant("activations.softmax", expect="changed its input `x` in place")
def softmax_shifting_in_place(x, axis=-1):
    x = np.asarray(x, dtype=float)
    x -= x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


@alternative("activations.softmax")
def softmax_with_logsumexp(x, axis=-1):
    from scipy.special import logsumexp

    x = np.asarray(x, dtype=float)
    return np.exp(x - logsumexp(x, axis=axis, keepdims=True))


@alternative("activations.softmax")
def softmax_row_by_row(x, axis=-1):
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        e = np.exp(x[index] - max(x[index]))
        out[index] = e / e.sum()
    return np.moveaxis(out, -1, axis)


# ------------------------------------------------------------ leaky_relu


@mutant("activations.leaky_relu", expect="0.01 \\(PyTorch's default\\)")
def leaky_relu_pytorch_default(x, negative_slope=0.01):
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, x, negative_slope * x)


@mutant("activations.leaky_relu", expect="ignored negative_slope")
def leaky_relu_hard_coded_slope(x, negative_slope=0.2):
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, x, 0.2 * x)


@alternative("activations.leaky_relu")
def leaky_relu_with_maximum(x, negative_slope=0.2):
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0.0) + negative_slope * np.minimum(x, 0.0)


# ------------------------------------------------------------------- elu


@mutant("activations.elu", expect="watch the brackets")
def elu_alpha_exp_minus_one(x, alpha=1.0):
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, alpha * np.exp(np.minimum(x, 0.0)) - 1.0)


@mutant("activations.elu", expect="ignored alpha")
def elu_ignoring_alpha(x, alpha=1.0):
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


@alternative("activations.elu")
def elu_with_exp_minus_one(x, alpha=1.0):
    # The unused branch overflows at x = 1000 (a warning, allowed by the policy); np.where drops it.
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, alpha * (np.exp(x) - 1.0))


@mutant("activations.elu", expect="NaN")
def elu_with_a_nan_branch(x, alpha=1.0):
    x = np.asarray(x, dtype=float)
    e = np.exp(x)
    return np.where(x > 0, x, alpha * (e - 1.0)) * (e / e)  # inf / inf is NaN at x = 1000


# ------------------------------------------------------------------ gelu


@mutant("activations.gelu", expect="tanh approximation")
def gelu_tanh_approximation(x):
    x = np.asarray(x, dtype=float)
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


@mutant("activations.gelu", expect="x / sqrt\\(2\\), not x")
def gelu_erf_without_sqrt2(x):
    x = np.asarray(x, dtype=float)
    return 0.5 * x * (1.0 + erf(x))


@alternative("activations.gelu")
def gelu_with_normal_cdf(x):
    from scipy.stats import norm

    x = np.asarray(x, dtype=float)
    return x * norm.cdf(x)


@alternative("activations.gelu")
def gelu_with_erfc(x):
    from scipy.special import erfc

    x = np.asarray(x, dtype=float)
    return 0.5 * x * erfc(-x / np.sqrt(2.0))


@alternative("activations.gelu")
def gelu_with_math_erf_loop(x):
    import math

    x = np.asarray(x, dtype=float)
    return np.vectorize(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))), otypes=[float])(x)


# ------------------------------------------------------------------ silu


@alternative("activations.silu")
def silu_textbook(x):
    # exp(1000) overflows with a warning at x = -1000, and -1000 / inf is -0.0: right, so it passes.
    x = np.asarray(x, dtype=float)
    return x / (1.0 + np.exp(-x))


@mutant("activations.silu", expect="returned (NaN|inf) at index")
def silu_exp_over_one_plus_exp(x):
    x = np.asarray(x, dtype=float)
    return x * np.exp(x) / (1.0 + np.exp(x))


@mutant("activations.silu", expect="returned sigmoid\\(x\\)")
def silu_forgetting_x(x):
    return sigmoid(x)


@alternative("activations.silu")
def silu_with_expit(x):
    from scipy.special import expit

    x = np.asarray(x, dtype=float)
    return x * expit(x)


# ------------------------------------------------------------------ softplus


@mutant("activations.softplus", expect="returned (NaN|inf) at index")
def softplus_as_written(x):
    x = np.asarray(x, dtype=float)
    return np.log(1 + np.exp(x))


@mutant("activations.softplus", expect=r"for very negative x, 1 \+ exp\(x\) .*rounds to 1")
def softplus_guarding_only_the_top(x):
    x = np.asarray(x, dtype=float)
    return np.where(x > 30, x, np.log(1 + np.exp(np.minimum(x, 30))))


@mutant("activations.softplus", expect=r"in the stable split max\(x, 0\) \+ log\(1 \+ exp\(-\|x\|\)\)\) rounds to 1")
def softplus_stable_split_with_log(x):
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0) + np.log(1 + np.exp(-np.abs(x)))  # MISTAKE: log, not log1p: the tail is lost


@mutant("activations.softplus", expect="the sign is flipped")
def softplus_of_minus_x(x):
    x = np.asarray(x, dtype=float)
    return np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))


@mutant("activations.softplus", expect="that is ReLU")
def softplus_as_relu(x):
    return np.maximum(np.asarray(x, dtype=float), 0.0)


@alternative("activations.softplus")
def softplus_with_logaddexp(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=float))


@alternative("activations.softplus")
def softplus_piecewise(x):
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    high = x > 0
    out[high] = x[high] + np.log1p(np.exp(-x[high]))
    out[~high] = np.log1p(np.exp(x[~high]))
    return out


# ---------------------------------------------------------- relu_backward


@mutant("activations.relu_backward", expect="gated on dout > 0")
def relu_backward_gating_on_dout(dout, x):
    dout = np.asarray(dout, dtype=float)
    return dout * (dout > 0)


@mutant("activations.relu_backward", expect="x >= 0")
def relu_backward_at_zero_passes(dout, x):
    return np.asarray(dout, dtype=float) * (np.asarray(x) >= 0)


@mutant("activations.relu_backward", expect="forgot to multiply by dout")
def relu_backward_without_dout(dout, x):
    return (np.asarray(x) > 0).astype(float)


@mutant("activations.relu_backward", expect="changed its input `dout` in place")
def relu_backward_in_place(dout, x):
    dout[np.asarray(x) <= 0] = 0.0
    return dout


@alternative("activations.relu_backward")
def relu_backward_with_where(dout, x):
    return np.where(np.asarray(x) > 0, np.asarray(dout, dtype=float), 0.0)


# ------------------------------------------------------- sigmoid_backward


@mutant("activations.sigmoid_backward", expect="x \\* \\(1 - x\\)")
def sigmoid_backward_on_the_input(dout, x):
    x = np.asarray(x, dtype=float)
    return np.asarray(dout, dtype=float) * x * (1.0 - x)


@mutant("activations.sigmoid_backward", expect="forgot to multiply by dout")
def sigmoid_backward_without_dout(dout, x):
    s = sigmoid(x)
    return s * (1.0 - s)


@alternative("activations.sigmoid_backward")
def sigmoid_backward_with_textbook_sigmoid(dout, x):
    s = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))
    return np.asarray(dout, dtype=float) * s * (1.0 - s)


@mutant("activations.sigmoid_backward", expect="derivative at the output")
def sigmoid_backward_at_the_output(dout, x):
    s = sigmoid(sigmoid(x))  # the derivative formula applied to a = sigmoid(x) instead of z = x
    return np.asarray(dout, dtype=float) * s * (1.0 - s)


@alternative("activations.sigmoid_backward")
def sigmoid_backward_with_exp_form(dout, x):
    # s (1 - s) = e / (1 + e)**2 with e = exp(-|x|): symmetric in x, never overflows.
    e = np.exp(-np.abs(np.asarray(x, dtype=float)))
    return np.asarray(dout, dtype=float) * e / (1.0 + e) ** 2


# ---------------------------------------------------------- tanh_backward


@mutant("activations.tanh_backward", expect="1 - x\\*\\*2")
def tanh_backward_on_the_input(dout, x):
    x = np.asarray(x, dtype=float)
    return np.asarray(dout, dtype=float) * (1.0 - x**2)


@mutant("activations.tanh_backward", expect="squared")
def tanh_backward_not_squared(dout, x):
    return np.asarray(dout, dtype=float) * (1.0 - np.tanh(np.asarray(x, dtype=float)))


@mutant("activations.tanh_backward", expect="derivative at the output")
def tanh_backward_at_the_output(dout, x):
    t = np.tanh(np.tanh(np.asarray(x, dtype=float)))
    return np.asarray(dout, dtype=float) * (1.0 - t**2)


@alternative("activations.tanh_backward")
def tanh_backward_from_two_over_one_plus_exp(dout, x):
    t = 2.0 / (1.0 + np.exp(-2.0 * np.asarray(x, dtype=float))) - 1.0  # overflows (a warning) at x = -1000
    return np.asarray(dout, dtype=float) * (1.0 - t**2)


@alternative("activations.tanh_backward")
def tanh_backward_with_sech(dout, x):
    # 1 - tanh(x)**2 = sech(x)**2 = 4 e / (1 + e)**2 with e = exp(-2|x|): no overflow.
    e = np.exp(-2.0 * np.abs(np.asarray(x, dtype=float)))
    return np.asarray(dout, dtype=float) * 4.0 * e / (1.0 + e) ** 2


@alternative("activations.tanh_backward")
def tanh_backward_via_sigmoid(dout, x):
    # tanh'(x) = 4 s (1 - s) with s = sigmoid(2x).
    s = sigmoid(2.0 * np.asarray(x, dtype=float))
    return np.asarray(dout, dtype=float) * 4.0 * s * (1.0 - s)


# ------------------------------------------------------- softmax_backward


@mutant("activations.softmax_backward", expect="only the diagonal of the Jacobian")
def softmax_backward_diagonal_only(dout, x, axis=-1):
    s = softmax(x, axis=axis)
    return np.asarray(dout, dtype=float) * s * (1.0 - s)


@mutant("activations.softmax_backward", expect="ignored the `axis` argument")
def softmax_backward_ignoring_axis(dout, x, axis=-1):
    s = softmax(x)
    dout = np.asarray(dout, dtype=float)
    return s * (dout - np.sum(dout * s, axis=-1, keepdims=True))


@mutant("activations.softmax_backward", expect="not over the whole array")
def softmax_backward_summing_everything(dout, x, axis=-1):
    s = softmax(x, axis=axis)
    dout = np.asarray(dout, dtype=float)
    return s * (dout - np.sum(dout * s))


@mutant("activations.softmax_backward", expect="softmax inside your backward pass is not stable")
def softmax_backward_with_an_unstable_softmax(dout, x, axis=-1):
    e = np.exp(np.asarray(x, dtype=float))
    s = e / e.sum(axis=axis, keepdims=True)
    dout = np.asarray(dout, dtype=float)
    return s * (dout - np.sum(dout * s, axis=axis, keepdims=True))


@alternative("activations.softmax_backward")
def softmax_backward_with_the_jacobian(dout, x, axis=-1):
    s = np.moveaxis(softmax(x, axis=axis), axis, -1)
    d = np.moveaxis(np.asarray(dout, dtype=float), axis, -1)
    # J[..., j, k] = s_j (delta_jk - s_k); dx_k = sum_j d_j J[..., j, k].
    jacobian = s[..., :, None] * (np.eye(s.shape[-1]) - s[..., None, :])
    return np.moveaxis(np.einsum("...j,...jk->...k", d, jacobian), -1, axis)


# ---- blind sweep (issue 24, round 3): written from the answer key, before reading the kata's tests


@mutant("activations.leaky_relu", expect=r"0\.01 \(PyTorch's default\)")
def leaky_relu_pytorch_default_slope(x, negative_slope=0.01):
    # MISTAKE: PyTorch's default slope (0.01); Keras's LeakyReLU defaults to 0.2.
    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, x, negative_slope * x)


@alternative("activations.elu")
def elu_with_exp_minus_one(x, alpha=1.0):
    # Written as a mistake in the blind sweep (exp(x) - 1 loses the digits of a tiny x that expm1 keeps),
    # but TensorFlow's float64 Elu computes exp(x) - 1 itself (elu(-1e-15) = -9.992e-16, measured): Keras
    # agrees with this form, and the tests accept both.
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0.0)) - 1.0))


@mutant("activations.softmax_backward", expect=r"ignored the `axis` argument")
def softmax_backward_ignores_axis(dout, x, axis=-1):
    # MISTAKE: the axis argument is accepted but the sums always run over the last axis.
    s = softmax(x)
    dout = np.asarray(dout, dtype=float)
    return s * (dout - np.sum(dout * s, axis=-1, keepdims=True))


@mutant("activations.relu_backward", expect=r"use x > 0, not x >= 0")
def relu_backward_passes_at_zero(dout, x):
    # MISTAKE: x >= 0: the gradient also passes where the input is exactly 0 (TF passes 0 there).
    return np.asarray(dout, dtype=float) * (np.asarray(x) >= 0)


@alternative("activations.softmax")
def softmax_through_logsumexp(x, axis=-1):
    from scipy.special import logsumexp

    x = np.asarray(x, dtype=float)
    return np.exp(x - logsumexp(x, axis=axis, keepdims=True))
