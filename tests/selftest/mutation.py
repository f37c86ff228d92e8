"""Mutation testing of the kata tests: wrong answers must fail, other right answers must pass.

A *mutant* is a deliberately broken copy of an answer-key function or class,
written as a learner would really get it wrong (missing bias, wrong axis,
transposed kernel, gates out of order, input changed in place). An
*alternative* is a correct implementation written another way (loops instead
of vectorised code, another stable formula). Both are registered with a
decorator in ``tests/selftest/mutants/<module>.py``::

    @mutant("neuron.dense_forward", expect="bias is missing")
    def dense_forward_without_bias(x, kernel, bias):
        return np.asarray(x) @ np.asarray(kernel)

    @alternative("neuron.dense_forward")
    def dense_forward_with_loops(x, kernel, bias):
        ...

To test one, the answer key is copied to a temporary folder and the variant's
source is appended to its module, rebinding the kata's name
(``dense_forward = dense_forward_without_bias``): exactly what a learner's
file with that code would be. Then the kata's tests run on that folder in a
nested pytest session, through the real harness, and we read the verdict and
the message the learner would see.
"""

from __future__ import annotations

import inspect
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from dojo.harness.verdicts import Verdict, run_katas

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"


@dataclass(frozen=True)
class Variant:
    kata_id: str
    kind: str  # "mutant" or "alternative"
    obj: object
    expect: str | None = None  # for mutants: a regex the learner's message must match
    module: str | None = None  # the module to splice into, when not the kata's own (e.g. "optimizers")
    target: str | None = None  # the name it rebinds there, when not the kata's target (e.g. "Adam")

    @property
    def name(self) -> str:
        return self.obj.__name__

    def __str__(self) -> str:
        return f"{self.kata_id}:{self.name}"


REGISTRY: list[Variant] = []


def mutant(kata_id: str, expect: str | None = None, module: str | None = None, target: str | None = None):
    """Register a broken implementation that the kata's tests must reject.

    ``expect`` is a regular expression that the failure message must match,
    so that the mistake is not only caught but also explained. ``module`` and
    ``target`` splice the variant somewhere else than the kata's own target
    (``module="optimizers", target="Adam"``: a capstone run with a broken
    optimizer, to prove that the capstone names the optimizer).
    """

    def register(obj):
        REGISTRY.append(Variant(kata_id, "mutant", obj, expect, module, target))
        return obj

    return register


def alternative(kata_id: str):
    """Register a correct implementation, written differently, that the tests must accept."""

    def register(obj):
        REGISTRY.append(Variant(kata_id, "alternative", obj))
        return obj

    return register


def variant_source(variant: Variant, target: str) -> str:
    """The variant's code without its decorator, then ``<target> = <variant name>``."""
    source = textwrap.dedent(inspect.getsource(variant.obj))
    lines = source.splitlines()
    while lines and not lines[0].startswith(("def ", "class ")):  # decorators, however many lines they take
        lines.pop(0)
    return "\n".join(lines) + f"\n\n{target} = {variant.name}\n"


def build_implementation(variant: Variant, module: str, target: str, folder: Path) -> Path:
    """Copy the answer key into ``folder`` and splice the variant into ``module``."""
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / f"{module}.py"
    path.write_text(
        path.read_text()
        + "\n\n# ---- spliced in by tests/selftest/mutation.py ----\n"
        + variant_source(variant, target)
    )
    return folder


def run_kata(kata_id: str, implementation: Path, *extra: str) -> Verdict:
    """Run one kata's tests against ``implementation`` in a nested pytest session."""
    return run_katas(ROOT, implementation, [kata_id], *extra)[kata_id]
