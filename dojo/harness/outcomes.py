"""Turn what happened in a kata's test into a state and one message a learner can act on.

The states themselves are :mod:`dojo.states`.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from ..course.implementation import KataLoadError, MissingKataError
from ..states import ERROR, FAILING, NOT_STARTED, PASSED, SEVERITY, SKIPPED  # noqa: F401 (re-exported)
from ..testkit.checks import KataFailure
from .timeout import KataTimeout, LearnerExit, timeout_message


@dataclass
class Outcome:
    state: str
    message: str = ""
    check: str = ""  # the test function that produced it
    #: The harness itself failed (not the learner's code): such a verdict never
    #: overwrites a stored "passed".
    harness_fault: bool = False
    #: What the learner's code printed during the check (captured by pytest).
    printed: str = ""
    mistake: str | None = None  # the named known mistake, when one explained the failure (KataFailure.mistake)


#: How the message of a check that choked on a returned value begins (:mod:`dojo.harness.returned` names
#: the learner's function and the value instead, where it can).
COULD_NOT_USE = "the check could not use what your code returned"


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def classify(exc: BaseException, impl_folder: Path | None = None, root: Path | None = None) -> Outcome:
    """Classify the exception a kata test raised."""
    for link in _chain(exc):
        if isinstance(link, NotImplementedError):
            return Outcome(NOT_STARTED, "not started: the stub still raises NotImplementedError")
    if isinstance(exc, KataLoadError):
        return Outcome(
            ERROR,
            f"{_relative(exc.path, root)}, line {exc.line}: {exc.summary}"
            if exc.line
            else f"{_relative(exc.path, root)}: {exc.summary}",
        )
    if isinstance(exc, MissingKataError):
        return Outcome(ERROR, str(exc))
    if isinstance(exc, LearnerExit):
        where = _where(_learner_frame(exc, impl_folder), root)
        return Outcome(ERROR, f"{exc}" + (f"\n  at {where}" if where else ""))
    if isinstance(exc, KataTimeout):
        return Outcome(ERROR, timeout_message(exc.seconds, _where(_learner_frame(exc, impl_folder), root)))
    if isinstance(exc, KataFailure):
        # The only verdict: a check of the kata's test said no.
        return Outcome(FAILING, str(exc), mistake=exc.mistake)
    # Anything else raised inside the implementation's files is the learner's
    # own exception, AssertionError included (their `assert`, a library's
    # `is_stochastic` check): said as such, with their line.
    frame = _learner_frame(exc, impl_folder)
    if frame is not None:
        message = str(exc).strip()
        line = f"\n    {frame.line}" if frame.line else ""
        return Outcome(
            ERROR,
            f"your code raised {type(exc).__name__} at {_relative(Path(frame.filename), root)}:"
            f"{frame.lineno} (in {frame.name}){': ' + message if message else ''}{line}"
            f"{_advice(exc, frame)}",
        )
    if isinstance(exc, AssertionError):
        return Outcome(FAILING, str(exc).split("\nassert ")[0] or "a check failed")
    summary = f"{type(exc).__name__}: {exc}"
    # Raised outside the learner's code: usually a test choking on an odd return value.
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" ({_relative(Path(frame.filename), root)}, line {frame.lineno})" if frame else ""
    return Outcome(ERROR, f"{COULD_NOT_USE}: {summary}{place}")


#: Words in NumPy's errors that mean two arrays' shapes do not fit together.
_SHAPE_WORDS = ("matmul", "not aligned", "could not be broadcast", "operands could not", "shapes")


def _advice(exc: BaseException, frame: traceback.FrameSummary) -> str:
    """A next step for the commonest crash in learners' NumPy: arrays whose shapes do not fit."""
    if not (isinstance(exc, ValueError) and any(word in str(exc) for word in _SHAPE_WORDS)):
        return ""
    advice = (
        "\nThe shapes on that line do not fit together: print each array's .shape there and compare "
        "with the shapes in the docstring"
    )
    if Path(frame.filename).stem == "optimizers":
        return advice + (
            ". An optimizer keeps one slot per parameter, in the order of its first `apply`: "
            "call `apply` once with every parameter (not once per layer), in the same order each step."
        )
    if "dense" in frame.name.lower() or "dense" in (frame.line or "").lower():
        return advice + " (Keras kernels are (input_dim, units): no transpose)."
    return advice + "."


def _learner_frame(exc: BaseException, impl_folder: Path | None) -> traceback.FrameSummary | None:
    """The deepest frame of the traceback that lies in the learner's folder."""
    if impl_folder is None or exc.__traceback__ is None:
        return None
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename and _inside(Path(f.filename), impl_folder)
    ]
    return frames[-1] if frames else None


def _where(frame: traceback.FrameSummary | None, root: Path | None) -> str:
    """'katas/neuron.py, line 12, in weighted_sum' and the line itself."""
    if frame is None:
        return ""
    line = f"\n    {frame.line}" if frame.line else ""
    return f"{_relative(Path(frame.filename), root)}, line {frame.lineno}, in {frame.name}{line}"


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder)
    except OSError:
        return False


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)
