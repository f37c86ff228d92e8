"""Changes to the learner's ``katas/`` files: reset a kata, catch up to a kata.

Every change replaces one kata's function or class (:mod:`dojo.course.definitions`) and
first copies the whole file to ``.katas/backups/``, so no work is ever lost:
``kata reset`` and ``kata catch-up`` print where the copy went.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..course import definitions, pristine
from ..course.curriculum import Curriculum, Kata
from ..course.progress import Progress
from ..states import DONE_STATES, NOT_STARTED
from .backups import backup


class WorkspaceError(Exception):
    """Something the learner can fix (a syntax error, a missing file); the message says what."""


@dataclass
class Change:
    kata: Kata
    path: Path
    backup: Path | None
    note: str = ""


def _read(path: Path) -> str:
    if not path.exists():
        raise WorkspaceError(f"{path} does not exist")
    return path.read_text(encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def sharing(curriculum: Curriculum, kata: Kata) -> list[Kata]:
    """Other katas that grow the same function or class (e.g. several katas of ``Sequential``)."""
    return [k for k in curriculum.katas if (k.module, k.target) == (kata.module, kata.target) and k.id != kata.id]


def reset(root: Path, curriculum: Curriculum, kata: Kata) -> Change:
    """Put the pristine stub of ``kata`` back, keeping the rest of the file."""
    path = root / "katas" / kata.path
    text = _read(path)
    stub = pristine.pristine_definition(root, kata.module, kata.target)
    if stub is None:
        raise WorkspaceError(f"no pristine copy of {kata.target} found: this folder is not a git checkout of "
                             f"Neural Katas and {root / '.katas' / 'pristine' / kata.path} does not exist")
    if definitions.same_code(definitions.definition(text, kata.target), stub):
        return Change(kata, path, None, "already the original stub: nothing to do")
    new_text = definitions.replace_definition(text, kata.target, stub)
    copy = backup(root, path)
    _write(path, new_text)
    _forget(root, kata)
    others = sharing(curriculum, kata)
    note = f"{kata.target} also holds katas {', '.join(k.number for k in others)}: they were reset too" if others else ""
    return Change(kata, path, copy, note)


def solution_text(root: Path, kata: Kata) -> str:
    """The answer key's version of the kata's function or class."""
    text = _read(root / "solutions" / kata.path)
    found = definitions.definition(text, kata.target)
    if found is None:
        raise WorkspaceError(f"solutions/{kata.path} has no {kata.target}")
    return found


def catch_up(root: Path, curriculum: Curriculum, before: Kata, overwrite: bool = False) -> list[Change]:
    """Fill in the answer key for every kata before ``before`` that is not done yet.

    One backup per file changed. Katas already done (per ``.katas/progress.json``)
    keep the learner's code unless ``overwrite``.
    """
    progress = Progress.load(root)
    chosen = [k for k in curriculum.katas[:before.position]
              if overwrite or progress.state(k.id) not in DONE_STATES]
    changes: list[Change] = []
    backups: dict[Path, Path] = {}
    filled: set[tuple[str, str]] = set()
    for kata in chosen:
        if (kata.module, kata.target) in filled:
            continue  # one class grown by several katas is filled once
        filled.add((kata.module, kata.target))
        path = root / "katas" / kata.path
        text = _read(path)
        donor = _read(root / "solutions" / kata.path)
        if definitions.same_code(definitions.definition(text, kata.target), definitions.definition(donor, kata.target)):
            continue
        try:
            new_text = definitions.splice(text, donor, kata.target)
        except SyntaxError as error:
            raise WorkspaceError(f"{path} has a syntax error at line {error.lineno}: fix it, or `kata reset` "
                                 f"the kata it is in, then catch up") from None
        if path not in backups:
            backups[path] = backup(root, path)
        _write(path, new_text)
        later = [k for k in sharing(curriculum, kata) if k.position >= before.position]
        note = (f"{kata.target} also holds {', '.join(k.number for k in later)}, which the answer key now "
                f"solves too") if later else ""
        changes.append(Change(kata, path, backups[path], note))
    return changes


def _forget(root: Path, kata: Kata) -> None:
    """A reset kata starts again: not started, no streak, hints from the first."""
    progress = Progress.load(root)
    if kata.id in progress.katas:
        progress.katas[kata.id] = {"state": NOT_STARTED, "streak": 0, "hints_seen": 1}
        progress.save()
