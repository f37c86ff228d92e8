"""A composite layer's backward pass, checked step by step in the order backward computes it.

A layer made of layers (a Transformer block: attention, a residual sum, a
norm, a feed-forward network, another residual sum and norm) lists its
gradients in the order of its weights, which is the order of the *forward*
pass. Comparing them in that order blames the first sub-layer whose gradient
differs, but a mistake late in the backward pass (a residual path left out
after the feed-forward network) changes every gradient computed after it,
down to the first sub-layer: the learner would be sent to an attention layer
that already passed its own kata.

:func:`check_steps` walks the other way, from the output back, as backward
does: the first sub-step whose gradients differ is where the mistake is (the
steps after it in the forward pass all matched), and its advice says what
that step receives and passes on.

Some composites are one loop or one sum, not a chain of layers, and their
sub-steps show inside a single gradient instead. :func:`blocks_that_differ`
names the blocks of columns that differ (an LSTM's four gates, side by side
in one kernel); :func:`last_step_that_differs` walks a sequence back from its
end, as backpropagation through time does; :func:`additive_part` splits a
gradient that is a known part plus a multiple of a pattern (the data's
``x.T @ dz`` plus a penalty's ``2 * l2 * kernel``) and says which part is off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..words import plural
from .checks import assert_close, check, show


@dataclass(frozen=True)
class Step:
    """One sub-step of a backward pass: its gradients (indexes into ``grads``) and what to look at."""

    label: str  # "the second LayerNormalization (LN(h + ffn(h)))"
    grads: tuple[int, ...]
    advice: str  # what this step receives and passes on, said as the fix


def check_steps(
    grads,
    expected: Sequence,
    names: Sequence[str],
    steps: Sequence[Step],
    text: str,
    *,
    dx=None,
    dx_expected=None,
    dx_step: Step | None = None,
    rtol: float,
    atol: float,
) -> None:
    """Compare ``grads`` (and then ``dx``) with Keras's, ``steps`` in backward order; fail at the first
    step that differs, naming it and the steps after it in the forward pass that match."""
    check(
        isinstance(grads, (list, tuple)) and len(grads) == len(expected),
        f"{text}: after backward, self.grads must hold {plural(len(expected), 'array')} ({', '.join(names)}), got {show(grads)}",
    )
    matched: list[str] = []
    for step in [*steps, *([dx_step] if dx_step is not None else [])]:
        where = f"Walking back from the output, the first step that differs is {step.label}"
        where += f" ({', '.join(matched)} match)" if matched else ""
        note = f"{where}: {step.advice}"
        if step is dx_step:
            assert_close(
                dx, dx_expected, call=f"{text}: backward(dout)", what="returned dx =", rtol=rtol, atol=atol, note=note
            )
            continue
        for index in step.grads:
            assert_close(
                np.asarray(grads[index]) if grads[index] is not None else grads[index],
                expected[index],
                call=f"{text}: backward",
                what=f"put into grads[{index}] (d {names[index]}) =",
                rtol=rtol,
                atol=atol,
                note=note,
            )
        matched.append(step.label.split(" (")[0])


# ------------------------------------------------------------------ where inside one gradient


def blocks_that_differ(got, expected, names: Sequence[str], *, rtol: float, atol: float) -> list[str] | None:
    """Split the last axis of a gradient into ``len(names)`` equal blocks (an LSTM's four gates: Keras
    keeps them side by side in one kernel) and name the blocks that differ; ``None`` when the shapes do."""
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape or expected.shape[-1] % len(names):
        return None
    width = expected.shape[-1] // len(names)
    return [
        name
        for k, name in enumerate(names)
        if not np.allclose(
            got[..., k * width : (k + 1) * width], expected[..., k * width : (k + 1) * width], rtol=rtol, atol=atol
        )
    ]


def last_step_that_differs(got, expected, *, rtol: float, atol: float) -> int | None:
    """Walking back from the end of a sequence (axis 1), as backpropagation through time does: the first
    time step whose values differ, or ``None`` when every step matches (or the shapes differ)."""
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape or expected.ndim < 2:
        return None
    for t in reversed(range(expected.shape[1])):
        if not np.allclose(got[:, t], expected[:, t], rtol=rtol, atol=atol):
            return t
    return None


def additive_part(got, whole, known_part, pattern, *, rtol: float, atol: float) -> float | None:
    """``got`` should be ``whole = known_part + s * pattern`` (a data gradient plus a penalty's). When
    ``got - known_part`` is a multiple ``s'`` of ``pattern``, return ``s'`` (what the learner's code put
    in for ``s``); ``None`` when the difference has another shape, so that the known part differs too."""
    rest = np.asarray(got, dtype=float) - np.asarray(known_part, dtype=float)
    pattern = np.asarray(pattern, dtype=float)
    if rest.shape != pattern.shape or not np.any(pattern):
        return None
    scale = float(np.sum(rest * pattern) / np.sum(pattern * pattern))
    return scale if np.allclose(rest, scale * pattern, rtol=rtol, atol=atol) else None
