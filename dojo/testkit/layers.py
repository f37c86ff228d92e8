"""One check for every layer kata: the learner's layer class against a fresh Keras layer.

In the spirit of Keras's own ``keras.testing.TestCase.run_layer_test``, one
call of :func:`check_layer` walks the whole layer protocol that ``Sequential``
relies on (``solutions/model.py``, class ``Layer``), in the order a learner
builds it, and stops at the first step that differs from Keras, with a message
that names the step, the weight and, where a known mistake explains the
difference, that mistake:

1. **construct** ``layer_class(**config)`` (the kata's signature);
2. **build** ``layer.build(input_shape, rng)``: ``layer.weights`` must be a
   list of float64 arrays with Keras's shapes, in Keras's order (a weight whose
   shape is Keras's reversed is called transposed);
3. **count_params** and **compute_output_shape** agree with Keras's;
4. **set_weights** copies the values into the layer's own arrays: the arrays
   stay the same objects (the optimizer updates them in place) and changing
   the caller's arrays afterwards changes nothing; ``get_weights`` returns
   copies;
5. **forward** ``layer.forward(x)`` under those weights equals the Keras
   layer's output (and leaves ``x`` untouched);
6. **backward** ``layer.backward(dout)``: ``layer.grads`` holds one gradient
   per weight, same order and shapes, each equal to ``tf.GradientTape``'s
   gradient of ``sum(layer(x) * dout)``; the returned ``dx`` equals
   GradientTape's (skipped for integer inputs such as token ids, where Keras
   has no gradient: ``backward`` may return anything there).

The Keras side is :func:`reference.layers.layer_run` (plain NumPy in, plain
NumPy out, cached); ``reference`` imports TensorFlow only when a value is
computed, and in a forked check that happens in the harness's parent.

API::

    result = check_layer(
        Conv2D,                                # the learner's class (the `kata` fixture)
        dict(filters=3, kernel_size=2, strides=2, padding="same", activation="relu"),
        input_shape=(6, 6, 3),                 # per sample, as build() receives it
        x=x,                                   # a batch; ints for Embedding
        keras_class="Conv2D",                  # default: layer_class.__name__
        keras_config=None,                     # default: the same config
        weights=None,                          # default: seeded normal of Keras's shapes * weight_scale
        weight_scale=1.0,
        dout=None,                             # default: seeded normal of the output's shape
        seed=0,                                # seeds weights, dout and build's rng
        backward=True,                         # False: stop after the forward pass (a forward-only kata)
        training=None,                         # passed as forward(x, training=...) and to Keras
        mistakes={"output": {...}, "dx": {...}, "kernel": {...}},  # or a callable(weights, x, dout) -> that
        shape_hint=None,                       # callable(got, expected) -> str for output-shape mistakes
        name=None,                             # how the layer reads in messages
        shape_advice=None,                     # what a shape error raised in forward/backward should say
    )
    result.layer, result.expected, result.weights, result.x, result.dout   # for further checks

``mistakes`` keys are ``"output"``, ``"dx"`` and Keras's weight names
(``"kernel"``, ``"recurrent_kernel"``, ``"bias"``, ``"embeddings"``,
``"gamma"``, ...); each value maps an explanation to the wrong value a known
mistake produces (computed with ``layer_run`` on altered weights or config,
so that the wrong value too comes from Keras). A callable receives the
weights, ``x`` and ``dout`` actually used.

Tolerances: ``FORWARD_RTOL`` for outputs, ``GRADIENT_RTOL`` (atol 1e-10) for
gradients; a correct float64 layer agrees with Keras's to ~1e-15.

New layer katas (Dropout, BatchNormalization, LayerNormalization,
MultiHeadAttention) use the same call: ``training=True`` for the training-mode
pass, non-trainable weights (moving statistics) get no gradient from Keras
and are then not compared in ``grads`` (their expected gradient is None).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import reference.layers  # imported with the tests, so that a forked check sends these calls to the parent

from ..words import plural
from .checks import FORWARD_RTOL, GRADIENT_RTOL, assert_close, call, check, fail, show

GRADIENT_ATOL = 1e-10


@dataclass
class LayerCheck:
    """What :func:`check_layer` used and saw, for a test's own further checks."""

    layer: Any
    expected: dict
    weights: list
    x: np.ndarray
    dout: np.ndarray | None
    output: np.ndarray | None = None
    dx: Any = None
    text: str = ""
    extra: dict = field(default_factory=dict)


def describe(class_name: str, config: Mapping) -> str:
    """``Conv2D(filters=3, kernel_size=2)``: a layer as the learner would write it."""
    return f"{class_name}({', '.join(f'{k}={v!r}' for k, v in config.items())})"


def check_layer(
    layer_class,
    config: Mapping,
    input_shape,
    x,
    *,
    keras_class: str | None = None,
    keras_config: Mapping | None = None,
    weights=None,
    weight_scale: float = 1.0,
    dout=None,
    seed: int = 0,
    backward: bool = True,
    training=None,
    mistakes: Mapping | Callable | None = None,
    shape_hint: Callable | None = None,
    name: str | None = None,
    shape_advice: str | None = None,
) -> LayerCheck:
    """Check ``layer_class(**config)`` against ``keras.layers.<keras_class>(**keras_config)``.

    See the module docstring for the steps, the arguments and the messages.
    Raises ``KataFailure`` at the first step that differs.
    """
    ref, config = reference.layers, dict(config)
    keras_class = keras_class or _keras_name(layer_class)
    keras_config = dict(config if keras_config is None else keras_config)
    input_shape = tuple(input_shape)
    text = name or f"{describe(keras_class, config)} on input shape {input_shape}"
    facts = ref.layer_facts(keras_class, keras_config, input_shape)
    rng = np.random.default_rng(seed)

    layer = call(layer_class, **config)
    _check_build(layer, input_shape, facts, text, seed)
    _check_counts(layer, input_shape, facts, text, shape_hint)

    if weights is None:
        weights = [weight_scale * rng.normal(size=shape) for shape in facts["weight_shapes"]]
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    _check_set_weights(layer, weights, text)
    x = np.asarray(x)
    if dout is None and backward:
        dout = rng.normal(size=(len(x),) + tuple(facts["output_shape"]))
    expected = ref.layer_run(keras_class, keras_config, input_shape, weights, x, dout if backward else None, training)
    mistakes = dict((mistakes(weights, x, dout) if callable(mistakes) else mistakes) or {})
    result = LayerCheck(layer, expected, weights, x, dout, text=text)
    run = functools.partial(call_with_advice, advice=shape_advice) if shape_advice else call

    forward_text = f"{text}: forward(x {x.shape})"
    result.output = run(layer.forward, x) if training is None else run(layer.forward, x, training=training)
    _check_output_shape(result.output, expected["output"], forward_text, mistakes.get("output", {}), shape_hint)
    assert_close(result.output, expected["output"], call=forward_text, mistakes=mistakes.get("output", {}))
    if not backward:
        return result
    backward_text = f"{text}: backward(dout {np.shape(dout)})"
    result.dx = run(layer.backward, dout)
    _check_grads(layer, expected, backward_text, mistakes)
    if expected["dx"] is not None:
        _check_dx(result.dx, expected["dx"], x.shape, backward_text, mistakes.get("dx", {}))
    return result


# ------------------------------------------------------------------ the steps


def _check_dx(dx, expected_dx, x_shape, backward_text: str, mistakes: Mapping) -> None:
    """The gradient for the layer's input: returned at all, in the input's shape, equal to Keras's."""
    check(
        dx is not None,
        f"{backward_text} returned None; return dx, the gradient for the layer's "
        f"input x {x_shape} (the layer below needs it)",
    )
    dx_shape = np.shape(dx)
    if dx_shape != x_shape and not _named(dx, mistakes, expected_dx, GRADIENT_RTOL):
        fail(
            f"{backward_text} returned dx of shape {dx_shape}, expected {x_shape}: dx has the shape of the "
            f"layer's input x; reshape the gradient back to the input's shape"
        )
    assert_close(
        dx,
        expected_dx,
        call=backward_text,
        what="returned dx =",
        rtol=GRADIENT_RTOL,
        atol=GRADIENT_ATOL,
        mistakes=mistakes,
    )


def _keras_name(layer_class) -> str:
    """The Keras layer a class stands for: its own name, or its nearest base's (a subclass of Dense is a Dense)."""
    ref = reference.layers
    for klass in getattr(layer_class, "__mro__", (layer_class,)):
        if ref.is_keras_layer(klass.__name__):
            return klass.__name__
    return layer_class.__name__


def _check_build(layer, input_shape, facts, text, seed):
    call(layer.build, input_shape, np.random.default_rng(seed))
    names, shapes = facts["weight_names"], facts["weight_shapes"]
    order = ", ".join(f"{n} {s}" for n, s in zip(names, shapes)) or "none"
    mine = getattr(layer, "weights", None)
    check(
        isinstance(mine, (list, tuple)),
        f"{text}: after build, self.weights must be a list of arrays ({order}); it is {show(mine)}",
    )
    check(
        len(mine) == len(shapes),
        f"{text}: after build, self.weights holds {plural(len(mine), 'array')}; Keras's layer has {len(shapes)}: {order}"
        + (" (a layer without weights keeps self.weights = [])" if not shapes else ""),
    )
    for index, (w, name, shape) in enumerate(zip(mine, names, shapes)):
        got = np.shape(w)
        if got != shape:
            transposed = len(got) == len(shape) and got == shape[::-1] and got != shape
            fail(
                f"{text}: weight {index} has shape {got}; Keras's {name} is {shape} (order: {order})"
                + (f": the {name} is transposed" if transposed else "")
            )
        check(
            np.asarray(w).dtype == np.float64, f"{text}: weight {index} ({name}) is {np.asarray(w).dtype}; use float64"
        )


def _check_counts(layer, input_shape, facts, text, shape_hint):
    count = call(layer.count_params)
    check(
        count == facts["count_params"],
        f"{text}: count_params() is {count}; Keras counts {facts['count_params']:,} "
        f"({' + '.join(f'{n} {s}' for n, s in zip(facts['weight_names'], facts['weight_shapes'])) or 'no weights'})",
    )
    got = call(layer.compute_output_shape, input_shape)
    expected = tuple(facts["output_shape"])
    try:
        got_tuple = tuple(got)
    except TypeError:
        got_tuple = got
    if got_tuple != expected:
        hint = shape_hint(got_tuple, expected) if shape_hint else ""
        fail(
            f"{text}: compute_output_shape({input_shape}) gave {got}, expected {expected} (Keras, per sample: "
            f"no batch axis){': ' + hint if hint else ''}"
        )


def _check_set_weights(layer, weights, text):
    if not weights:
        return
    before = list(layer.weights)
    given = [w.copy() for w in weights]
    call(layer.set_weights, given)
    check(
        len(layer.weights) == len(before) and all(a is b for a, b in zip(layer.weights, before)),
        f"{text}: set_weights replaced the layer's arrays with new ones; copy the values into the existing "
        f"arrays (mine[...] = new), because the optimizer updates those arrays in place",
    )
    for w in given:
        w[...] = 0.0
    check(
        all(np.array_equal(mine, w) for mine, w in zip(layer.weights, weights)),
        f"{text}: after set_weights(ws), changing ws changed the layer: it kept the caller's arrays. Copy the "
        f"values in (Keras does), so training can never overwrite the caller's data",
    )
    copies = call(layer.get_weights)
    check(
        isinstance(copies, (list, tuple)) and len(copies) == len(weights),
        f"{text}: get_weights() returned {show(copies)}; it returns a list of copies of self.weights",
    )
    for copy in copies:
        np.asarray(copy)[...] = 123.0
    check(
        all(np.array_equal(mine, w) for mine, w in zip(layer.weights, weights)),
        f"{text}: changing an array returned by get_weights() changed the layer: return copies, as Keras does",
    )


def _named(array, mistakes: Mapping, expected, rtol, atol=1e-12):
    """The explanation of a known mistake that ``array`` reproduces, if any."""
    try:
        array = np.asarray(array, dtype=float)
    except (TypeError, ValueError):
        return None
    for explanation, wrong in mistakes.items():
        wrong = np.asarray(wrong)
        if (
            wrong.shape == array.shape
            and np.allclose(array, wrong, rtol=rtol, atol=atol, equal_nan=True)
            and not (wrong.shape == np.shape(expected) and np.allclose(wrong, expected, rtol=rtol, atol=atol))
        ):
            return explanation
    return None


def _check_output_shape(output, expected, text, mistakes, shape_hint):
    got = np.shape(output) if output is not None else None
    if (
        output is None
        or got == expected.shape
        or shape_hint is None
        or _named(output, mistakes, expected, FORWARD_RTOL)
    ):
        return
    hint = shape_hint(got, expected.shape)
    if hint:
        fail(f"{text} returned shape {got}, expected {expected.shape}: {hint}")


def _check_grads(layer, expected, text, mistakes):
    names = expected["weight_names"]
    wanted = [g for g in expected["grads"]]
    if not names:
        return
    grads = getattr(layer, "grads", None)
    listing = ", ".join(f"d {n}" for n in names)
    check(
        isinstance(grads, (list, tuple)) and len(grads) == len(names),
        f"{text}: after backward, self.grads must hold {plural(len(names), 'array')} [{listing}], in the order of "
        f"self.weights; it is {show(grads)}",
    )
    shapes = [np.shape(g) for g in grads]
    expected_shapes = [tuple(s) for s in expected["weight_shapes"]]
    if shapes != expected_shapes:
        if sorted(shapes) == sorted(expected_shapes):
            order = [names[expected_shapes.index(s)] for s in shapes]
            fail(
                f"{text}: self.grads has shapes {shapes}; expected {expected_shapes}: is it "
                f"[{', '.join('d' + n for n in order)}]? Keep the order of layer.weights"
            )
        index = next(i for i, (a, b) in enumerate(zip(shapes, expected_shapes)) if a != b)
        fail(
            f"{text}: grads[{index}] (d {names[index]}) has shape {shapes[index]}; expected "
            f"{expected_shapes[index]}, the shape of the weight it belongs to"
        )
    for index, (name, want) in enumerate(zip(names, wanted)):
        if want is None:  # a non-trainable weight (a moving statistic): Keras has no gradient for it
            continue
        assert_close(
            grads[index],
            want,
            call=text,
            what=f"put into grads[{index}] (d {name}) =",
            rtol=GRADIENT_RTOL,
            atol=GRADIENT_ATOL,
            mistakes=mistakes.get(name, {}),
        )


def keras_run(keras_class: str, config: Mapping, input_shape, weights, x, dout=None, training=None) -> dict:
    """:func:`reference.layers.layer_run`, for building a mistakes table from altered weights or config."""
    return reference.layers.layer_run(keras_class, dict(config), tuple(input_shape), weights, x, dout, training)


#: Words in NumPy's errors that mean two arrays' shapes do not fit together.
_SHAPE_WORDS = (
    "matmul",
    "not aligned",
    "could not be broadcast",
    "operands could not",
    "shapes",
    "cannot reshape",
    "out of bounds",
    "negative",
)


def call_with_advice(function, *args, advice: str, **kwargs):
    """:func:`checks.call`, but a shape error raised inside the learner's code reads with ``advice``.

    The harness's generic advice for a shape error speaks of Dense kernels; a convolution's or a pooling's
    shapes are another matter. The message keeps the harness's form: "your code raised X" and the
    learner's file, line and code.
    """
    from .checks import KataFailure

    try:
        return call(function, *args, **kwargs)
    except (ValueError, IndexError) as error:
        if not any(word in str(error) for word in _SHAPE_WORDS):
            raise
        where = _learner_line(error, function)
        if not where:
            raise
        raise KataFailure(f"your code raised {type(error).__name__}: {error}\n  at {where}\n{advice}") from None


def _learner_line(error, function) -> str:
    """'conv.py, line 40, in conv2d_naive\\n    <code>' for the deepest frame in the function's own file."""
    import inspect
    import traceback
    from pathlib import Path

    try:
        folder = Path(inspect.getfile(function)).resolve().parent
    except (TypeError, OSError):
        return ""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if f.filename and Path(f.filename).resolve().parent == folder
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f"{folder.name}/{Path(frame.filename).name}, line {frame.lineno}, in {frame.name}\n    {frame.line}"
