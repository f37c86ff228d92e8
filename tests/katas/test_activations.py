"""Kata tests for katas/activations.py, checked against TensorFlow/Keras.

Forward values are compared with ``keras.activations.*`` in float64
(``rtol=1e-6``); backward passes with ``tf.GradientTape`` vector-Jacobian
products (``rtol=1e-5``), always with a non-trivial upstream gradient ``dout``
(random, with negative entries), because with ``dout = ones`` several wrong
answers look right (softmax's true gradient is then exactly zero).
"""

import numpy as np
import pytest

from dojo.testkit.checks import GRADIENT_RTOL, as_array, assert_close, call, call_noting_warnings, check, fail, show
from dojo.testkit.special import erf, expit
from reference import activations as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

_LARGE = (-1000.0, -710.0, -709.0, -50.0, 0.0, 50.0, 709.0, 710.0, 1000.0)


def _large():
    """Magnitudes where exp() overflows (beyond +-709.78). A fresh array each time, so that a
    learner's function that changes its input cannot change what later tests receive."""
    return np.array(_LARGE)


def _random(shape, seed, scale=3.0):
    return scale * np.random.default_rng(seed).normal(size=shape)


def call_stable(function, *args, **kwargs):
    """Call the learner's function at magnitudes where exp() overflows; return (result, note).

    The course's overflow policy (docs/CONTRIBUTING.md), the same for every kata:
    NumPy's "RuntimeWarning: overflow encountered in exp" is allowed when the
    values that come back are finite and right (``np.where`` computes both
    branches; ``1 / (1 + exp(-x))`` is exactly 0.0 at x = -1000). NaN or inf where
    the answer is finite fails, and the note names the warning that came first.
    """
    return call_noting_warnings(function, *args, **kwargs)


def _elementwise_mistakes(x):
    return {"you returned True/False (a mask); return the values themselves": (x > 0).astype(float)}


# ------------------------------------------------------------------ kata activations.relu relu


def _relu_mistakes(x):
    return {
        **_elementwise_mistakes(x),
        "that is np.abs(x): negative inputs must become 0, not positive": np.abs(x),
        "that is min(x, 0): ReLU keeps the positive part, max(x, 0)": np.minimum(x, 0.0),
    }


@pytest.mark.kata("activations.relu")
def test_relu_seed_examples(kata):
    x = np.array([5.0, -3.0])
    got = call(kata, x)
    assert_close(got, [5.0, 0.0], call="relu([5.0, -3.0])", mistakes=_relu_mistakes(x))  # ReLU(5)=5, ReLU(-3)=0
    assert_close(got, ref.relu(x), call="relu([5.0, -3.0])")


@pytest.mark.kata("activations.relu")
@pytest.mark.parametrize("shape, seed", [((1,), 0), ((4, 7), 1), ((2, 3, 5), 2)])
def test_relu_random(kata, shape, seed):
    x = _random(shape, seed)
    got = call(kata, x)
    assert_close(got, ref.relu(x), call=f"relu(<random {shape}>)", mistakes=_relu_mistakes(x))


@pytest.mark.kata("activations.relu")
def test_relu_zeros_and_large_values(kata):
    large = _large()
    for x in (np.zeros((2, 3)), large):
        got = call(kata, x)
        assert_close(got, ref.relu(x), call=f"relu({show(x)})", mistakes=_relu_mistakes(x))


# --------------------------------------------------------------- kata activations.sigmoid sigmoid


def _sigmoid_mistakes(x):
    return {
        "the sign of the exponent is flipped: sigmoid(x) = 1 / (1 + exp(-x)), so sigmoid(5) is near 1": expit(-x),
        "that is tanh(x), not the sigmoid": np.tanh(x),
    }


#: The sigmoid's tail is compared relatively: sigmoid(-50) is 1.9e-22, not 0, and a
#: loss that takes log(sigmoid(x)) downstream needs that value. (TensorFlow itself
#: flushes below exp(-709) to 0, so values under 1e-300 count as 0.)
TAIL_ATOL = 1e-300


def _sigmoid_tail_mistakes(x):
    with np.errstate(all="ignore"):
        return {
            **_sigmoid_mistakes(x),
            "0.5 * (1 + tanh(x / 2)) is exact near 0 but cancels to 0.0 in the tail: sigmoid(-50) is 1.9e-22, "
            "not 0, and log(sigmoid(x)) in a loss needs it. For x < 0 use exp(x) / (1 + exp(x))": 0.5
            * (1.0 + np.tanh(x / 2.0)),
            "exp(x) / (1 + exp(x)) is inf / inf = NaN for x > 709: use it for x < 0 only, and "
            "1 / (1 + exp(-x)) for x >= 0 (np.where, or split by the sign)": np.exp(x) / (1.0 + np.exp(x)),
        }


@pytest.mark.kata("activations.sigmoid")
def test_sigmoid_seed_examples(kata):
    x = np.array([0.0, 5.0, -5.0])
    got = call(kata, x)
    text = "sigmoid([0.0, 5.0, -5.0])"
    assert_close(got, ref.sigmoid(x), call=text, mistakes=_sigmoid_mistakes(x))
    # The seed's rounded values: sigmoid(0) = 0.5, sigmoid(5) ~ 0.99, sigmoid(-5) ~ 0.01.
    check(
        np.allclose(np.round(got, 2), [0.5, 0.99, 0.01]),
        f"{text} returned {show(got)}; expected about [0.5, 0.99, 0.01]",
    )


@pytest.mark.kata("activations.sigmoid")
@pytest.mark.parametrize("value", [-1000.0, 1000.0])
def test_sigmoid_no_overflow_at_1000(kata, value):
    x = np.array([value])
    got, note = call_stable(kata, x)
    assert_close(got, ref.sigmoid(x), call=f"sigmoid([{value:g}])", mistakes=_sigmoid_tail_mistakes(x), note=note)


@pytest.mark.kata("activations.sigmoid")
def test_sigmoid_large_magnitudes(kata):
    large = _large()
    got, note = call_stable(kata, large)
    assert_close(
        got,
        ref.sigmoid(large),
        call=f"sigmoid({show(large)})",
        mistakes=_sigmoid_tail_mistakes(large),
        atol=TAIL_ATOL,
        note=note,
    )


@pytest.mark.kata("activations.sigmoid")
def test_sigmoid_tail_is_relatively_exact(kata):
    x = np.array([-40.0, -30.0, -20.0, 20.0])
    got, note = call_stable(kata, x)
    assert_close(
        got,
        ref.sigmoid(x),
        call="sigmoid([-40, -30, -20, 20]) (tails compared relatively)",
        mistakes=_sigmoid_tail_mistakes(x),
        atol=TAIL_ATOL,
        note=note,
    )


@pytest.mark.kata("activations.sigmoid")
@pytest.mark.parametrize("shape, seed", [((1,), 3), ((5, 4), 4), ((2, 3, 6), 5)])
def test_sigmoid_random(kata, shape, seed):
    x = _random(shape, seed)
    got = call(kata, x)
    assert_close(got, ref.sigmoid(x), call=f"sigmoid(<random {shape}>)", mistakes=_sigmoid_mistakes(x))


# ------------------------------------------------------------------ kata activations.tanh tanh


def _tanh_mistakes(x):
    return {
        "that is the sigmoid; tanh goes from -1 to 1 and tanh(0) = 0": expit(x),
        "tanh(x) = 2 * sigmoid(2x) - 1: you wrote 2 * sigmoid(x) - 1": 2 * expit(x) - 1,
    }


def _tanh_large_mistakes(x):
    with np.errstate(all="ignore"):
        textbook = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    return {
        **_tanh_mistakes(x),
        "(exp(x) - exp(-x)) / (exp(x) + exp(-x)) is inf / inf = NaN beyond |x| = 710: use np.tanh, "
        "or 2 * sigmoid(2x) - 1 with your stable sigmoid": textbook,
    }


@pytest.mark.kata("activations.tanh")
@pytest.mark.parametrize("shape, seed", [((1,), 6), ((4, 3), 7), ((3, 2, 5), 8)])
def test_tanh_random(kata, shape, seed):
    x = _random(shape, seed)
    got = call(kata, x)
    assert_close(got, ref.tanh(x), call=f"tanh(<random {shape}>)", mistakes=_tanh_mistakes(x))


@pytest.mark.kata("activations.tanh")
def test_tanh_large_magnitudes_and_zero(kata):
    large = _large()
    got, note = call_stable(kata, large)
    assert_close(got, ref.tanh(large), call=f"tanh({show(large)})", mistakes=_tanh_large_mistakes(large), note=note)


# --------------------------------------------------------------- kata activations.softmax softmax


def _np_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _check_sums_to_one(got, x, axis, text):
    """Name the wrong-axis mistake before comparing values."""
    array = as_array(got, text)
    check(
        array.shape == x.shape,
        f"{text} returned shape {array.shape}, expected {x.shape}: softmax keeps the shape of its input",
    )
    sums = np.sum(array, axis=axis)
    if np.all(np.isfinite(sums)) and not np.allclose(sums, 1.0, rtol=1e-6):
        worst = float(sums.flat[int(np.argmax(np.abs(sums - 1.0)))])
        what = "rows" if axis in (-1, x.ndim - 1) else f"slices along axis={axis}"
        hint = "" if axis in (-1, x.ndim - 1) else " (did you ignore the `axis` argument?)"
        fail(
            f"{text}: the {what} of your softmax sum to {worst:.3g}, not 1: normalise along axis={axis}, "
            f"i.e. divide by np.sum(e, axis={axis}, keepdims=True){hint}"
        )


def _softmax_mistakes(x, axis):
    mistakes = {
        "you divided by the sum over the whole array; each row must sum to 1 on its own": np.exp(x) / np.exp(x).sum()
    }
    if axis not in (-1, x.ndim - 1):
        mistakes["you ignored the `axis` argument and normalised along the last axis"] = _np_softmax(x, -1)
    return mistakes


@pytest.mark.kata("activations.softmax")
def test_softmax_seed_example(kata):
    x = np.array([2.0, 1.0, 0.1])
    got = call(kata, x)
    text = "softmax([2.0, 1.0, 0.1])"
    assert_close(
        got,
        ref.softmax(x),
        call=text,
        mistakes={
            "you returned exp(x) without dividing by the sum": np.exp(x),
            "you divided x by its sum; exponentiate first": x / x.sum(),
        },
    )
    check(
        np.allclose(np.round(got, 2), [0.66, 0.24, 0.10]),
        f"{text} returned {show(got)}; the seed says about [0.66, 0.24, 0.10]",
    )


@pytest.mark.kata("activations.softmax")
@pytest.mark.parametrize("shape, seed", [((1, 5), 9), ((4, 3), 10), ((32, 10), 11)])
def test_softmax_batch_rows_sum_to_one(kata, shape, seed):
    x = _random(shape, seed)
    text = f"softmax(<random batch {shape}>)"
    got = call(kata, x)
    _check_sums_to_one(got, x, -1, text)
    assert_close(got, ref.softmax(x), call=text, mistakes=_softmax_mistakes(x, -1))


@pytest.mark.kata("activations.softmax")
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_along_another_axis(kata, axis):
    x = _random((2, 3, 4), 12 + axis)
    text = f"softmax(<random (2, 3, 4)>, axis={axis})"
    got = call(kata, x, axis=axis)
    _check_sums_to_one(got, x, axis, text)
    assert_close(got, ref.softmax(x, axis=axis), call=text, mistakes=_softmax_mistakes(x, axis))


@pytest.mark.kata("activations.softmax")
def test_softmax_no_overflow_at_1000(kata):
    x = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1000.0, -1000.0], [1000.0, -1000.0, 0.0]])
    text = "softmax([[1000, 999, 998], [-1000, -1000, -1000], [1000, -1000, 0]])"
    got, note = call_stable(kata, x)
    assert_close(got, ref.softmax(x), call=text, note=note, mistakes=_softmax_large_mistakes(x))


def _softmax_large_mistakes(x):
    with np.errstate(all="ignore"):
        e = np.exp(x)
        shifted = np.exp(x - x.max())
        return {
            "exp(1000) is inf and inf / inf is NaN: subtract each row's max before exp "
            "(softmax(x) = softmax(x - c) for any c per row)": e / e.sum(axis=-1, keepdims=True),
            "you subtracted the max of the whole array, not of each row: a row far below it underflows to "
            "exp(-2000) = 0 everywhere, and 0 / 0 is NaN. Use x.max(axis=axis, keepdims=True)": shifted
            / shifted.sum(axis=-1, keepdims=True),
        }


# ------------------------------------------------------------ kata activations.leaky_relu leaky_relu


def _leaky(x, slope):
    return np.where(x >= 0, x, slope * x)


@pytest.mark.kata("activations.leaky_relu")
def test_leaky_relu_default_slope_is_keras(kata):
    x = np.array([3.0, -2.0, 0.0, -0.5, 1000.0, -1000.0])
    got = call(kata, x)
    assert_close(
        got,
        ref.leaky_relu(x),
        call=f"leaky_relu({show(x)})",
        mistakes={
            "the slope is 0.01 (PyTorch's default); Keras's default negative_slope is 0.2: keep the stub's default": _leaky(
                x, 0.01
            ),
            "negative inputs became 0: that is plain ReLU; multiply them by negative_slope instead": np.maximum(x, 0),
            "the slope multiplied the positive inputs too; only x < 0 is scaled": 0.2 * x,
        },
    )


@pytest.mark.kata("activations.leaky_relu")
@pytest.mark.parametrize("slope", [0.5, 0.01])
def test_leaky_relu_given_slope(kata, slope):
    x = _random((4, 5), 14)
    got = call(kata, x, negative_slope=slope)
    assert_close(
        got,
        ref.leaky_relu(x, negative_slope=slope),
        call=f"leaky_relu(<random (4, 5)>, negative_slope={slope})",
        mistakes={f"you ignored negative_slope={slope} and used 0.2: use the argument": _leaky(x, 0.2)},
    )


@pytest.mark.kata("activations.leaky_relu")
def test_leaky_relu_batch_of_one(kata):
    x = _random((1, 7), 15)
    got = call(kata, x)
    assert_close(got, ref.leaky_relu(x), call="leaky_relu(<random (1, 7)>)")


# ------------------------------------------------------------------- kata activations.elu elu


def _elu_mistakes(x, alpha):
    return {
        "watch the brackets: alpha * (exp(x) - 1), not alpha * exp(x) - 1": np.where(x > 0, x, alpha * np.exp(x) - 1),
        "exp(x) - 1 was applied to the positive inputs too; they pass through unchanged": alpha * np.expm1(x),
        "negative inputs became 0: that is ReLU; ELU gives alpha * (exp(x) - 1) there": np.maximum(x, 0),
    }


@pytest.mark.kata("activations.elu")
@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_elu_random(kata, alpha):
    x = _random((5, 4), 16)
    got = call(kata, x) if alpha == 1.0 else call(kata, x, alpha=alpha)  # before TensorFlow: a stub stays quick
    with np.errstate(over="ignore"):
        mistakes = _elu_mistakes(x, alpha)
    mistakes.update({f"you ignored alpha={alpha} and used 1.0: use the argument": ref.elu(x)} if alpha != 1.0 else {})
    assert_close(got, ref.elu(x, alpha=alpha), call=f"elu(<random (5, 4)>, alpha={alpha})", mistakes=mistakes)


@pytest.mark.kata("activations.elu")
def test_elu_large_magnitudes_and_near_zero(kata):
    large = _large()
    x = np.concatenate([large, [-1e-10, 1e-10, -1e-3]])
    got, note = call_stable(kata, x, alpha=0.5)  # the same overflow policy as every kata
    assert_close(got, ref.elu(x, alpha=0.5), call=f"elu({show(x)}, alpha=0.5)", note=note)


# ------------------------------------------------------------------ kata activations.gelu gelu


def _gelu_mistakes(x):
    return {
        "that is the tanh approximation of GELU; this kata (like Keras's default) wants the exact form "
        "0.5 * x * (1 + erf(x / sqrt(2)))": ref.gelu(x, approximate=True),
        "that is the sigmoid approximation x * sigmoid(1.702 x); use the exact erf form": x * expit(1.702 * x),
        "erf takes x / sqrt(2), not x": 0.5 * x * (1 + erf(x)),
        "you returned Phi(x) = 0.5 * (1 + erf(x / sqrt(2))); GELU multiplies it by x": 0.5 * (1 + erf(x / np.sqrt(2))),
    }


@pytest.mark.kata("activations.gelu")
def test_gelu_docstring_example(kata):
    x = np.array([1.0, 0.0, -1.0])
    got = call(kata, x)
    assert_close(got, ref.gelu(x), call="gelu([1.0, 0.0, -1.0])", mistakes=_gelu_mistakes(x))


@pytest.mark.kata("activations.gelu")
@pytest.mark.parametrize("shape, seed", [((1,), 17), ((6, 5), 18), ((2, 4, 3), 19)])
def test_gelu_random(kata, shape, seed):
    x = _random(shape, seed)
    got = call(kata, x)
    assert_close(got, ref.gelu(x), call=f"gelu(<random {shape}>)", mistakes=_gelu_mistakes(x))


@pytest.mark.kata("activations.gelu")
def test_gelu_large_magnitudes(kata):
    large = _large()
    got, note = call_stable(kata, large)
    assert_close(got, ref.gelu(large), call=f"gelu({show(large)})", note=note)


# ------------------------------------------------------------------ kata activations.silu silu


def _silu_mistakes(x):
    return {
        "you returned sigmoid(x); SiLU multiplies it by x": expit(x),
        "that is x * tanh(x); SiLU gates x with the sigmoid": x * np.tanh(x),
    }


@pytest.mark.kata("activations.silu")
@pytest.mark.parametrize("shape, seed", [((1,), 20), ((4, 6), 21)])
def test_silu_random(kata, shape, seed):
    x = _random(shape, seed)
    got = call(kata, x)
    assert_close(got, ref.silu(x), call=f"silu(<random {shape}>)", mistakes=_silu_mistakes(x))


@pytest.mark.kata("activations.silu")
def test_silu_large_magnitudes(kata):
    large = _large()
    got, note = call_stable(kata, large)
    assert_close(got, ref.silu(large), call=f"silu({show(large)})", mistakes=_silu_mistakes(large), note=note)


# ------------------------------------------------------------------ kata activations.softplus


def _softplus_mistakes(x):
    """Wrong answers learners write for log(1 + exp(x)), by name."""
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        return {
            "log(1 + ...) loses the tail: for very negative x, 1 + exp(x) (or 1 + exp(-|x|) in the stable "
            "split max(x, 0) + log(1 + exp(-|x|))) rounds to 1 and the result to 0, where softplus is exp(x); "
            "use np.log1p, which keeps it: max(x, 0) + np.log1p(np.exp(-np.abs(x)))": np.where(
                x > 30, x, np.log(1 + np.exp(np.minimum(x, 30)))
            ),
            "the sign is flipped: that is log(1 + exp(-x)) = softplus(-x)": np.maximum(-x, 0)
            + np.log1p(np.exp(-np.abs(x))),
            "that is ReLU, max(x, 0): softplus adds log(1 + exp(-|x|)), the smooth corner": np.maximum(x, 0.0),
            "you used log, not log1p, after splitting: log(exp(-|x|)) = -|x| is not log(1 + exp(-|x|))": np.maximum(
                x, 0
            )
            - np.abs(x),
        }


@pytest.mark.kata("activations.softplus")
def test_softplus_docstring_example(kata):
    x = np.array([0.0, 1.0, -40.0, 1000.0])
    got, note = call_stable(kata, x)
    expected = ref.activation("softplus", x)
    # Relative down to the tail: softplus(-40) = exp(-40) = 4.2e-18 is a value, not a rounding error.
    assert_close(
        got,
        expected,
        call="softplus([0, 1, -40, 1000])",
        atol=TAIL_ATOL,
        mistakes=_softplus_mistakes(x),
        note=note,
    )
    check(
        abs(float(np.asarray(got)[0]) - np.log(2.0)) < 1e-12, f"softplus(0) should be ln 2 = 0.693..., got {show(got)}"
    )


@pytest.mark.kata("activations.softplus")
@pytest.mark.parametrize("shape, seed", [((1,), 40), ((3, 7), 41)])
def test_softplus_random(kata, shape, seed):
    x = _random(shape, seed)
    got = call(kata, x)
    assert_close(got, ref.activation("softplus", x), call=f"softplus(<random {shape}>)", mistakes=_softplus_mistakes(x))


@pytest.mark.kata("activations.softplus")
def test_softplus_large_magnitudes_and_the_negative_tail(kata):
    x = np.concatenate([_large(), [-40.0, -100.0, -700.0, 35.0, 700.0]])
    got, note = call_stable(kata, x)
    assert_close(
        got,
        ref.activation("softplus", x),
        call=f"softplus({show(x)})",
        atol=TAIL_ATOL,
        mistakes=_softplus_mistakes(x),
        note=note,
    )


# ------------------------------------------------------------- the backward passes


def _upstream(shape, seed):
    """A non-trivial dout: random, mixed signs, no entry near 0."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)


def _check_backward(kata, expected, dout, x, text, mistakes, **kwargs):
    got = call(kata, dout, x, **kwargs)
    assert_close(got, expected(), call=text, rtol=GRADIENT_RTOL, what="gave dx =", mistakes=mistakes)


# --------------------------------------------------------- kata activations.relu_backward relu_backward


def _relu_backward_mistakes(dout, x):
    return {
        "the gradient was gated on dout > 0; the gate is the INPUT: pass dout where x > 0": dout * (dout > 0),
        "you forgot to multiply by dout (the chain rule)": (x > 0).astype(float),
        "at x == 0 the gradient is 0 in TensorFlow/Keras: use x > 0, not x >= 0": dout * (x >= 0),
        "you multiplied dout by relu(x); the local slope is 1 or 0, not the output": dout * np.maximum(x, 0),
    }


@pytest.mark.kata("activations.relu_backward")
def test_relu_backward_docstring_example(kata):
    x, dout = np.array([2.0, -1.0, 3.0, 0.0]), np.array([0.5, 0.7, -0.2, 0.9])
    _check_backward(
        kata,
        lambda: ref.relu_backward(dout, x),
        dout,
        x,
        "relu_backward(dout=[0.5, 0.7, -0.2, 0.9], x=[2.0, -1.0, 3.0, 0.0])",
        _relu_backward_mistakes(dout, x),
    )


@pytest.mark.kata("activations.relu_backward")
@pytest.mark.parametrize("shape, seed", [((1, 4), 22), ((6, 3), 23), ((2, 3, 4), 24)])
def test_relu_backward_random_with_zeros(kata, shape, seed):
    x = _random(shape, seed)
    x.flat[::5] = 0.0  # exact zeros: where TF's slope is 0
    dout = _upstream(shape, seed + 100)
    _check_backward(
        kata,
        lambda: ref.relu_backward(dout, x),
        dout,
        x,
        f"relu_backward(<random dout {shape}>, <random x {shape} with zeros>)",
        _relu_backward_mistakes(dout, x),
    )


# ------------------------------------------------------ kata activations.sigmoid_backward sigmoid_backward


def _sigmoid_backward_mistakes(dout, x):
    s = expit(x)
    return {
        "you used x * (1 - x): that formula takes the sigmoid's OUTPUT s; here x is its input, "
        "so compute s = sigmoid(x) first": dout * x * (1 - x),
        "you forgot to multiply by dout (the chain rule)": s * (1 - s),
        "you returned dout * sigmoid(x); the derivative is s * (1 - s)": dout * s,
        "you evaluated the derivative at the output: sigmoid'(sigmoid(x)). The derivative is taken at the "
        "input z = x: s * (1 - s) with s = sigmoid(x), once": dout * expit(s) * (1 - expit(s)),
    }


@pytest.mark.kata("activations.sigmoid_backward")
@pytest.mark.parametrize("shape, seed", [((1, 3), 25), ((5, 4), 26)])
def test_sigmoid_backward_random(kata, shape, seed):
    x, dout = _random(shape, seed), _upstream(shape, seed + 100)
    _check_backward(
        kata,
        lambda: ref.sigmoid_backward(dout, x),
        dout,
        x,
        f"sigmoid_backward(<random dout {shape}>, <random x {shape}>)",
        _sigmoid_backward_mistakes(dout, x),
    )


@pytest.mark.kata("activations.sigmoid_backward")
def test_sigmoid_backward_large_magnitudes(kata):
    large = _large()
    dout = _upstream(large.shape, 27)
    got, note = call_stable(kata, dout, large)
    assert_close(
        got,
        ref.sigmoid_backward(dout, large),
        call=f"sigmoid_backward(<dout>, {show(large)})",
        rtol=GRADIENT_RTOL,
        what="gave dx =",
        note=note,
    )


# --------------------------------------------------------- kata activations.tanh_backward tanh_backward


def _tanh_backward_mistakes(dout, x):
    t = np.tanh(x)
    return {
        "you used 1 - x**2: that formula takes tanh's OUTPUT t; here x is its input, so compute t = tanh(x) first": dout
        * (1 - x**2),
        "you forgot to multiply by dout (the chain rule)": 1 - t**2,
        "the derivative is 1 - tanh(x)**2 (squared), not 1 - tanh(x)": dout * (1 - t),
        "you evaluated the derivative at the output: 1 - tanh(tanh(x))**2. The derivative is taken at the "
        "input z = x: 1 - t**2 with t = tanh(x), once": dout * (1 - np.tanh(t) ** 2),
    }


@pytest.mark.kata("activations.tanh_backward")
@pytest.mark.parametrize("shape, seed", [((1, 3), 28), ((4, 5), 29)])
def test_tanh_backward_random(kata, shape, seed):
    x, dout = _random(shape, seed, scale=1.5), _upstream(shape, seed + 100)
    _check_backward(
        kata,
        lambda: ref.tanh_backward(dout, x),
        dout,
        x,
        f"tanh_backward(<random dout {shape}>, <random x {shape}>)",
        _tanh_backward_mistakes(dout, x),
    )


@pytest.mark.kata("activations.tanh_backward")
def test_tanh_backward_large_magnitudes(kata):
    large = _large()
    dout = _upstream(large.shape, 30)
    got, note = call_stable(kata, dout, large)
    assert_close(
        got,
        ref.tanh_backward(dout, large),
        call=f"tanh_backward(<dout>, {show(large)})",
        rtol=GRADIENT_RTOL,
        what="gave dx =",
        mistakes=_tanh_backward_mistakes(dout, large),
        note=note,
    )


# ------------------------------------------------------ kata activations.softmax_backward softmax_backward


def _softmax_backward_mistakes(dout, x, axis):
    s = _np_softmax(x, axis)
    mistakes = {
        "you used only the diagonal of the Jacobian, dout * s * (1 - s); every output of a row depends on "
        "every input: dx = s * (dout - sum(dout * s, axis))": dout * s * (1 - s),
        "the sum is along the softmax's axis, per row, not over the whole array": s * (dout - np.sum(dout * s)),
        "you returned dout * softmax(x); subtract sum(dout * s) along the axis first": dout * s,
    }
    if axis not in (-1, x.ndim - 1):
        s_last = _np_softmax(x, -1)
        mistakes["you ignored the `axis` argument and worked along the last axis"] = s_last * (
            dout - np.sum(dout * s_last, axis=-1, keepdims=True)
        )
    return mistakes


@pytest.mark.kata("activations.softmax_backward")
def test_softmax_backward_docstring_example(kata):
    dout, x = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])
    _check_backward(
        kata,
        lambda: ref.softmax_backward(dout, x),
        dout,
        x,
        "softmax_backward(dout=[[1, 0]], x=[[0, 0]])",
        _softmax_backward_mistakes(dout, x, -1),
    )


@pytest.mark.kata("activations.softmax_backward")
@pytest.mark.parametrize("shape, seed", [((1, 5), 31), ((4, 3), 32), ((16, 10), 33)])
def test_softmax_backward_batch(kata, shape, seed):
    x, dout = _random(shape, seed), _upstream(shape, seed + 100)
    _check_backward(
        kata,
        lambda: ref.softmax_backward(dout, x),
        dout,
        x,
        f"softmax_backward(<random dout {shape}>, <random x {shape}>)",
        _softmax_backward_mistakes(dout, x, -1),
    )


@pytest.mark.kata("activations.softmax_backward")
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_backward_along_another_axis(kata, axis):
    x, dout = _random((2, 3, 4), 34 + axis), _upstream((2, 3, 4), 134 + axis)
    _check_backward(
        kata,
        lambda: ref.softmax_backward(dout, x, axis=axis),
        dout,
        x,
        f"softmax_backward(<random dout (2, 3, 4)>, <random x (2, 3, 4)>, axis={axis})",
        _softmax_backward_mistakes(dout, x, axis),
        axis=axis,
    )


@pytest.mark.kata("activations.softmax_backward")
def test_softmax_backward_large_scores(kata):
    x = np.array([[1000.0, 999.0, 998.0], [-1000.0, 0.0, 1000.0]])
    dout = _upstream(x.shape, 36)
    got, note = call_stable(kata, dout, x)
    mistakes = _softmax_backward_mistakes(dout, x, -1)
    with np.errstate(all="ignore"):
        e = np.exp(x)
        s = e / e.sum(axis=-1, keepdims=True)
        mistakes[
            "the softmax inside your backward pass is not stable: exp(1000) is inf and inf / inf is NaN. "
            "Compute s with your stable softmax (subtract each row's max)"
        ] = s * (dout - np.sum(dout * s, axis=-1, keepdims=True))
    assert_close(
        got,
        ref.softmax_backward(dout, x),
        call="softmax_backward(<dout>, [[1000, 999, 998], [-1000, 0, 1000]])",
        rtol=GRADIENT_RTOL,
        what="gave dx =",
        note=note,
        mistakes=mistakes,
    )


# ------------------------------------------------------- the stability search
# hypothesis looks for the smallest input that makes the function return NaN or inf
# (dojo/testkit/stability.py: deterministic, a few dozen examples, well under 0.2 s).


def _search_elementwise(kata, reference, name, hint="use a numerically stable form"):
    from hypothesis import strategies as st

    from dojo.testkit.stability import check_stable, vectors

    check_stable(kata, st.tuples(vectors()), reference, name, hint)


@pytest.mark.kata("activations.sigmoid")
def test_sigmoid_stability_search(kata):
    _search_elementwise(
        kata, ref.sigmoid, "sigmoid", "only ever exponentiate a number <= 0: exp(-|x|), in both branches"
    )


@pytest.mark.kata("activations.tanh")
def test_tanh_stability_search(kata):
    _search_elementwise(kata, ref.tanh, "tanh", "use np.tanh, or 2 * sigmoid(2x) - 1 with your stable sigmoid")


@pytest.mark.kata("activations.elu")
def test_elu_stability_search(kata):
    _search_elementwise(
        kata,
        ref.elu,
        "elu",
        "keep inf out of the result: np.where drops the unused branch, but a product or sum with it does not",
    )


@pytest.mark.kata("activations.silu")
def test_silu_stability_search(kata):
    _search_elementwise(kata, ref.silu, "silu", "x * sigmoid(x) with your stable sigmoid")


@pytest.mark.kata("activations.softmax")
def test_softmax_stability_search(kata):
    from hypothesis import strategies as st

    from dojo.testkit.stability import check_stable, matrices

    check_stable(
        kata,
        st.tuples(matrices()),
        ref.softmax,
        "softmax",
        "subtract each row's max (x.max(axis=axis, keepdims=True)) before exp",
    )
