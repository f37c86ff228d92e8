"""Kata tests for katas/optimizers.py, checked against keras.optimizers.

Each test runs the learner's optimizer and the real Keras optimizer (on
float64 tf.Variables) over several steps with the same gradients, and compares
the *update* of every parameter at every step (new value minus old value),
relative to the largest update of that parameter at that step.

Tolerances (see reference/optimizers.py for where Keras's float32 comes from):
* SGD and RMSprop: 1e-6. Keras keeps the learning rate in a float32 variable
  (~5e-8 relative); measured differences from an exact float64 implementation
  are <= 1.1e-7.
* Adam: 3e-5. Keras rounds beta_1 and beta_2 to float32 in the bias-correction
  powers, which changes the step size by ~6.6e-6 (measured, every step). The
  textbook form m_hat / (sqrt(v_hat) + eps) differs by 1.6e-4 already for
  gradients of size 1, and by a factor of 2 to 20 for gradients of 1e-7..1e-9.
"""

import numpy as np
import pytest

from dojo.testkit.checks import KataFailure, check, fail, float32_hint, show
from reference import optimizers as ref

# left out of the quick tier: the answer key against every kata (capstones train models): the full suite's part
pytestmark = pytest.mark.slow

SGD_RTOL = 1e-6
RMSPROP_RTOL = 1e-6
ADAM_RTOL = 3e-5

#: With hyperparameters that float32 holds exactly (0.0625, 0.875, ...), Keras's float64 variables make
#: its updates those of an exact float64 formula (measured: 0 to 1e-16 relative), so a state kept or
#: computed in float32 (~6e-8 relative per step) shows there.
EXACT_RTOL = 1e-10

SHAPES = [(3, 4), (4,), (2, 3, 2)]  # a kernel, a bias, something else: one state slot each


def _problem(seed, scale=1.0, steps=5, shapes=SHAPES):
    """Initial params and a sequence of gradient lists, seeded."""
    rng = np.random.default_rng(seed)
    params = [0.5 * rng.normal(size=s) for s in shapes]
    grad_steps = [[scale * rng.normal(size=s) for s in shapes] for _ in range(steps)]
    return params, grad_steps


def _apply(optimizer, params, grads, label, step):
    """The learner's optimizer.apply; a broadcasting error becomes a message about state."""
    try:
        result, shape_error = optimizer.apply(params, grads), None
    except ValueError as error:  # numpy broadcasting: state arrays that belong to other params
        result, shape_error = None, error
    check(
        shape_error is None,
        f"{label}: apply() raised ValueError: {shape_error} (step {step}). Does a state array of another "
        f"shape end up here? Keep one state array per position in params, created from params on the "
        f"first call and stored on self (not in a class attribute or a global shared by every instance)",
    )
    return result


def _run_learner(optimizer, params, grad_steps, label):
    """Apply the learner's optimizer step by step; check in-place updates and untouched grads.

    Returns the params after every step (copies), like reference.optimizers.run.
    """
    arrays = [p.copy() for p in params]  # the arrays a model's layers would hold
    history = []
    for step, grads in enumerate(grad_steps, start=1):
        given = list(arrays)
        before = [a.copy() for a in arrays]
        grads_before = [g.copy() for g in grads]
        result = _apply(optimizer, given, grads, label, step)
        for i, (g, g0) in enumerate(zip(grads, grads_before)):
            check(
                np.array_equal(g, g0),
                f"{label}: apply() changed grads[{i}] in place; read the gradients, do not modify them",
            )
        for i, array in enumerate(arrays):
            check(
                array.dtype == np.float64 and array.shape == before[i].shape,
                f"{label}: params[{i}] changed dtype or shape",
            )
            if np.array_equal(array, before[i]) and not np.all(grads[i] == 0):
                if given[i] is not array:
                    fail(
                        f"{label}: apply() replaced params[{i}] with a new array instead of updating it in "
                        f"place. Write `param -= step` (or `param[...] = new_value`): a model's layers hold "
                        f"these very arrays and never see a new one"
                    )
                if result is not None:
                    fail(
                        f"{label}: apply() returned new values but left the arrays unchanged; update every "
                        f"array of params in place (`param -= step`) and return nothing"
                    )
                fail(
                    f"{label}: apply() did not change params[{i}] (step {step}). Update the arrays in place: "
                    f"`param -= step` changes the array, `param = param - step` only rebinds a local name"
                )
        history.append([a.copy() for a in arrays])
    return history


def _updates(history, params):
    previous, updates = params, []
    for state in history:
        updates.append([now - old for now, old in zip(state, previous)])
        previous = state
    return updates


def _close(got, expected, rtol):
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    return got.shape == expected.shape and np.max(np.abs(got - expected), initial=0.0) <= rtol * scale + 1e-300


def _compare(label, params, history, expected_history, rtol, mistakes=()):
    """Compare the learner's updates with Keras's, step by step; name a known mistake when one matches.

    ``mistakes`` is a list of ``(explanation, history)`` pairs: the parameter
    history that the mistake would produce from the same start and gradients.
    """
    got_updates = _updates(history, params)
    expected_updates = _updates(expected_history, params)
    wrong_updates = [(text, _updates(wrong, params)) for text, wrong in mistakes]
    for step, (got_step, expected_step) in enumerate(zip(got_updates, expected_updates)):
        for i, (got, expected) in enumerate(zip(got_step, expected_step)):
            if _close(got, expected, rtol):
                continue
            where = f"{label}: step {step + 1} of {len(expected_updates)}, params[{i}] (shape {expected.shape})"
            worst = (
                np.unravel_index(int(np.argmax(np.abs(got - expected))), expected.shape)
                if got.shape == expected.shape
                else None
            )
            worst = tuple(int(k) for k in worst) if worst is not None else None
            detail = (
                f"your update at index {worst} is {got[worst]:.9e}, Keras's is {expected[worst]:.9e}"
                if worst is not None
                else f"your update has shape {got.shape}"
            )
            # Several known mistakes can lie within the tolerance of the learner's update (textbook Adam and
            # an epsilon of 1e-8 both move a step around 1 by ~1e-4): name the one closest to it.
            matching = [
                (float(np.max(np.abs(got - wrong[step][i]), initial=0.0)), text)
                for text, wrong in wrong_updates
                if _close(got, wrong[step][i], rtol) and not _close(wrong[step][i], expected, rtol)
            ]
            if matching:
                fail(f"{where}: {detail}: {min(matching)[1]}")
            scale = np.max(np.abs(expected))
            hint = float32_hint(got, expected) if got.shape == expected.shape else ""
            fail(
                f"{where}: {detail} "
                f"(difference {abs(got[worst] - expected[worst]) / scale:.1e} of the largest step; "
                f"tolerance {rtol:g})" + (hint or ". Compare your formula with the docstring, term by term")
            )


# ------------------------------------------------ NumPy simulations of mistakes
# Each returns the parameter history a known wrong formula produces; they only
# serve to name the mistake in a message. The expected values come from Keras.


def _simulate(params, grad_steps, step_fn):
    params = [p.copy() for p in params]
    state = [dict() for _ in params]
    history = []
    for t, grads in enumerate(grad_steps, start=1):
        for p, g, s in zip(params, grads, state):
            p += step_fn(g, s, t)
        history.append([p.copy() for p in params])
    return history


def _simulate_counting_per_parameter(params, grad_steps, step_fn):
    """Like _simulate, but the step counter advances once per PARAMETER, not once per apply call."""
    params = [p.copy() for p in params]
    state = [dict() for _ in params]
    history, count = [], 0
    for grads in grad_steps:
        for p, g, s in zip(params, grads, state):
            count += 1
            p += step_fn(g, s, count)
        history.append([p.copy() for p in params])
    return history


def _dampened_momentum_step(lr, momentum):
    """The 'exponential moving average' momentum of some tutorials: v = m v + (1 - m) g, param -= lr v."""

    def step(g, s, t):
        v = momentum * s.get("v", np.zeros_like(g)) + (1 - momentum) * g
        s["v"] = v
        return -lr * v

    return step


def _momentum_step(lr, momentum, sign=-1.0, nesterov=False, keep_state=True):
    def step(g, s, t):
        v = s.get("v", np.zeros_like(g)) if keep_state else np.zeros_like(g)
        v = momentum * v + sign * lr * g
        s["v"] = v
        return momentum * v + sign * lr * g if nesterov else v

    return step


def _rmsprop_step(lr, rho, eps, eps_inside=True, swap_rho=False):
    def step(g, s, t):
        keep, new = (1 - rho, rho) if swap_rho else (rho, 1 - rho)
        v = keep * s.get("v", np.zeros_like(g)) + new * g * g
        s["v"] = v
        return -lr * g / (np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps)

    return step


def _adam_step(lr, b1, b2, eps, form):
    def step(g, s, t):
        m = b1 * s.get("m", np.zeros_like(g)) + (1 - b1) * g
        v = b2 * s.get("v", np.zeros_like(g)) + (1 - b2) * g * g
        s["m"], s["v"] = m, v
        if form == "textbook":
            return -lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        if form == "epsilon inside":
            return -lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / np.sqrt(v + eps)
        if form == "no bias correction":
            return -lr * m / (np.sqrt(v) + eps)
        if form == "t stuck at 1":
            return -lr * np.sqrt(1 - b2) / (1 - b1) * m / (np.sqrt(v) + eps)
        if form.startswith("t from "):  # the counter starts at 2 (or more) on the first apply
            t = t + int(form.split()[-1]) - 1
        return -lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)

    return step


# ------------------------------------------------------------------ kata optimizers.SGD


@pytest.mark.kata("optimizers.SGD")
def test_sgd_worked_example(kata):
    params, grads = [np.array([1.0, 2.0])], [[np.array([0.5, -1.0])]]
    label = "SGD(learning_rate=0.1).apply([w=[1.0, 2.0]], [g=[0.5, -1.0]])"
    history = _run_learner(kata(learning_rate=0.1), params, grads, label)
    # By hand: w - 0.1 * g = [1.0 - 0.05, 2.0 + 0.1] = [0.95, 2.1].
    expected = ref.run("SGD", {"learning_rate": 0.1}, params, grads)
    _compare(
        label,
        params,
        history,
        expected,
        SGD_RTOL,
        mistakes=[
            ("the step goes up the gradient: param -= learning_rate * grad", [[np.array([1.05, 1.9])]]),
            ("the learning rate is missing: param -= learning_rate * grad", [[np.array([0.5, 3.0])]]),
        ],
    )
    check(np.allclose(history[0][0], [0.95, 2.1]), f"{label} gave w = {show(history[0][0])}, expected [0.95, 2.1]")


@pytest.mark.kata("optimizers.SGD")
def test_sgd_default_learning_rate(kata):
    params, grads = _problem(seed=1, steps=2)
    history = _run_learner(kata(), params, grads, "SGD()")
    _compare(
        "SGD()",
        params,
        history,
        ref.run("SGD", {}, params, grads),
        SGD_RTOL,
        mistakes=[
            (
                "use the learning_rate given to the constructor (Keras's default is 0.01)",
                _simulate(params, grads, lambda g, s, t: -0.001 * g),
            )
        ],
    )


@pytest.mark.kata("optimizers.SGD")
@pytest.mark.parametrize("learning_rate, scale", [(0.05, 1.0), (0.5, 1e3), (1e-3, 1e-4)])
def test_sgd_several_params_several_steps(kata, learning_rate, scale):
    params, grads = _problem(seed=2, scale=scale, steps=4)
    label = f"SGD(learning_rate={learning_rate})"
    history = _run_learner(kata(learning_rate=learning_rate), params, grads, label)
    _compare(
        label,
        params,
        history,
        ref.run("SGD", {"learning_rate": learning_rate}, params, grads),
        SGD_RTOL,
        mistakes=[
            (
                "the step goes up the gradient: param -= learning_rate * grad",
                _simulate(params, grads, lambda g, s, t: learning_rate * g),
            )
        ],
    )


# ------------------------------------------------------------------ kata optimizers.sgd_momentum


def _momentum_mistakes(params, grads, lr, momentum, nesterov):
    return [
        (
            "the velocity has the wrong sign: velocity = momentum * velocity - learning_rate * grad, "
            "then param += velocity",
            _simulate(params, grads, _momentum_step(lr, momentum, sign=1.0, nesterov=nesterov)),
        ),
        (
            "Nesterov was ignored: with nesterov=True, param += momentum * velocity - learning_rate * grad",
            _simulate(params, grads, _momentum_step(lr, momentum)),
        )
        if nesterov
        else None,
        (
            "nesterov=False was given, but the update is Nesterov's: param += velocity",
            _simulate(params, grads, _momentum_step(lr, momentum, nesterov=True)),
        )
        if not nesterov
        else None,
        (
            "the velocity is not kept between calls: store one velocity per parameter on the optimizer "
            "(zeros at first) and update it every step",
            _simulate(params, grads, _momentum_step(lr, momentum, nesterov=nesterov, keep_state=False)),
        ),
        (
            "that is dampened momentum, v = momentum * v + (1 - momentum) * grad (an average of the gradients); "
            "Keras does not dampen: velocity = momentum * velocity - learning_rate * grad, then param += velocity",
            _simulate(params, grads, _dampened_momentum_step(lr, momentum)),
        )
        if not nesterov
        else None,
    ]


@pytest.mark.kata("optimizers.sgd_momentum")
def test_momentum_builds_up_on_a_constant_gradient(kata):
    params, grads = [np.zeros(3)], [[np.array([1.0, -2.0, 0.5])]] * 5
    label = "SGD(learning_rate=0.05, momentum=0.9), the same gradient 5 times"
    history = _run_learner(kata(learning_rate=0.05, momentum=0.9), params, grads, label)
    expected = ref.run("SGD", {"learning_rate": 0.05, "momentum": 0.9}, params, grads)
    _compare(
        label,
        params,
        history,
        expected,
        SGD_RTOL,
        mistakes=[m for m in _momentum_mistakes(params, grads, 0.05, 0.9, False) if m],
    )


@pytest.mark.kata("optimizers.sgd_momentum")
@pytest.mark.parametrize("momentum, nesterov", [(0.9, False), (0.5, False), (0.9, True), (0.99, True)])
def test_momentum_several_params_several_steps(kata, momentum, nesterov):
    params, grads = _problem(seed=3, steps=6)
    config = {"learning_rate": 0.02, "momentum": momentum, "nesterov": nesterov}
    label = f"SGD(learning_rate=0.02, momentum={momentum}, nesterov={nesterov})"
    history = _run_learner(kata(**config), params, grads, label)
    _compare(
        label,
        params,
        history,
        ref.run("SGD", config, params, grads),
        SGD_RTOL,
        mistakes=[m for m in _momentum_mistakes(params, grads, 0.02, momentum, nesterov) if m],
    )


@pytest.mark.kata("optimizers.sgd_momentum")
def test_two_optimizers_keep_separate_state(kata):
    # Two models trained side by side, each with its own optimizer: state kept
    # on the class (shared by every instance) instead of on self breaks this.
    params_a, grads_a = _problem(seed=4, steps=4)
    params_b, grads_b = _problem(seed=5, steps=4)
    config = {"learning_rate": 0.05, "momentum": 0.9}
    first, second = kata(**config), kata(**config)
    arrays_a, arrays_b = [p.copy() for p in params_a], [p.copy() for p in params_b]
    history_a, history_b = [], []
    label = "two SGD(momentum=0.9) optimizers used in turn"
    for step, (ga, gb) in enumerate(zip(grads_a, grads_b), start=1):  # interleaved steps
        _apply(first, arrays_a, ga, label, step)
        _apply(second, arrays_b, gb, label, step)
        history_a.append([a.copy() for a in arrays_a])
        history_b.append([b.copy() for b in arrays_b])
    try:
        _compare(label + " (the first)", params_a, history_a, ref.run("SGD", config, params_a, grads_a), SGD_RTOL)
        _compare(label + " (the second)", params_b, history_b, ref.run("SGD", config, params_b, grads_b), SGD_RTOL)
        message = None
    except KataFailure as failure:
        message = str(failure)
    if message is not None:
        fail(
            message + ". Each optimizer needs its own velocities: keep them on self (set in __init__ or on "
            "the first apply), not in a class attribute or a global shared by every instance"
        )


# ------------------------------------------------------------------ kata optimizers.RMSprop


def _epsilon_default_mistake(params, grads, step_for_epsilon, eps):
    """Keras's default epsilon is 1e-7; PyTorch's and the Adam paper's 1e-8. Only where eps is the default."""
    if eps != 1e-7:
        return []
    return [
        (
            "your epsilon defaults to 1e-8 (PyTorch's and the Adam paper's default); Keras's default is 1e-7: "
            "keep the stub's default, epsilon=1e-7",
            _simulate(params, grads, step_for_epsilon(1e-8)),
        )
    ]


def _rmsprop_mistakes(params, grads, lr, rho, eps):
    return _epsilon_default_mistake(params, grads, lambda e: _rmsprop_step(lr, rho, e), eps) + [
        (
            "epsilon is outside the square root: Keras divides by sqrt(v + epsilon), not sqrt(v) + epsilon",
            _simulate(params, grads, _rmsprop_step(lr, rho, eps, eps_inside=False)),
        ),
        (
            "rho and 1 - rho are swapped: v = rho * v + (1 - rho) * grad**2",
            _simulate(params, grads, _rmsprop_step(lr, rho, eps, swap_rho=True)),
        ),
        (
            "the moving average v is not kept between calls: store one v per parameter on the optimizer "
            "(zeros at first) and update it every step",
            _simulate(params, grads, lambda g, s, t: -lr * g / np.sqrt((1 - rho) * g * g + eps)),
        ),
    ]


@pytest.mark.kata("optimizers.RMSprop")
def test_rmsprop_docstring_example(kata):
    params, grads = [np.array([1.0])], [[np.array([2.0])]]
    history = _run_learner(kata(), params, grads, "RMSprop().apply([w=[1.0]], [g=[2.0]])")
    _compare(
        "RMSprop() on w=[1.0], g=[2.0]",
        params,
        history,
        ref.run("RMSprop", {}, params, grads),
        RMSPROP_RTOL,
        mistakes=_rmsprop_mistakes(params, grads, 0.001, 0.9, 1e-7)
        + [
            (
                "the moving average is missing: v = rho * v + (1 - rho) * grad**2, then divide by sqrt(v + eps)",
                _simulate(params, grads, lambda g, s, t: -0.001 * g / np.sqrt(g * g + 1e-7)),
            )
        ],
    )


@pytest.mark.kata("optimizers.RMSprop")
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_rmsprop_several_params_several_steps(kata, scale):
    params, grads = _problem(seed=6, scale=scale, steps=5)
    history = _run_learner(kata(), params, grads, "RMSprop()")
    _compare(
        f"RMSprop() with gradients ~{scale:g}",
        params,
        history,
        ref.run("RMSprop", {}, params, grads),
        RMSPROP_RTOL,
        mistakes=_rmsprop_mistakes(params, grads, 0.001, 0.9, 1e-7),
    )


@pytest.mark.kata("optimizers.RMSprop")
@pytest.mark.parametrize("scale", [1e-7, 1e-9])
def test_rmsprop_tiny_gradients(kata, scale):
    # Here sqrt(v) ~ scale is far below sqrt(epsilon) ~ 3e-4: where epsilon goes decides the step.
    params, grads = _problem(seed=7, scale=scale, steps=5)
    history = _run_learner(kata(), params, grads, "RMSprop()")
    _compare(
        f"RMSprop() with tiny gradients ~{scale:g}",
        params,
        history,
        ref.run("RMSprop", {}, params, grads),
        RMSPROP_RTOL,
        mistakes=_rmsprop_mistakes(params, grads, 0.001, 0.9, 1e-7),
    )


@pytest.mark.kata("optimizers.RMSprop")
def test_rmsprop_custom_hyperparameters(kata):
    params, grads = _problem(seed=8, scale=1e-2, steps=6)
    config = {"learning_rate": 0.01, "rho": 0.5, "epsilon": 1e-4}
    label = "RMSprop(learning_rate=0.01, rho=0.5, epsilon=1e-4)"
    history = _run_learner(kata(**config), params, grads, label)
    _compare(
        label,
        params,
        history,
        ref.run("RMSprop", config, params, grads),
        RMSPROP_RTOL,
        mistakes=_rmsprop_mistakes(params, grads, 0.01, 0.5, 1e-4)
        + [
            (
                "the constructor's arguments are not used: read self.learning_rate, self.rho, self.epsilon",
                _simulate(params, grads, _rmsprop_step(0.001, 0.9, 1e-7)),
            )
        ],
    )


# ------------------------------------------------------------------ kata optimizers.Adam


def _adam_mistakes(params, grads, lr, b1, b2, eps):
    return _epsilon_default_mistake(params, grads, lambda e: _adam_step(lr, b1, b2, e, "keras"), eps) + [
        (
            "epsilon is inside the square root: sqrt(v + epsilon) is RMSprop's form; Adam divides m by "
            "sqrt(v) + epsilon",
            _simulate(params, grads, _adam_step(lr, b1, b2, eps, "epsilon inside")),
        ),
        (
            "that is the textbook form lr * m_hat / (sqrt(v_hat) + eps); Keras folds the bias corrections into "
            "alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) and divides m by sqrt(v) + eps",
            _simulate(params, grads, _adam_step(lr, b1, b2, eps, "textbook")),
        ),
        (
            "the bias correction is missing: alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)",
            _simulate(params, grads, _adam_step(lr, b1, b2, eps, "no bias correction")),
        ),
        (
            "t stays at 1 (the bias correction is frozen at t = 1): count the steps (t = 1 on the first apply, "
            "2 on the next, ...), once per apply call",
            _simulate(params, grads, _adam_step(lr, b1, b2, eps, "t stuck at 1")),
        ),
        # Per parameter first: its second array at step 1 looks like a counter that starts at 2.
        (
            "your step counter advances once per PARAMETER: the first apply used t = 1, 2, 3, ... for its arrays. "
            "Increment it once per apply call, before the loop over the parameters",
            _simulate_counting_per_parameter(params, grads, _adam_step(lr, b1, b2, eps, "t from 1")),
        ),
        (
            "your step counter starts at 2: the first apply must use t = 1 (increment self.iterations from 0 "
            "once, before using it, or start it at 0)",
            _simulate(params, grads, _adam_step(lr, b1, b2, eps, "t from 2")),
        ),
    ]


@pytest.mark.kata("optimizers.Adam")
def test_adam_docstring_example(kata):
    params, grads = [np.array([1.0])], [[np.array([2.0])]]
    history = _run_learner(kata(), params, grads, "Adam().apply([w=[1.0]], [g=[2.0]])")
    _compare(
        "Adam() on w=[1.0], g=[2.0]",
        params,
        history,
        ref.run("Adam", {}, params, grads),
        ADAM_RTOL,
        mistakes=_adam_mistakes(params, grads, 0.001, 0.9, 0.999, 1e-7),
    )


@pytest.mark.kata("optimizers.Adam")
@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_adam_several_params_several_steps(kata, scale):
    params, grads = _problem(seed=9, scale=scale, steps=8)
    history = _run_learner(kata(), params, grads, "Adam()")
    _compare(
        f"Adam() with gradients ~{scale:g}",
        params,
        history,
        ref.run("Adam", {}, params, grads),
        ADAM_RTOL,
        mistakes=_adam_mistakes(params, grads, 0.001, 0.9, 0.999, 1e-7),
    )


@pytest.mark.kata("optimizers.Adam")
@pytest.mark.parametrize("scale", [1e-7, 1e-8, 1e-9])
def test_adam_tiny_gradients(kata, scale):
    # sqrt(v) ~ scale * sqrt(1 - beta_2**t) is comparable to epsilon here, so
    # where epsilon enters (Keras: next to sqrt(v)) changes the step by 2x-20x.
    params, grads = _problem(seed=10, scale=scale, steps=6)
    history = _run_learner(kata(), params, grads, "Adam()")
    _compare(
        f"Adam() with tiny gradients ~{scale:g}",
        params,
        history,
        ref.run("Adam", {}, params, grads),
        ADAM_RTOL,
        mistakes=_adam_mistakes(params, grads, 0.001, 0.9, 0.999, 1e-7),
    )


@pytest.mark.kata("optimizers.Adam")
def test_adam_custom_hyperparameters_long_run(kata):
    params, grads = _problem(seed=11, scale=1e-2, steps=30)
    config = {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5}
    label = "Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5), 30 steps"
    history = _run_learner(kata(**config), params, grads, label)
    _compare(
        label,
        params,
        history,
        ref.run("Adam", config, params, grads),
        ADAM_RTOL,
        mistakes=_adam_mistakes(params, grads, 0.01, 0.8, 0.99, 1e-5),
    )


# --------------------------------------------- float32-exact hyperparameters: a tight tolerance

EXACT_CASES = [
    ("optimizers.sgd_momentum", "SGD", {"learning_rate": 0.0625, "momentum": 0.875}),
    ("optimizers.sgd_momentum", "SGD", {"learning_rate": 0.0625, "momentum": 0.875, "nesterov": True}),
    ("optimizers.RMSprop", "RMSprop", {"learning_rate": 0.0078125, "rho": 0.875, "epsilon": 1e-6}),
    ("optimizers.Adam", "Adam", {"learning_rate": 0.0078125, "beta_1": 0.875, "beta_2": 0.9990234375}),
]


@pytest.mark.parametrize(
    "kata_id, name, config",
    [pytest.param(*case, marks=pytest.mark.kata(case[0]), id=f"{case[1]}-{i}") for i, case in enumerate(EXACT_CASES)],
)
def test_float32_exact_hyperparameters_at_float64_precision(kata, kata_id, name, config):
    # Keras holds these hyperparameters exactly, so its float64 updates are exact float64 arithmetic:
    # a velocity or moving average kept in float32 (or a step computed in it) is off by ~1e-7.
    params, grads = _problem(seed=12, steps=20)
    label = f"{name}({', '.join(f'{k}={v!r}' for k, v in config.items())}), 20 steps"
    history = _run_learner(kata(**config), params, grads, label)
    _compare(label, params, history, ref.run(name, config, params, grads), EXACT_RTOL)
