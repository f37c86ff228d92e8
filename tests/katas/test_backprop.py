"""Kata tests for katas/backprop.py, checked against TensorFlow/Keras.

Gradients are compared at GRADIENT_RTOL (1e-5): TF and a correct NumPy
backward pass agree to ~1e-15, and every known mistake is off by far more.
"""

import numpy as np
import pytest

from dojo.testkit.checks import GRADIENT_RTOL, assert_close, call, check, fail, show
from reference import backprop as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

# ------------------------------------------------------------------ kata backprop.numerical_gradient

# The functions numerical_gradient is tried on, in NumPy; reference/backprop.py
# holds the same functions in TensorFlow under the same names, and gives their
# exact gradients by tf.GradientTape.
FUNCTIONS = {
    "sum_of_cubes": lambda x: np.sum(x**3),
    "quartic": lambda x: np.sum(x**4),
    "sin_times_exp": lambda x: np.sum(np.sin(x) * np.exp(x)),
    # Not separable: every element's slope depends on the others, so a nudge
    # that is not undone before the next one shows up in the next slope.
    "coupled": lambda x: np.sum(x) ** 2 + np.sum(x[..., :-1] * x[..., 1:]),
    "log_sum_exp": lambda x: np.log(np.sum(np.exp(x - x.max()))) + x.max(),
}

# Central differences with eps=1e-6 are accurate to ~1e-9 relative here
# (truncation eps**2 * f''' / 6 ~ 1e-12, rounding ~ 1e-16 * |f| / eps ~ 1e-10);
# one-sided differences are off by ~eps * f'' / 2, which these points make
# ~1e-6 to 1e-5 of the gradient. A tolerance of 1e-7 tells them apart.
NUMERICAL_RTOL = 1e-7
NUMERICAL_ATOL = 1e-8


def _one_sided(f, x, eps, direction=1.0):
    """The forward (or, with direction=-1, backward) difference estimate, to name that mistake."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    base = f(x)
    for index in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += direction * eps
        grad[index] = direction * (f(shifted) - base) / eps
    return grad


def _numerical_mistakes(f, x, eps):
    central = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        central[index] = (f(up) - f(down)) / (2 * eps)
    return {
        "that is the one-sided difference (f(x + eps) - f(x)) / eps, whose error grows with eps; "
        "use the central difference (f(x + eps) - f(x - eps)) / (2 eps)": _one_sided(f, x, eps),
        "that is the one-sided (backward) difference (f(x) - f(x - eps)) / eps, whose error grows with eps; "
        "use the central difference (f(x + eps) - f(x - eps)) / (2 eps)": _one_sided(f, x, eps, direction=-1.0),
        "you divided by eps, not by 2 * eps: the two probes are 2 * eps apart": 2 * central,
    }


def _assert_numerical(got, expected, text, mistakes):
    """assert_close at the numerical tolerance; a known mistake is named with 10 digits shown,
    because its values differ from the right ones only in the 6th or 7th digit."""
    _assert_numerical_mistakes(got, expected, text, mistakes)
    assert_close(got, expected, call=text, rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL)


def _assert_numerical_mistakes(got, expected, text, mistakes):
    try:
        array = np.asarray(got, dtype=float) if got is not None else None
    except (TypeError, ValueError):
        return  # assert_close says what is wrong with it
    for explanation, wrong in mistakes.items():
        if (
            array is not None
            and array.shape == wrong.shape
            and np.allclose(array, wrong, rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL)
            and not np.allclose(wrong, expected, rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL)
        ):
            fail(f"{text} returned {show(array, 10)}, expected {show(expected, 10)}: {explanation}")


def _check_numerical(kata, name, x, eps=1e-6):
    f = FUNCTIONS[name]
    got = call(kata, f, x, eps=eps)
    text = f"numerical_gradient({name}, x {x.shape}, eps={eps:g})"
    _assert_numerical(got, ref.gradient_of(name, x), text, _numerical_mistakes(f, x, eps))


@pytest.mark.kata("backprop.numerical_gradient")
def test_numerical_gradient_docstring_example(kata):
    x = np.array([1.0, -3.0])
    f = lambda v: (v**2).sum()  # noqa: E731
    got = call(kata, f, x)
    # The seed-style worked example: d/dv (v0**2 + v1**2) = 2v, exact here up to rounding.
    _assert_numerical(
        got,
        np.array([2.0, -6.0]),
        "numerical_gradient(lambda v: (v ** 2).sum(), [1.0, -3.0])",
        _numerical_mistakes(f, x, 1e-6),
    )


@pytest.mark.kata("backprop.numerical_gradient")
def test_numerical_gradient_undoes_each_nudge(kata):
    # The coupled function's slope at each element depends on all the others:
    # a nudge left in place (even in a private copy) changes every later slope.
    x = np.array([0.3, -0.7, 1.1, 0.2])
    f = FUNCTIONS["coupled"]
    got = call(kata, f, x)
    expected = ref.gradient_of("coupled", x)
    # A known mistake (a one-sided difference, say) first: it is not about undoing nudges.
    _assert_numerical_mistakes(got, expected, f"numerical_gradient(f, {show(x)})", _numerical_mistakes(f, x, 1e-6))
    if not np.allclose(got, expected, rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL):
        fail(
            f"numerical_gradient(f, {show(x)}) returned {show(got, 8)}, expected {show(expected, 8)} for a "
            f"function whose slopes depend on each other: put x[index] back to its original value after "
            f"the two probes, before moving on to the next index"
        )


@pytest.mark.kata("backprop.numerical_gradient")
@pytest.mark.parametrize(
    "name, shape, seed",
    [
        ("quartic", (6,), 0),  # f'' / f' = 3 / x: large near 0, where one-sided differences go wrong
        ("sin_times_exp", (3, 4), 1),  # any shape: walk every index
        ("log_sum_exp", (5,), 2),
        ("coupled", (2, 5), 3),
    ],
)
def test_numerical_gradient_matches_gradient_tape(kata, name, shape, seed):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)
    if name == "quartic":
        x = np.sign(x) * (0.05 + 0.2 * np.abs(x))  # small values: curvature large next to the slope
    _check_numerical(kata, name, x)


@pytest.mark.kata("backprop.numerical_gradient")
def test_numerical_gradient_uses_eps(kata):
    # For f = sum(x**3), the central difference is exactly 3 x**2 + eps**2
    # ((x+h)**3 - (x-h)**3 = 6 x**2 h + 2 h**3), so a large eps shows whether
    # the eps argument is used.
    x = np.array([0.5, -1.0, 2.0])
    eps = 1e-2
    got = call(kata, FUNCTIONS["sum_of_cubes"], x, eps=eps)
    exact = ref.gradient_of("sum_of_cubes", x)
    text = f"numerical_gradient(sum(x**3), {show(x)}, eps={eps})"
    _assert_numerical_mistakes(got, exact + eps**2, text, _numerical_mistakes(FUNCTIONS["sum_of_cubes"], x, eps))
    if np.shape(got) == x.shape and np.allclose(got, exact, rtol=1e-7) and not np.allclose(got, exact + eps**2):
        fail(
            f"{text} returned {show(got, 8)}, the exact slope, but central differences with eps={eps} give "
            f"3 x**2 + eps**2 = {show(exact + eps**2, 8)}: nudge by the eps you are given, not a fixed one"
        )
    # Both probes are exact to rounding (~1e-13 here), hence the tight tolerance.
    assert_close(got, exact + eps**2, call=text, rtol=1e-9)


@pytest.mark.kata("backprop.numerical_gradient")
def test_numerical_gradient_of_one_element(kata):
    x = np.array([[2.0]])
    got = call(kata, FUNCTIONS["quartic"], x)
    _assert_numerical(
        got,
        ref.gradient_of("quartic", x),
        "numerical_gradient(sum(x**4), [[2.0]])",
        _numerical_mistakes(FUNCTIONS["quartic"], x, 1e-6),
    )


def _probed_in_an_integer_array(f, x, eps):
    """What probing an integer array in place gives: x[i] = x[i] + eps is cut back to an integer."""
    probed, grad = np.array(x), np.zeros(np.shape(x))
    for index in np.ndindex(probed.shape):
        original = probed[index]
        probed[index] = original + eps
        plus = f(probed)
        probed[index] = original - eps
        minus = f(probed)
        probed[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.kata("backprop.numerical_gradient")
def test_numerical_gradient_at_integer_points(kata):
    # np.array([1, -2, 3]) is an integer array: written into it, 1 + 1e-6 is cut back to 1 and 1 - 1e-6
    # to 0, so the probes are not eps apart. The gradient is the float one all the same.
    x = np.array([1, -2, 3])
    f = FUNCTIONS["quartic"]
    got = call(kata, f, x)
    text = f"numerical_gradient(sum(x**4), np.array({x.tolist()}) (integers))"
    check(
        np.array_equal(x, [1, -2, 3]) and x.dtype.kind == "i",
        f"{text} changed the caller's array to {show(x)}: probe a copy",
    )
    mistakes = _numerical_mistakes(f, x * 1.0, 1e-6)
    mistakes[
        "the probes were written into the integer array itself, which cuts x + eps and x - eps back to "
        "integers: probe a float copy, x = np.array(x, dtype=float)"
    ] = _probed_in_an_integer_array(f, x, 1e-6)
    _assert_numerical(got, ref.gradient_of("quartic", x.astype(float)), text, mistakes)


# ------------------------------------------------------------------ kata backprop.dense_backward


def _dense_backward_mistakes(dout, x, kernel):
    batch = len(dout)
    mistakes = {
        "dbias is the mean of dout over the batch; it is the sum (every sample adds its share)": dout.mean(axis=0),
        "dbias still has the batch dimension: sum dout over axis 0": dout,
        "dkernel is divided by the batch size; the mean (if any) is already inside dout": x.T @ dout / batch,
    }
    if dout.shape[1] == x.shape[1]:
        mistakes["dkernel is transposed: it is x.T @ dout, shaped like the kernel (input_dim, units)"] = (x.T @ dout).T
    if kernel.shape[0] == kernel.shape[1]:
        mistakes["dx uses the kernel without transposing it: dx = dout @ kernel.T"] = dout @ kernel
    return mistakes


def _call_dense_backward(kata, dout, x, kernel, text):
    """The learner's (dx, dkernel, dbias); a matmul shape error becomes a message about shapes."""
    try:
        got = call(kata, dout, x, kernel)
    except ValueError as error:  # numpy's matmul shape errors
        got, shape_error = None, error
    else:
        shape_error = None
    if shape_error is not None:
        fail(
            f"{text} raised ValueError: {shape_error}. Check the shapes: dx = dout @ kernel.T is "
            f"(batch, units) @ (units, input_dim), dkernel = x.T @ dout is (input_dim, batch) @ (batch, units)"
        )
    check(
        isinstance(got, (tuple, list)) and len(got) == 3,
        f"{text} returned {show(got)}; return the tuple (dx, dkernel, dbias)",
    )
    return got


def _check_dense_backward(kata, dout, x, kernel, text):
    dx, dkernel, dbias = _call_dense_backward(kata, dout, x, kernel, text)
    expected_dx, expected_dkernel, expected_dbias = ref.dense_backward(dout, x, kernel)
    mistakes = _dense_backward_mistakes(dout, x, kernel)
    assert_close(
        dx,
        expected_dx,
        call=text,
        what="gave dx =",
        rtol=GRADIENT_RTOL,
        mistakes={k: v for k, v in mistakes.items() if k.startswith("dx")},
    )
    assert_close(
        dkernel,
        expected_dkernel,
        call=text,
        what="gave dkernel =",
        rtol=GRADIENT_RTOL,
        mistakes={
            **{k: v for k, v in mistakes.items() if k.startswith("dkernel")},
            "dkernel is dout.T @ x, shaped (units, input_dim): it is x.T @ dout, shaped like the kernel": dout.T @ x,
        },
    )
    assert_close(
        dbias,
        expected_dbias,
        call=text,
        what="gave dbias =",
        rtol=GRADIENT_RTOL,
        mistakes={k: v for k, v in mistakes.items() if k.startswith("dbias")},
    )


@pytest.mark.kata("backprop.dense_backward")
def test_dense_backward_docstring_example(kata):
    dout = np.array([[1.0, 2.0]])
    x = np.array([[3.0, 4.0, 5.0]])
    kernel = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    _check_dense_backward(kata, dout, x, kernel, "dense_backward(dout [[1, 2]], x [[3, 4, 5]], kernel (3, 2))")


@pytest.mark.kata("backprop.dense_backward")
@pytest.mark.parametrize("batch, inputs, units", [(1, 3, 4), (8, 5, 5), (32, 10, 3), (7, 784, 128)])
def test_dense_backward_matches_gradient_tape(kata, batch, inputs, units):
    rng = np.random.default_rng(100 * batch + units)
    dout, x, kernel = (
        rng.normal(size=(batch, units)),
        rng.normal(size=(batch, inputs)),
        rng.normal(size=(inputs, units)),
    )
    _check_dense_backward(
        kata, dout, x, kernel, f"dense_backward(dout {dout.shape}, x {x.shape}, kernel {kernel.shape})"
    )


@pytest.mark.kata("backprop.dense_backward")
def test_dense_backward_large_and_zero_values(kata):
    rng = np.random.default_rng(5)
    dout, x, kernel = 1e4 * rng.normal(size=(4, 3)), 1e3 * rng.normal(size=(4, 6)), np.zeros((6, 3))
    _check_dense_backward(kata, dout, x, kernel, "dense_backward(dout ~1e4, x ~1e3, kernel of zeros)")


@pytest.mark.kata("backprop.dense_backward")
def test_dense_backward_agrees_with_your_numerical_gradient(kata, impl):
    """Gradient checking, the way you would debug a backward pass of your own:
    your numerical_gradient (kata backprop.numerical_gradient) on your dense_forward (kata neuron.dense_forward)."""
    rng = np.random.default_rng(7)
    dout, x = rng.normal(size=(3, 2)), rng.normal(size=(3, 4))
    kernel, bias = rng.normal(size=(4, 2)), rng.normal(size=2)
    dx, dkernel, dbias = _call_dense_backward(
        kata, dout, x, kernel, "dense_backward(dout (3, 2), x (3, 4), kernel (4, 2))"
    )
    dense_forward = impl.get("neuron", "dense_forward")
    numerical_gradient = impl.get("backprop", "numerical_gradient")

    # The scalar whose gradient dense_backward computes: sum(y * dout).
    def loss_of(x_, kernel_, bias_):
        return float(np.sum(np.asarray(dense_forward(x_, kernel_, bias_)) * dout))

    try:
        checks = {
            "dx": (dx, numerical_gradient(lambda v: loss_of(v, kernel, bias), x)),
            "dkernel": (dkernel, numerical_gradient(lambda v: loss_of(x, v, bias), kernel)),
            "dbias": (dbias, numerical_gradient(lambda v: loss_of(x, kernel, v), bias)),
        }
    except NotImplementedError:
        checks = None
    check(
        checks is not None,
        "this check runs your numerical_gradient (kata backprop.numerical_gradient) on your dense_forward "
        "(kata neuron.dense_forward): finish those first",
    )
    for name, (analytic, numerical) in checks.items():
        # The loss is linear in each argument, so central differences are exact
        # up to rounding (~1e-10); 1e-6 leaves a wide margin.
        analytic = np.asarray(analytic)
        check(
            analytic.shape == numerical.shape,
            f"gradient check: your dense_backward gave {name} of shape {analytic.shape}, but {name} must "
            f"have the shape of what it is the gradient of, {numerical.shape}",
        )
        if not np.allclose(analytic, numerical, rtol=1e-6, atol=1e-7):
            fail(
                f"gradient check failed: your dense_backward gave {name} = {show(analytic)}, but your "
                f"numerical_gradient of sum(dense_forward(x, kernel, bias) * dout) gives {show(numerical)}. "
                f"When the two disagree, the backward pass is usually the one to fix"
            )


# ------------------------------------------------------------------ kata backprop.glorot_uniform

# Statistical checks on a sample of n values (n >= 8192 below): a uniform
# sample's mean lies within 5 standard errors (limit / sqrt(3 n)) of 0 and its
# variance within 5% of limit**2 / 3 (the variance estimate's relative
# standard error is sqrt(0.8 / n) <= 1%), except with negligible probability;
# and the largest |value| comes within 0.5% of the limit (it misses with
# probability 0.995**n < 1e-17). Wrong fans change the
# variance by far more than 5%.
GLOROT_SHAPES = [
    (784, 128),  # the seed MLP's first kernel
    (128, 64),
    (3, 3, 32, 64),  # the seed CNN's second kernel: fans times 3*3
    (5, 64, 128),  # a Conv1D kernel: fans times 5
    (20000,),  # 1-D: fan_in = fan_out = n
]


def _fans_mistakes(shape):
    """Limits that learners get from wrong fans."""
    mistakes = {}
    if len(shape) > 2:
        fan_in, fan_out = shape[-2], shape[-1]
        mistakes[
            "the receptive field is missing: for a conv kernel (kh, kw, in, out), fan_in = kh*kw*in "
            "and fan_out = kh*kw*out"
        ] = np.sqrt(6.0 / (fan_in + fan_out))
        mistakes[
            "the fans are taken from the first two dimensions; for a conv kernel they are "
            "kh*kw*in_channels and kh*kw*out_channels"
        ] = np.sqrt(6.0 / (shape[0] + shape[1]))
    if len(shape) >= 2:
        fan_in, fan_out = ref.glorot_fans(shape)
        mistakes["the limit uses fan_in only (that is LeCun/He style); Glorot uses fan_in + fan_out"] = (
            np.sqrt(6.0 / fan_in) if fan_in != fan_out else None
        )
        mistakes[
            "the limit is sqrt(2 / (fan_in + fan_out)), the standard deviation; the uniform limit is "
            "sqrt(6 / (fan_in + fan_out))"
        ] = np.sqrt(2.0 / (fan_in + fan_out))
    return {k: v for k, v in mistakes.items() if v is not None}


@pytest.mark.kata("backprop.glorot_uniform")
@pytest.mark.parametrize("shape", GLOROT_SHAPES, ids=str)
def test_glorot_uniform_statistics(kata, shape):
    got = call(kata, shape, np.random.default_rng(42))
    text = f"glorot_uniform({shape}, rng)"
    got = np.asarray(got) if got is not None else fail(f"{text} returned None: did you forget `return`?")
    check(got.shape == tuple(shape), f"{text} returned shape {got.shape}, expected {tuple(shape)}")
    check(got.dtype == np.float64, f"{text} returned {got.dtype} values; use float64")
    limit = ref.glorot_limit(shape)
    fan_in, fan_out = ref.glorot_fans(shape)
    largest, variance, mean, n = float(np.abs(got).max()), float(got.var()), float(got.mean()), got.size
    for explanation, wrong_limit in _fans_mistakes(shape).items():
        if abs(largest - wrong_limit) <= 5e-3 * wrong_limit and abs(wrong_limit - limit) > 1e-2 * limit:
            fail(
                f"{text}: the values reach {largest:.5f}, the limit for wrong fans; the limit is {limit:.5f} "
                f"(fan_in={fan_in}, fan_out={fan_out}): {explanation}"
            )
    if largest > limit * (1 + 1e-12):
        # Uniform values reach sqrt(3) = 1.73 standard deviations; a normal sample of
        # thousands reaches 3 or more, a normal truncated at 2 std (GlorotNormal) 2.3.
        normal = largest / np.sqrt(variance) > 2.0
        fail(
            f"{text} has values up to {largest:.5f}, outside [-limit, limit] with limit = "
            f"sqrt(6 / (fan_in + fan_out)) = {limit:.5f} (fan_in={fan_in}, fan_out={fan_out})"
            + (": the values look normally distributed; Glorot *uniform* draws with rng.uniform" if normal else "")
        )
    check(
        largest >= 0.995 * limit,
        f"{text}: the largest |value| is {largest:.5f}, but uniform values on [-{limit:.5f}, {limit:.5f}] "
        f"reach the limit (fan_in={fan_in}, fan_out={fan_out}); is the interval too narrow?",
    )
    check(
        abs(mean) <= 5 * limit / np.sqrt(3 * n),
        f"{text}: the mean of the values is {mean:.5f}, not about 0: draw from [-limit, limit], not [0, limit]",
    )
    expected_variance = limit**2 / 3
    check(
        abs(variance - expected_variance) <= 0.05 * expected_variance,
        f"{text}: the variance of the values is {variance:.3e}; uniform on [-limit, limit] gives "
        f"limit**2 / 3 = 2 / (fan_in + fan_out) = {expected_variance:.3e}: is the distribution uniform?",
    )


@pytest.mark.kata("backprop.glorot_uniform")
def test_glorot_uniform_statistics_match_keras(kata):
    # Keras's own GlorotUniform sample (another RNG) must look like yours.
    shape = (256, 128)
    got = np.asarray(call(kata, shape, np.random.default_rng(3)))
    keras_sample = ref.glorot_sample(shape, seed=3)
    for name, mine, theirs, tolerance in [
        ("largest |value|", np.abs(got).max(), np.abs(keras_sample).max(), 2e-3),
        ("standard deviation", got.std(), keras_sample.std(), 0.03),
    ]:
        check(
            abs(mine - theirs) <= tolerance * theirs,
            f"glorot_uniform({shape}, rng): {name} {mine:.5f}, Keras's GlorotUniform gives {theirs:.5f}",
        )


@pytest.mark.kata("backprop.glorot_uniform")
def test_glorot_uniform_is_reproducible_from_rng(kata):
    shape = (30, 20)
    first = np.asarray(call(kata, shape, np.random.default_rng(7)))
    again = np.asarray(call(kata, shape, np.random.default_rng(7)))
    other = np.asarray(call(kata, shape, np.random.default_rng(8)))
    check(
        np.array_equal(first, again),
        "glorot_uniform gave different weights for two generators with the same seed: draw from the `rng` "
        "argument (rng.uniform(...)), not from np.random or a generator of your own",
    )
    check(
        not np.array_equal(first, other),
        "glorot_uniform gave the same weights for different seeds: draw from the `rng` argument",
    )
