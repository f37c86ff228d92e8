"""What a benchmark module declares: an operation, its inputs, and who races.

A benchmark module in ``benchmarks/`` lists operations and one test that
races each contender on each of them::

    RELU = Operation(
        name="relu", size="(1000, 1000) float64: 1,000,000 values",
        inputs=lambda rng: (rng.normal(size=(1000, 1000)),),
        kata=("activations", "relu"), kernel="relu",
        tensorflow=lambda tf, x: lambda: tf.nn.relu(x),
        cost=lambda x: (2 * x.nbytes, x.size),
    )

    @pytest.mark.parametrize("operation, contender", race_cases(RELU))
    def test_activations(race, operation, contender):
        race(operation, contender)

Every contender gets the same inputs (made once per operation from a seeded
generator), so their times and results are comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

LEARNER = "your code"
ANSWER_KEY = "answer key"
KERNELS = "kernels"
CUPY = "CuPy built-in"
TENSORFLOW = "TensorFlow"

#: A thunk: a function of no arguments that does the timed work once.
Thunk = Callable[[], Any]


@dataclass(frozen=True)
class Contender:
    """One row of an operation's table.

    ``kind`` is LEARNER, ANSWER_KEY, KERNELS, CUPY or TENSORFLOW; ``target`` names
    the function (in the kata module, or in ``kernels``) when it is not the
    operation's own, e.g. the answer key's ``conv2d`` raced in the
    ``conv2d_naive`` table.
    """

    kind: str
    target: str | None = None

    def __str__(self) -> str:
        slug = self.kind.lower().replace(" ", "-")
        return f"{slug}-{self.target}" if self.target else slug


@dataclass(frozen=True)
class Operation:
    """One operation at one realistic size, and how each contender runs it.

    Attributes:
        name: the table's title and pytest-benchmark's group (``conv2d``).
        size: the size in words, printed under the title.
        inputs: ``rng -> tuple`` of NumPy arguments (seeded: the same every run).
        kata: ``(module, function)`` the learner and the answer key implement;
            called as ``function(*inputs, **kwargs)``.
        kwargs: keyword arguments for the kata's and the kernel's function.
        kernel: name of the function in ``kernels`` (None: no kernels row).
        cupy: ``(cupy, *device_arrays) -> thunk`` with CuPy's own functions (a row only on a GPU).
        tensorflow: ``(tf, *tensors) -> thunk``; the inputs arrive as float64
            tensors (None: no TensorFlow row).
        build: per contender kind, ``(function, inputs) -> thunk`` where the
            plain call does not fit (a model to fit, a cell looped over time).
        gate: more ``(module, target)`` pairs whose katas must pass before
            the learner's row is timed (the operation's own kata always counts).
        cost: ``*inputs -> (bytes moved, floating-point operations)``, a
            lower bound used for the bandwidth / FLOP-rate column.
        rounds: fixed number of timed rounds for slow operations (None: let
            pytest-benchmark calibrate).
        note: printed under the title (``naive code timed at batch 4``).
        contenders: who races; by default everyone the fields above allow.
    """

    name: str
    size: str
    inputs: Callable[..., tuple]
    kata: tuple[str, str] | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    kernel: str | None = None
    cupy: Callable[..., Thunk] | None = None
    tensorflow: Callable[..., Thunk] | None = None
    build: Mapping[str, Callable[..., Thunk]] = field(default_factory=dict)
    gate: tuple[tuple[str, str], ...] = ()
    cost: Callable[..., tuple[float, float]] | None = None
    rounds: int | None = None
    note: str = ""
    seed: int = 0
    extra: tuple[Contender, ...] = ()

    @property
    def contenders(self) -> tuple[Contender, ...]:
        racing: list[Contender] = []
        if self.kata is not None:
            racing += [Contender(LEARNER), Contender(ANSWER_KEY)]
        racing += list(self.extra)
        if self.kernel is not None:
            racing.append(Contender(KERNELS))
        if self.cupy is not None:
            racing.append(Contender(CUPY))
        if self.tensorflow is not None:
            racing.append(Contender(TENSORFLOW))
        return tuple(racing)

    def __str__(self) -> str:
        return self.name


def race_cases(*operations: Operation) -> list:
    """``pytest.param(operation, contender)`` for every pair, with ids like ``relu-answer-key``."""
    return [
        pytest.param(op, contender, id=f"{op.name}-{contender}") for op in operations for contender in op.contenders
    ]
