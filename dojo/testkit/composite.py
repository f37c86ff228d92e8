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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
        f"{text}: after backward, self.grads must hold {len(expected)} arrays ({', '.join(names)}), got {show(grads)}",
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
