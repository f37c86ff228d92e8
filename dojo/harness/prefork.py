"""Libraries the checks import in a kata's child, loaded into the harness before the next fork.

Each kata's checks run in a child forked from the harness (see
:mod:`dojo.harness.isolation`), so whatever a child imports is lost with it:
in a run of many katas, every child that builds a named mistake with SciPy or
draws a plot imported SciPy or Matplotlib again (a quarter to half a second
each, most of a child's time for the quick katas). So a child says which of
the libraries below it loaded, and the harness imports those itself before it
forks the next child, which then starts with them.

Only these libraries are ever loaded this way: third-party code the checks
use, with no side effect at import (Matplotlib is told to draw off-screen
first). A child's word cannot make the harness import anything else, and the
learner's own modules are never imported outside a child. A run of one kata
(the usual ``pytest``) loads nothing: the libraries are loaded only when
another child is about to be forked.

What children loaded is remembered for the whole process (:data:`PRELOADER`),
not for one pytest session: the mutation self-tests run hundreds of nested
sessions of one kata each in the same process, and each session's only child
would otherwise import Hypothesis or SciPy again.
"""

from __future__ import annotations

import importlib
import sys


def _matplotlib() -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)  # as dojo.testkit.plots does: the harness never opens a window
    importlib.import_module("matplotlib.pyplot")


#: Module name -> how to load it. The names are what a child reports (those in its ``sys.modules``).
LIBRARIES = {
    "numpy.random": lambda: importlib.import_module("numpy.random"),
    "scipy.special": lambda: importlib.import_module("scipy.special"),
    "scipy.ndimage": lambda: importlib.import_module("scipy.ndimage"),
    "hypothesis": lambda: importlib.import_module("hypothesis"),
    # The stability searches' array strategies: 10 ms of imports (numpy.typing with them) in each child.
    "hypothesis.extra.numpy": lambda: importlib.import_module("hypothesis.extra.numpy"),
    "matplotlib.pyplot": _matplotlib,
}


def loaded_in_this_process() -> list[str]:
    """The child's report: which of :data:`LIBRARIES` it has imported."""
    return [name for name in LIBRARIES if name in sys.modules]


class Preloader:
    """The harness's side: remembers what children loaded, and loads it before the next fork."""

    def __init__(self) -> None:
        self._wanted: set[str] = set()

    def children_loaded(self, names) -> None:
        if isinstance(names, list):
            self._wanted.update(name for name in names if name in LIBRARIES)

    def before_fork(self) -> None:
        for name in sorted(self._wanted):
            if name not in sys.modules:
                try:
                    LIBRARIES[name]()
                except Exception:
                    pass
        self._wanted.clear()


#: The one preloader of this process, shared by every pytest session run in it.
PRELOADER = Preloader()
