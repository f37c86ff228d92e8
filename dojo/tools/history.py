"""``kata history`` and ``kata restore``: the copies every run keeps of the learner's files.

The copies themselves are taken by the harness before each run
(:mod:`dojo.course.history`); these verbs list them and bring one back.
Restoring first keeps a copy of the file as it is, so a restore is undone by
another restore.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from ..course import history
from ..files import write_atomic


class HistoryError(Exception):
    """A restore that cannot be done; the message says what to do."""


def list_lines(root: Path, file: str | None = None) -> list[str]:
    """One line per kept copy (newest first), or the line that says there are none."""
    name = history._file_name(root, file) if file else None
    kept = history.copies(root, name)
    if not kept:
        where = f"katas/{name}" if name else "your files"
        return [f"no copies of {where} yet: every `pytest` keeps one of each file that changed"]
    lines = []
    for copy in kept:
        problem = history.sound(copy.path.read_bytes(), copy.file)
        lines.append(
            f"  {copy.when}  {copy.shown}  katas/{copy.file}  {copy.size:>7} bytes{'  (' + problem + ')' if problem else ''}"
        )
    lines.append("`kata restore katas/FILE WHEN` brings one back (WHEN: the first column, or its start)")
    return lines


def restore(root: Path, file: str, when: str | None = None) -> tuple[history.Copy, Path]:
    """Put a kept copy back in katas/ (after keeping the file as it is); the copy and the file restored."""
    katas = (Path(root) / "katas").resolve()
    name = history._file_name(root, file)
    target = (katas / name).resolve()
    if not target.is_relative_to(katas):
        raise HistoryError(f"{file} is not a file in katas/: give one such as katas/neuron.py")
    try:
        copy = history.find(root, name, when)
    except LookupError as error:
        raise HistoryError(str(error)) from None
    history.snapshot(root)  # the file as it is now becomes a copy too: this restore can be undone
    write_atomic(target, copy.path.read_bytes())
    return copy, target


def cmd_history(ctx, args) -> int:
    for line in list_lines(ctx.root, args.file):
        ctx.console.print(escape(line), soft_wrap=True)
    return 0


def cmd_restore(ctx, args) -> int:
    from .cli import CliError

    try:
        copy, target = restore(ctx.root, args.file, args.when)
    except HistoryError as error:
        raise CliError(str(error)) from None
    ctx.console.print(f"katas/{escape(copy.file)} is its copy of {copy.shown} again ({copy.size} bytes).")
    ctx.console.print("  the file as it was is kept too: `kata history` lists it")
    ctx.changed(str(target.relative_to(ctx.root.resolve())))
    return 0
