"""Find the first piece of a training run that differs from Keras, and name it.

A capstone compares a whole training history with Keras's. When the
histories part, that comparison alone cannot say why: the optimizer, a
layer's backward pass, the loss, the batching and the validation split all
feed the same number. :func:`diagnose` checks those pieces one at a time,
each against Keras on a tiny problem or on the capstone's own first batch, in
the order a difference would spread:

1. the optimizer, in the regime where the whole run diverges: as many steps
   as the capstone's fit takes, on two small parameters, one ``apply`` per
   step, with gradients around 1, tiny ones (1e-7, where epsilon is as large
   as ``sqrt(v)``), small ones and large ones, at the capstone's own tolerance
   when Keras holds the hyperparameters exactly (``"your Adam's update differs
   from Keras's from step 1 (tiny gradients, around 1e-07): ..."``), with the
   known mistakes named (textbook Adam's epsilon on ``sqrt(v_hat)``, RMSprop's
   epsilon outside the root, step counter from 2, bias correction frozen at
   t = 1, counter advanced per parameter, dampened momentum, ...). Gradients
   around 1 alone cannot show where epsilon sits: textbook Adam is 7.5e-5
   relative from Keras there, and 30 times off with tiny gradients;
2. how the model uses it: one ``apply`` per batch with every weight (not one
   per layer, which makes the optimizer count several steps per batch and
   share its slots between layers), and one step per batch of the epoch (the
   last, smaller batch included);
3. each layer's forward and backward on the first batch, against a fresh
   Keras layer with the same weights (:func:`reference.layers.layer_run`);
4. the loss and its gradient on the model's output for that batch;
5. the gradients ``fit`` hands to ``optimizer.apply`` on the first batch,
   against ``tf.GradientTape`` on Keras's compiled loss: what the pieces above
   do not see (a loss gradient ``fit`` computes itself, summed over the batch
   instead of averaged; a penalty's gradient left out);
6. the validation split: ``val_loss`` is the loss on the last fraction;
7. only when every piece matches: the first epoch and batch where the loss of
   a ``train_on_batch`` replay parts from Keras's.

It returns the first difference as a sentence for the learner, or None.
The Keras side comes from ``reference`` (plain NumPy, cached).
"""

from __future__ import annotations

import copy
import math
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Imported with the tests, so that a forked check sends these calls to the harness's parent.
import reference.layers
import reference.losses
import reference.optimizers
import reference.training

from .layers import describe

#: Updates of a correct float64 optimizer agree with Keras's exactly (measured: 0.0 over 24 steps,
#: every regime below) with float32-exact hyperparameters, and to ~7e-6 relative with others (Keras
#: rounds beta_1, beta_2, rho and the learning rate through float32, not epsilon). With inexact
#: ones the check allows UPDATE_RTOL; with exact ones, the capstone's own tolerance.
UPDATE_RTOL = 1e-4
OPTIMIZER_STEPS = 4
#: The optimizer check runs at most this many steps (a capstone's parity fit takes 12 to 24).
MAX_OPTIMIZER_STEPS = 64
LAYER_RTOL = 1e-6
#: ``(what the learner reads, gradient scale)``. Measured, 24 steps at the capstones' Adam settings:
#: textbook Adam is off by 7.5e-5 (around 1), 0.73 (1e-4), 30x (1e-7) and 7.5e-8 (1e3); RMSprop with
#: epsilon outside the root by 2.3e-4, 2e2, 3e3 and 6.6e-9.
GRADIENT_REGIMES = (
    ("gradients around 1", 1.0),
    ("tiny gradients, around 1e-07, where epsilon is as large as sqrt(v)", 1e-7),
    ("small gradients, around 1e-04", 1e-4),
    ("large gradients, around 1e+03", 1e3),
)
#: Keras's defaults, to tell whether a configuration is float32-exact.
KERAS_DEFAULTS = {
    "Adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999},
    "RMSprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0},
    "SGD": {"learning_rate": 0.01, "momentum": 0.0},
}


# ------------------------------------------------------------------ 1. the optimizer


def _problem(seed=0, steps=OPTIMIZER_STEPS, scale=1.0):
    """Two small parameters and ``steps`` gradient lists around ``scale`` (their size varies by step)."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    grads = [[scale * (1.0 + step % 4) * rng.normal(size=p.shape) for p in params] for step in range(steps)]
    return params, grads


def _float32_exact(name, config) -> bool:
    """Whether Keras holds every hyperparameter it rounds through float32 exactly (epsilon it does not round)."""
    values = {**KERAS_DEFAULTS.get(name, {}), **config}
    return all(
        float(np.float32(v)) == float(v)
        for k, v in values.items()
        if k != "epsilon" and isinstance(v, (int, float)) and not isinstance(v, bool)
    )


def update_tolerance(name, config, rtol=None) -> float:
    """The tolerance of the optimizer check: the capstone's own where Keras is exact, else UPDATE_RTOL."""
    if rtol is not None and _float32_exact(name, config):
        return max(rtol, 1e-12)
    return UPDATE_RTOL


def _adam_like(config, schedule):
    """NumPy Adam whose step number for (step, param index) is ``schedule(step, index)``: the mistakes."""
    lr, b1, b2 = config.get("learning_rate", 0.001), config.get("beta_1", 0.9), config.get("beta_2", 0.999)
    eps = config.get("epsilon", 1e-7)

    def run(params, grads):
        params = [p.copy() for p in params]
        m, v, out = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params], []
        for step, gs in enumerate(grads):
            for i, g in enumerate(gs):
                t = schedule(step, i, len(gs))
                m[i] += (g - m[i]) * (1 - b1)
                v[i] += (g * g - v[i]) * (1 - b2)
                params[i] -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m[i] / (np.sqrt(v[i]) + eps)
            out.append([p.copy() for p in params])
        return out

    return run


def _sgd_dampened(config):
    lr, mom = config.get("learning_rate", 0.01), config.get("momentum", 0.0)

    def run(params, grads):
        params, vel, out = [p.copy() for p in params], [np.zeros_like(p) for p in params], []
        for gs in grads:
            for i, g in enumerate(gs):
                vel[i] = mom * vel[i] + (1 - mom) * g
                params[i] -= lr * vel[i]
            out.append([p.copy() for p in params])
        return out

    return run


def _adam_textbook(config):
    """Adam as the paper's Algorithm 1 writes it: epsilon added to sqrt(v_hat)."""
    lr, b1, b2 = config.get("learning_rate", 0.001), config.get("beta_1", 0.9), config.get("beta_2", 0.999)
    eps = config.get("epsilon", 1e-7)

    def run(params, grads):
        params = [p.copy() for p in params]
        m, v, out = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params], []
        for step, gs in enumerate(grads, start=1):
            for i, g in enumerate(gs):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                params[i] -= lr * (m[i] / (1 - b1**step)) / (np.sqrt(v[i] / (1 - b2**step)) + eps)
            out.append([p.copy() for p in params])
        return out

    return run


def _rmsprop_epsilon_outside(config):
    lr, rho, eps = config.get("learning_rate", 0.001), config.get("rho", 0.9), config.get("epsilon", 1e-7)

    def run(params, grads):
        params, v, out = [p.copy() for p in params], [np.zeros_like(p) for p in params], []
        for gs in grads:
            for i, g in enumerate(gs):
                v[i] = rho * v[i] + (1 - rho) * g * g
                params[i] -= lr * g / (np.sqrt(v[i]) + eps)
            out.append([p.copy() for p in params])
        return out

    return run


TEXTBOOK_ADAM = (
    "epsilon is added to sqrt(v_hat), as the Adam paper writes it (w -= lr * m_hat / (sqrt(v_hat) + "
    "epsilon)); Keras folds the bias corrections into the step size and adds epsilon to sqrt(v): "
    "alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t), w -= alpha * m / (sqrt(v) + epsilon). The two "
    "agree where sqrt(v) is far above epsilon and part on small gradients"
)
RMSPROP_EPSILON_OUTSIDE = (
    "epsilon is added outside the square root (g / (sqrt(v) + epsilon)); Keras adds it inside: "
    "w -= lr * g / sqrt(v + epsilon). The two agree on large gradients and part on small ones"
)


def _known_optimizer_mistakes(name, config):
    if name == "RMSprop":
        return {RMSPROP_EPSILON_OUTSIDE: _rmsprop_epsilon_outside(config)}
    if name == "Adam":
        return {
            TEXTBOOK_ADAM: _adam_textbook(config),
            "your step counter starts at 2 (or is advanced before the first update): Keras's first step uses "
            "t = 1, i.e. t = iterations + 1 with iterations = 0 before the first apply": _adam_like(
                config, lambda step, i, n: step + 2
            ),
            "the bias correction is frozen at t = 1: compute beta_1**t and beta_2**t with the current step t "
            "on every apply": _adam_like(config, lambda step, i, n: 1),
            "your step counter advances once per parameter: it must advance once per apply() call (one step "
            "for all parameters)": _adam_like(config, lambda step, i, n: step * n + i + 1),
        }
    if name == "SGD" and config.get("momentum"):
        return {
            "your momentum is dampened (v = momentum * v + (1 - momentum) * g): Keras keeps "
            "v = momentum * v - learning_rate * g, then w += v": _sgd_dampened(config)
        }
    return {}


def _optimizer_hint(name, step):
    if step == 1:
        return {
            "Adam": "does your step counter start at 1, with the bias corrections folded into the step size "
            "(alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)) and epsilon added to sqrt(v)?",
            "SGD": "is the update v = momentum * v - learning_rate * g, w += v (Nesterov: w += momentum * v "
            "- learning_rate * g)?",
            "RMSprop": "is it v = rho * v + (1 - rho) * g**2, w -= lr * g / sqrt(v + epsilon)?",
        }.get(name, "")
    return (
        "the first step agrees and a later one does not: the optimizer's state (step counter, moving "
        "averages, velocities) is not carried from one apply() to the next as Keras carries it: one slot "
        "per parameter, one step per apply()"
    )


def optimizer_difference(
    optimizer_class, name: str, config: dict, impl_folder: Path | None = None, steps: int = OPTIMIZER_STEPS, rtol=None
) -> str | None:
    """The first step where ``optimizer_class(**config)`` moves a parameter differently from Keras's.

    Runs ``steps`` steps (a capstone passes the number its fit takes) in each of the
    :data:`GRADIENT_REGIMES`, at :func:`update_tolerance` (the capstone's ``rtol`` where Keras holds
    the hyperparameters exactly).
    """
    steps = max(OPTIMIZER_STEPS, min(int(steps), MAX_OPTIMIZER_STEPS))
    tolerance = update_tolerance(name, config, rtol)
    for regime, scale in GRADIENT_REGIMES:
        params, grads = _problem(steps=steps, scale=scale)
        found = _regime_difference(optimizer_class, name, config, impl_folder, params, grads, tolerance)
        if found:
            where, explanation = found
            return where.replace("{regime}", regime) + explanation
    return None


def _regime_difference(optimizer_class, name, config, impl_folder, params, grads, tolerance):
    """``(where, explanation)`` of the first step that differs on this problem, or None."""
    expected = reference.optimizers.run(name, config, params, grads)
    mine, got = [p.copy() for p in params], []
    try:
        optimizer = optimizer_class(**config)
        for gs in grads:
            optimizer.apply(mine, [g.copy() for g in gs])
            got.append([np.array(p, dtype=float, copy=True) for p in mine])
    except NotImplementedError:
        raise
    except Exception as error:
        return (
            f"your {name}({_kwargs(config)}).apply raised {type(error).__name__}: {error} on step "
            f"{len(got) + 1} of a tiny problem (two parameters, one apply per step, {{regime}})",
            _where(error, impl_folder),
        )
    for step in range(len(grads)):
        for index in range(len(params)):
            before_mine = params[index] if step == 0 else got[step - 1][index]
            before_keras = params[index] if step == 0 else expected[step - 1][index]
            update, keras_update = got[step][index] - before_mine, expected[step][index] - before_keras
            # atol: a few roundings of the parameter itself, which an update read as a difference carries
            atol = 8 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(before_keras))))
            if not np.allclose(update, keras_update, rtol=tolerance, atol=atol):
                flat = int(np.argmax(np.abs(update - keras_update).ravel()))
                numbers = f"{update.ravel()[flat]:.6g} vs {keras_update.ravel()[flat]:.6g}"
                explanation = _named_optimizer_mistake(name, config, params, grads, got) or _optimizer_hint(
                    name, step + 1
                )
                return (
                    f"your {name}({_kwargs(config)})'s update differs from Keras's from step {step + 1} "
                    f"({{regime}}): {numbers} (parameter {index}, after {step} earlier steps, all parameters in "
                    f"one apply per step, rtol={tolerance:g}); ",
                    explanation,
                )
    return None


def _named_optimizer_mistake(name, config, params, grads, got):
    for explanation, run in _known_optimizer_mistakes(name, config).items():
        wrong = run(params, grads)
        if all(
            np.allclose(a, b, rtol=1e-9, atol=1e-15)
            for step_a, step_b in zip(got, wrong)
            for a, b in zip(step_a, step_b)
        ):
            return explanation
    return None


def _kwargs(config):
    return ", ".join(f"{k}={v!r}" for k, v in config.items())


def _where(error, impl_folder):
    if impl_folder is None or error.__traceback__ is None:
        return ""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _inside(f.filename, impl_folder)]
    if not frames:
        return ""
    frame = frames[-1]
    return f"\n  at {Path(frame.filename).name}, line {frame.lineno}, in {frame.name}: {frame.line}"


def _inside(filename, folder):
    try:
        return Path(filename).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, ValueError):
        return False


# ---------------------------------------------- 2. how the model calls the optimizer


class _ApplySpy:
    """Stands in for the model's optimizer: records every apply() call, then passes it on."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.calls: list[int] = []

    def apply(self, params, grads):
        self.calls.append(len(params))
        return self.optimizer.apply(params, grads)

    def __getattr__(self, name):
        return getattr(self.optimizer, name)


def _weight_count(model):
    return sum(len(getattr(layer, "weights", []) or []) for layer in model.layers)


def apply_difference(model, x, y, batch_size, impl_folder=None) -> str | None:
    """How the learner's fit calls the optimizer during one epoch (on a copy of the model)."""
    copy_ = copy.deepcopy(model)
    spy = _ApplySpy(copy_.optimizer)
    copy_.optimizer = spy
    n = len(x)
    steps = -(-n // batch_size)
    raised = None
    try:
        copy_.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False, verbose=0)
    except NotImplementedError:
        raise
    except Exception as error:
        raised = error
    total = _weight_count(copy_)
    if spy.calls and (len(spy.calls) > steps or spy.calls[0] != total):
        per_batch = spy.calls[: max(1, len(spy.calls) // max(steps, 1))]
        ending = (
            f"; it then raised {type(raised).__name__}: {raised}{_where(raised, impl_folder)}"
            if raised is not None
            else ""
        )
        return (
            f"your fit calls optimizer.apply {len(spy.calls)} times in an epoch of {steps} batches, with "
            f"{per_batch if len(spy.calls) > steps else spy.calls[:1]} arrays per call, where the model has "
            f"{total} weight arrays: call optimizer.apply(params, grads) once per batch, with every layer's "
            f"weights and grads together. One apply per layer makes the optimizer count several steps per "
            f"batch and hand the first layer's slots (moving averages) to the next{ending}"
        )
    if raised is not None:
        return None  # the error is not about the optimizer: let it speak for itself
    if len(spy.calls) != steps:
        return (
            f"your fit took {len(spy.calls)} optimizer steps in one epoch of {n} samples with batch_size="
            f"{batch_size}; Keras takes ceil({n}/{batch_size}) = {steps}: one per batch, the last, smaller "
            f"batch included"
        )
    return None


# ------------------------------------------------------------------ 3. the layers


def keras_spec(layer) -> tuple[str, dict] | None:
    """``(keras class name, config)`` read from a learner's layer, or None if it cannot be read."""
    read = {
        "Dense": ("units", "activation"),
        "Conv2D": ("filters", "kernel_size", "strides", "padding", "activation"),
        "MaxPooling2D": ("pool_size", "strides", "padding"),
        "Flatten": (),
        "Embedding": ("input_dim", "output_dim"),
        "SimpleRNN": ("units", "return_sequences"),
        "LSTM": ("units", "return_sequences"),
        "GRU": ("units", "return_sequences"),
    }
    kind = next((klass.__name__ for klass in type(layer).__mro__ if klass.__name__ in read), None)
    if kind is None:  # a subclass of Dense is a Dense: the nearest known base names the layer
        return None
    try:
        config = {name: getattr(layer, name) for name in read[kind]}
    except AttributeError:
        return None
    for key in ("kernel_size", "strides", "pool_size"):
        if isinstance(config.get(key), (list, np.ndarray)):
            config[key] = tuple(int(v) for v in config[key])
    if "activation" in config and config["activation"] is None:
        config["activation"] = "linear"
    return kind, config


def _model_layers(model):
    return [layer for layer in model.layers if type(layer).__name__ != "Input"]


def layer_differences(model, x_batch, seed=0) -> str | None:
    """The first layer whose forward, grads or dx differ from a fresh Keras layer's on ``x_batch``.

    Each layer gets Keras's output of the layer before (so one wrong layer is named once) and a
    seeded random ``dout``.
    """
    ref = reference.layers
    rng = np.random.default_rng(seed)
    copy_ = copy.deepcopy(model)
    inputs = np.asarray(x_batch, dtype=float)
    for number, layer in enumerate(_model_layers(copy_), start=1):
        spec = keras_spec(layer)
        if spec is None:
            return None  # a layer we cannot mirror: stop here rather than guess
        kind, config = spec
        keras_inputs = inputs.astype(np.int64) if kind == "Embedding" else inputs
        out = np.asarray(layer.forward(inputs, training=True), dtype=float)
        dout = rng.normal(size=out.shape)
        expected = ref.layer_run(kind, config, inputs.shape[1:], layer.get_weights(), keras_inputs, dout)
        name = f"layer {number}, {describe(kind, config)}"
        if out.shape != expected["output"].shape or not np.allclose(
            out, expected["output"], rtol=LAYER_RTOL, atol=1e-12
        ):
            return (
                f"{name}: its forward pass on the first batch differs from Keras's"
                f"{_first_values(out, expected['output'])}. Run its layer kata again"
            )
        dx = layer.backward(dout)
        for index, (grad, want) in enumerate(zip(getattr(layer, "grads", []) or [], expected["grads"])):
            if want is not None and (
                np.shape(grad) != want.shape or not np.allclose(grad, want, rtol=1e-5, atol=1e-10)
            ):
                return (
                    f"{name}: its backward pass puts a d {expected['weight_names'][index]} into grads[{index}] "
                    f"that differs from GradientTape's on the first batch{_first_values(grad, want)}. Run its "
                    f"layer kata again"
                )
        if expected["dx"] is not None and (
            np.shape(dx) != expected["dx"].shape or not np.allclose(dx, expected["dx"], rtol=1e-5, atol=1e-10)
        ):
            return (
                f"{name}: the dx its backward pass returns differs from GradientTape's on the first batch"
                f"{_first_values(dx, expected['dx'])}. Run its layer kata again"
            )
        inputs = expected["output"]
    return None


def _first_values(got, expected):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        return f" (shape {got.shape}, Keras's {expected.shape})"
    index = np.unravel_index(int(np.argmax(np.abs(got - expected))), expected.shape)
    return f" (at {tuple(int(i) for i in index)}: {got[index]:.6g} vs {expected[index]:.6g})"


# ------------------------------------------------------------------ 4. the loss


def loss_difference(losses_module, loss: str, y, probabilities) -> str | None:
    """The learner's ``losses.<loss>`` and ``<loss>_grad`` on the first batch, against Keras's."""
    ref = reference.losses
    name = {"mse": "mean_squared_error"}.get(loss, loss)
    y, probabilities = np.asarray(y), np.asarray(probabilities, dtype=float)
    cases = [("", probabilities, {})]
    if "crossentropy" in name:
        logits = np.random.default_rng(1).normal(size=probabilities.shape)
        cases.append((", from_logits=True", logits, {"from_logits": True}))
    for suffix, values, options in cases:
        function, grad = getattr(losses_module, name, None), getattr(losses_module, name + "_grad", None)
        if function is None or grad is None:
            return None
        got, want = float(function(y, values, **options)), ref.loss(name, y, values, **options)
        if not np.isclose(got, want, rtol=1e-6, atol=1e-12):
            return (
                f"losses.{name}(y, y_pred{suffix}) on the first batch gives {got:.8g}; Keras's {want:.8g}. "
                f"Run the losses katas again"
            )
        got_grad, want_grad = np.asarray(grad(y, values, **options)), ref.loss_grad(name, y, values, **options)
        if got_grad.shape != want_grad.shape or not np.allclose(got_grad, want_grad, rtol=1e-5, atol=1e-12):
            return (
                f"losses.{name}_grad(y, y_pred{suffix}) on the first batch differs from GradientTape's"
                f"{_first_values(got_grad, want_grad)}. Run the losses katas again"
            )
    return None


# ------------------------------------------------- the gradients fit hands the optimizer


class _GradientSpy:
    """Stands in for the model's optimizer: keeps the first apply()'s gradients and moves nothing."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.grads = None

    def apply(self, params, grads):
        if self.grads is None:
            self.grads = [np.array(g, dtype=float, copy=True) for g in grads]

    def __getattr__(self, name):
        return getattr(self.optimizer, name)


def _common_factor(got, want) -> float | None:
    """``c`` when ``got`` is ``c * want`` throughout (a gradient summed instead of averaged), else None."""
    got, want = np.ravel(got), np.ravel(want)
    big = np.abs(want) > 1e-8 * max(float(np.max(np.abs(want))), 1e-300)
    if not big.any():
        return None
    factor = float(np.median(got[big] / want[big]))
    return factor if np.allclose(got, factor * want, rtol=1e-6, atol=1e-12) else None


def gradient_difference(model, x_batch, y_batch, keras_gradients: list) -> str | None:
    """The gradients the learner's ``fit`` hands to ``optimizer.apply`` on one batch, against Keras's.

    ``keras_gradients`` is ``get_weights()``-ordered, None where a weight does not train (what the
    reference's ``first_batch_gradients`` return). Runs on a copy of the model, whose optimizer
    only records: nothing moves.
    """
    copy_ = copy.deepcopy(model)
    spy = _GradientSpy(copy_.optimizer)
    copy_.optimizer = spy
    try:
        copy_.fit(x_batch, y_batch, epochs=1, batch_size=len(x_batch), shuffle=False, verbose=0)
    except NotImplementedError:
        raise
    except Exception:
        return None  # the error is not about the gradients: let it speak for itself
    if spy.grads is None or len(spy.grads) != len(keras_gradients):
        return None  # how fit calls apply is apply_difference's business
    weights = model.get_weights()
    for index, (got, want) in enumerate(zip(spy.grads, keras_gradients)):
        if want is None or (got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-10)):
            continue
        seen = (
            f"the gradients your fit hands to optimizer.apply on the first batch ({len(x_batch)} samples) "
            f"differ from tf.GradientTape's of Keras's loss: weight array {index} (shape {want.shape})"
        )
        return seen + _gradient_explanation(got, want, weights[index] if index < len(weights) else None, len(x_batch))
    return None


def _gradient_explanation(got, want, weight, batch):
    """Why fit's gradient of one weight differs from Keras's, when the difference has a known form."""
    if got.shape != want.shape:
        return f"{_first_values(got, want)}"
    factor = _common_factor(got, want)
    if factor is not None and np.isclose(factor, batch, rtol=1e-6):
        return (
            f" is {factor:g} times Keras's everywhere: the loss is the MEAN over the batch, so the gradient "
            f"that starts the backward pass carries 1/batch_size (divide (p - y) by the batch size)"
        )
    penalty = _common_factor(want - got, weight) if np.shape(weight) == want.shape else None
    if penalty is not None and penalty != 0:
        return (
            f" misses {penalty:g} * the weight itself (Keras's minus yours): an L2 penalty's gradient, 2 * l2 * "
            f"kernel, is {'missing from' if penalty > 0 else 'counted twice in'} grads. The penalty joins the "
            f"loss, so its gradient joins the kernel's gradient in backward, on every path (backward and "
            f"backward_from_logits)"
        )
    return (
        f"{_first_values(got, want)}. Each layer's backward and the losses match on their own, so look at what "
        f"fit does between them: the gradient it starts the backward pass with (the loss's, averaged over the "
        f"batch), and the layers' penalties (their gradients belong in grads too)"
    )


# ------------------------------------------------------------- 5. the validation split


def split_difference(model, x, y, validation_split, batch_size) -> str | None:
    """``val_loss`` after one epoch must be the model's own loss on the last fraction of the data."""
    if not validation_split:
        return None
    ref = reference.training
    _, _, val_x, val_y = ref.train_val_split(np.asarray(x), np.asarray(y), validation_split)
    copy_ = copy.deepcopy(model)
    try:
        history = copy_.fit(
            x, y, epochs=1, batch_size=batch_size, validation_split=validation_split, shuffle=False, verbose=0
        )
        result = copy_.evaluate(val_x, val_y, batch_size=batch_size)
    except NotImplementedError:
        raise
    except Exception:
        return None
    logged = history.history.get("val_loss", [None])[-1]
    result = result[0] if isinstance(result, (list, tuple)) else result
    if logged is None or not np.isclose(logged, result, rtol=1e-9):
        return (
            f"after one epoch with validation_split={validation_split}, your val_loss is {logged}, but the "
            f"loss of the model on the last {len(val_x)} samples is {result:.8g}: Keras validates on the LAST "
            f"fraction of the data as given, split_at = floor(n * (1 - validation_split)), cut before any "
            f"shuffling"
        )
    return None


# ------------------------------------------------------------------ 6. the replay


def batch_difference(
    make_model: Callable[[], Any], specs, input_shape, weights, x, y, loss, optimizer, epochs, batch_size, rtol
) -> str | None:
    """The first (epoch, batch) where ``train_on_batch`` losses part from Keras's, replaying ``fit``."""
    expected = reference.layers.batch_losses(specs, input_shape, weights, x, y, loss, optimizer, epochs, batch_size)
    model = make_model()
    for epoch in range(epochs):
        for batch, start in enumerate(range(0, len(x), batch_size)):
            value = model.train_on_batch(x[start : start + batch_size], y[start : start + batch_size])
            value = float(value[0] if isinstance(value, (list, tuple)) else value)
            want = expected[epoch][batch]
            if not np.isclose(value, want, rtol=rtol, atol=1e-12):
                return (
                    f"every piece this check covers matches Keras on its own (the optimizer over this many "
                    f"steps with tiny to large gradients, each layer forward and backward on the first batch, "
                    f"the loss, the gradients fit hands the optimizer, batching, the validation split), yet "
                    f"replaying fit batch by batch with train_on_batch, the losses part at epoch {epoch + 1}, "
                    f"batch {batch + 1}: {value:.10g} vs Keras's {want:.10g} (relative "
                    f"{abs(value - want) / abs(want):.1e}, rtol={rtol:g}). Look at what differs between batches: "
                    f"state kept from one batch to the next (the optimizer's slots, a layer's cached values)"
                )
    return None


# ------------------------------------------------------------------ all together


def diagnose(
    impl,
    *,
    make_model: Callable[[], Any],
    optimizer: tuple[str, dict],
    loss: str,
    x,
    y,
    batch_size: int = 32,
    validation_split: float = 0.0,
    epochs: int = 1,
    rtol: float = 1e-9,
    specs=None,
    input_shape=None,
    replay: bool = True,
) -> str | None:
    """The first piece of a capstone's training that differs from Keras, as a sentence; None if none.

    Args:
        impl: the implementation under test (the ``impl`` fixture).
        make_model: builds the learner's model at the parity run's initial weights, compiled with
            the learner's optimizer ``optimizer`` and ``loss``.
        optimizer: ``(Keras class name, config)``, e.g. ``("Adam", {"learning_rate": 2**-10, ...})``.
        loss, x, y, batch_size, validation_split, epochs: the parity run's ``fit`` arguments.
        rtol: the tolerance of the final replay.
        specs, input_shape: the model as ``[(keras class, config), ...]`` for the replay; read from
            the learner's layers when None.
        replay: False skips the final batch-by-batch replay (for data where Keras itself is known to
            differ from a dense implementation, e.g. Adam on an Embedding with repeated ids).
    """
    name, config = optimizer
    folder = getattr(impl, "folder", None)
    x, y = np.asarray(x), np.asarray(y)
    if validation_split:
        x_train, y_train, _, _ = reference.training.train_val_split(x, y, validation_split)
    else:
        x_train, y_train = x, y
    steps = epochs * -(-len(x_train) // batch_size)  # the optimizer steps the parity fit takes
    found = optimizer_difference(impl.get("optimizers", name), name, config, folder, steps=steps, rtol=rtol)
    if found:
        return found
    model = make_model()
    if specs is None:
        specs = [keras_spec(layer) for layer in _model_layers(model)]
    known = all(spec is not None for spec in specs)
    shape = tuple(input_shape) if input_shape is not None else x.shape[1:]
    found = apply_difference(model, x_train, y_train, batch_size, folder)
    found = found or _first_batch_difference(
        impl, make_model, loss, x_train[:batch_size], y_train[:batch_size], specs, shape
    )
    found = found or split_difference(make_model(), x, y, validation_split, batch_size)
    if found or not replay or not known:
        return found
    weights = make_model().get_weights()
    return batch_difference(
        make_model, specs, shape, weights, x_train, y_train, loss, optimizer, epochs, batch_size, rtol
    )


def _first_batch_difference(impl, make_model, loss, first_x, first_y, specs, shape) -> str | None:
    """The layers, the loss and the gradients fit computes, on the first batch (pieces 3 to 5)."""
    model = make_model()
    found = layer_differences(model, first_x)
    if found:
        return found
    probabilities = np.asarray(make_model().predict(first_x), dtype=float)
    found = loss_difference(impl.module("losses"), loss, first_y, probabilities)
    if found or any(spec is None for spec in specs):
        return found
    keras_gradients = reference.layers.first_batch_gradients(specs, shape, model.get_weights(), first_x, first_y, loss)
    return gradient_difference(make_model(), first_x, first_y, keras_gradients)


def optimizer_and_gradient_difference(
    impl, *, make_model, optimizer: tuple[str, dict], x, y, batch_size, epochs, rtol, keras_gradients
) -> str | None:
    """For a capstone whose layers :func:`layer_differences` cannot mirror (regularised Dense,
    BatchNormalization, a Transformer block): the optimizer in the run's regime (piece 1), how fit
    calls it (2) and the gradients fit hands it on the first batch (5).

    ``keras_gradients`` is a callable returning Keras's gradients on ``x[:batch_size]`` (the
    reference's ``first_batch_gradients``), called only when the pieces before it match.
    """
    name, config = optimizer
    folder = getattr(impl, "folder", None)
    steps = epochs * -(-len(x) // batch_size)
    found = optimizer_difference(impl.get("optimizers", name), name, config, folder, steps=steps, rtol=rtol)
    found = found or apply_difference(make_model(), x, y, batch_size, folder)
    return found or gradient_difference(make_model(), x[:batch_size], y[:batch_size], keras_gradients())


def reraise_with_diagnosis(error: BaseException, diagnosis: Callable[[], str | None] | None, what: str) -> None:
    """``error`` was raised while ``what`` ran: when ``diagnosis`` names the piece that differs, fail with
    that (and the error), because the place it was raised (say, inside the optimizer's arrays) often is
    not where the mistake is; otherwise raise ``error`` itself."""
    from .checks import KataFailure

    if isinstance(error, (NotImplementedError, KataFailure)) or diagnosis is None:
        raise error
    found = diagnosis()
    if not found:
        raise error
    raise KataFailure(f"{what}: {found}\n  (seen as: {type(error).__name__}: {error})") from None
