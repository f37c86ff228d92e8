"""Which of a run's warnings are the learner's: only those go on the card and into its count.

A kata run collects every warning pytest records. Many are not the learner's
doing: pytest's own (``PytestAssertRewriteWarning`` at start-up), a plugin's,
or the project's tests and harness (a check that provokes Keras's
``ModelCheckpoint`` warning on purpose). Showing them as "N warnings in this
run" would send the learner looking for a mistake they did not make.

A warning is the learner's when it was raised while a kata's check ran (it has
a test id) and where it points is the learner's folder, or a library their
code called (NumPy's ``overflow encountered in exp`` points into the learner's
line, but a NumPy function may warn from inside NumPy). It is not when it
points into the project (its tests, ``dojo``, ``reference``), into pytest or a
pytest plugin, or when it is one of pytest's own categories.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: Packages whose warnings are the test machinery's, never the learner's.
MACHINERY = (
    "_pytest",
    "pytest",
    "pluggy",
    "xdist",
    "execnet",
    "pytest_benchmark",
    "hypothesis",
    "_hypothesis_globals",
    "keras",  # the reference runs Keras and TensorFlow; learner code cannot import them
    "tensorflow",
)


def _machinery_folders() -> list[Path]:
    folders = []
    for name in MACHINERY:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if origin:
            path = Path(origin).resolve().parent
            folders.append(path if Path(origin).name == "__init__.py" else Path(origin).resolve())
    return folders


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def is_learners(report, root: Path, implementation: Path, machinery: list[Path] | None = None) -> bool:
    """Whether one of pytest's ``WarningReport`` s is the learner's doing (see the module docstring)."""
    if not getattr(report, "nodeid", ""):
        return False  # raised at start-up or collection, before any kata ran
    if "PytestAssertRewriteWarning" in report.message or ": Pytest" in report.message:
        return False
    location = getattr(report, "fslocation", None)
    if not location or not location[0]:
        return True
    where = Path(str(location[0]))
    where = (Path(root) / where if not where.is_absolute() else where).resolve()
    if _inside(where, Path(implementation).resolve()):
        return True
    if _inside(where, Path(root).resolve()):
        return False  # the project's own tests, harness or reference
    return not any(_inside(where, folder) for folder in machinery or _machinery_folders())


def learners(reports: list, root: Path, implementation: Path) -> list:
    """The reports among ``reports`` that are the learner's, in order."""
    machinery = _machinery_folders()
    return [report for report in reports if is_learners(report, root, implementation, machinery)]
