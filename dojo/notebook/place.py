"""Where a notebook's katas live: the course it checks against, and the learner's folder.

Two folders matter:

* the **course**: a checkout of Neural Katas (``curriculum/``, ``tests/katas/``,
  ``katas/``): the kernel's current folder or one above it (a notebook opened
  from ``notebooks/`` of a clone), else the checkout this ``dojo`` package was
  installed from (``pip install -e``, as the notebooks' first cell does in Colab);
* the **home**: where the learner's ``katas/`` files and ``.katas/`` progress are.
  By default the home *is* the course checkout, so the notebook, ``pytest`` and
  ``kata`` share one ``katas/`` and one ``.katas/progress.json``. A learner
  who wants their work elsewhere (Google Drive in Colab, a folder outside the
  clone) names it: ``KATAS_NOTEBOOK_HOME=PATH``, ``%kata home PATH`` or
  ``dojo.notebook.use(home=PATH)``.

A home other than the course is made a light checkout of its own: its own
``katas/`` (the course's stubs, copied once) and ``.katas/``, and links to the
course's ``curriculum/``, ``tests/``, ``pyproject.toml`` and ``conftest.py``
(copies where the file system has no links). The harness then runs there
exactly as in a clone, and ``kata`` and ``pytest`` work in that folder too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..paths import STATE_DIR

HOME_VARIABLE = "KATAS_NOTEBOOK_HOME"

#: What a home borrows from the course (linked, else copied): the manifest, the tests, pytest's settings.
SHARED = ("curriculum", "tests", "pyproject.toml", "conftest.py")


class PlaceError(Exception):
    """The notebook cannot find a course or use the folder it was given; the message says what to do."""


@dataclass(frozen=True)
class Place:
    course: Path  # the checkout with curriculum/ and tests/katas/
    home: Path  # where katas/ and .katas/ are (the course itself, or the learner's named folder)

    @property
    def katas(self) -> Path:
        return self.home / "katas"

    @property
    def state(self) -> Path:
        return self.home / STATE_DIR

    @property
    def in_checkout(self) -> bool:
        return self.home == self.course


def is_course(folder: Path) -> bool:
    return (
        (folder / "curriculum" / "course.toml").is_file()
        and (folder / "tests" / "katas").is_dir()
        and (folder / "katas").is_dir()
    )


def find_course(start: Path | None = None) -> Path:
    """The checkout around ``start`` (the current folder), else the one this package came from."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_course(folder):
            return folder
    installed = Path(__file__).resolve().parents[2]
    if is_course(installed):
        return installed
    raise PlaceError(
        "no Neural Katas checkout here or where dojo is installed from: install it from a clone "
        "(the notebook's first cell: %pip install -e git+URL#egg=neural-katas), or open the notebook inside one"
    )


def find(home: str | Path | None = None, start: Path | None = None) -> Place:
    """The course, and the home: ``home`` if given, else $KATAS_NOTEBOOK_HOME, else the course itself."""
    course = find_course(start)
    chosen = home if home is not None else os.environ.get(HOME_VARIABLE) or None
    if chosen is None:
        return Place(course, course)
    folder = Path(chosen).expanduser()
    if not folder.is_absolute():
        folder = (start or Path.cwd()) / folder
    folder = folder.resolve()
    if folder == course:
        return Place(course, course)
    if is_course(folder) and not _is_home_of(folder, course):
        return Place(folder, folder)  # another full checkout: it is its own course
    prepare_home(folder, course)
    return Place(course, folder)


def _is_home_of(folder: Path, course: Path) -> bool:
    link = folder / "curriculum"
    return link.is_symlink() and link.resolve() == (course / "curriculum").resolve()


def prepare_home(folder: Path, course: Path) -> None:
    """Make ``folder`` a light checkout of ``course``: its own katas/, the course's tests and manifest."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        katas = folder / "katas"
        if not katas.exists():
            shutil.copytree(course / "katas", katas, ignore=shutil.ignore_patterns("__pycache__"))
        for name in SHARED:
            _share(course / name, folder / name)
        (folder / STATE_DIR).mkdir(exist_ok=True)
    except OSError as error:
        raise PlaceError(
            f"cannot use {folder} for your katas ({error.strerror or error}): name another folder"
        ) from None


def _share(source: Path, target: Path) -> None:
    """Link ``target`` to ``source``; copy where links are not possible (some network drives)."""
    if target.is_symlink() or target.exists():
        return
    try:
        target.symlink_to(source, target_is_directory=source.is_dir())
    except OSError:
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
