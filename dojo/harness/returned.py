"""When a check chokes on what the learner's code returned: name their function and the value.

A check that gets something it cannot use (``None`` from a ``regularization_loss``
that forgot its ``return``, a tuple where a number belongs) raises inside the
test file: ``TypeError: unsupported operand type(s) for -: 'NoneType' and
'float' (tests/katas/test_regularization.py, line 816)``. That line is the
course's, not the learner's: it says nothing they can act on.

Which learner function returned the value is not in the traceback (it had
returned already). So the failing check runs once more under a profiler that
records every return from the learner's folder into code outside it; if the
rerun fails the same way, the last such return is the value the check could
not use, and the message names it: ``your Dense.regularization_loss
(katas/regularization.py, line 120) returned None; the check could not use it
(TypeError: ...)``. The rerun costs time only in this one case; if it does not
fail the same way (a check with state of its own), the message stays as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ..testkit.checks import show


class _LastReturn:
    """A profiler that keeps the last value returned from learner code to code outside it."""

    def __init__(self, folder: Path):
        self.folder = str(Path(folder).resolve())
        self._inside: dict[str, bool] = {}
        self.found: tuple[str, str, int, object] | None = None

    def _learners(self, filename: str) -> bool:
        known = self._inside.get(filename)
        if known is None:
            try:
                known = str(Path(filename).resolve()).startswith(self.folder + "/")
            except (OSError, ValueError):
                known = False
            self._inside[filename] = known
        return known

    def __call__(self, frame, event, arg):
        if event != "return" or not self._learners(frame.f_code.co_filename):
            return
        caller = frame.f_back
        if caller is not None and self._learners(caller.f_code.co_filename):
            return  # one learner function returning to another: not yet what the check receives
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        self.found = (name, code.co_filename, code.co_firstlineno, arg)


def explain(rerun: Callable[[], object], error: BaseException, folder: Path, root: Path) -> str | None:
    """The message naming the learner's function and its returned value, or None when the rerun does not
    fail the same way (or no learner function returned anything)."""
    profiler = _LastReturn(folder)
    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        rerun()
        again = None
    except Exception as caught:  # the same failure, we hope; anything else: no better message
        again = caught
    finally:
        sys.setprofile(previous)
    if again is None or type(again) is not type(error) or profiler.found is None:
        return None
    name, filename, line, value = profiler.found
    try:
        shown = Path(filename).resolve().relative_to(Path(root).resolve())
    except ValueError:
        shown = Path(filename)
    return (
        f"your {name} ({shown}, line {line}) returned {show(value)}, which the check could not use "
        f"({type(error).__name__}: {error}): return the value its docstring asks for"
        + (" (a `return` is missing?)" if value is None else "")
    )
