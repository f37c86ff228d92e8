"""From a notebook cell to the learner's ``katas/<module>.py``: the code the harness checks.

A check takes the kata's function or class from the notebook's own text, never
from the live object: the cell that ``%%kata ID`` runs, or (for
``check("ID")``) the newest cell in the kernel's input history that defines the
kata's name at top level. That text, with the helpers and imports of the cell
that the definition uses (:func:`dojo.course.definitions.splice`), replaces the
definition in ``katas/<module>.py`` of the notebook's home, keeping the kata's
teaching docstring. The rest of the file stays as it was: earlier katas come from
earlier cells written there before, or from what the learner wrote in the file
with an editor, exactly as ``pytest`` would see them.

Two rules keep work from being lost:

* a cell that is still the shipped stub never replaces code the file already has
  (running a fresh notebook top to bottom does not undo the learner's work): the
  file's code is checked and the card says so;
* code in the file that the cell replaces, and that is neither a stub nor the cell's
  own code, is first copied to ``.katas/backups/``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..course import definitions
from ..course.curriculum import Kata
from ..files import write_atomic


class CellError(Exception):
    """The notebook's code cannot be checked yet; the message says what to do."""


@dataclass
class Written:
    path: Path  # the file the harness will check
    kept_file: bool = False  # the cell held the stub, so the file's own code was kept
    backup: Path | None = None  # where the replaced code went


def defines(source: str, name: str) -> bool:
    if name not in source:  # most cells of a notebook: no need to parse them
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name
        for node in tree.body
    )


def newest_cell_defining(
    history: list[str], name: str, translate: Callable[[str], str] = lambda text: text
) -> str | None:
    """The newest cell of ``history`` that defines ``name``, as Python source (``translate`` turns a
    cell's text into it: IPython's magics translated).

    From the newest back, translating only the cells it reads: a check near the end of a long
    notebook would otherwise translate the whole history again, every check.
    """
    for text in reversed(history):
        if text and name in text:  # translating adds no name of the learner's
            source = translate(text)
            if defines(source, name):
                return source
    return None


def _helpers_used(cell: str, name: str, targets: set[str]) -> list[str]:
    """Top-level functions and classes of the cell that ``name`` uses (directly or through another),
    other than katas' own targets: the cell's versions replace the file's."""
    tree = ast.parse(cell)
    defined = {
        node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    found: list[str] = []
    queue = [defined[name]] if name in defined else []
    while queue:
        node = queue.pop()
        for leaf in ast.walk(node):
            used = leaf.id if isinstance(leaf, ast.Name) else None
            if used in defined and used != name and used not in targets and used not in found:
                found.append(used)
                queue.append(defined[used])
    return found


def _undoes(new: str, old: str, shipped: str | None) -> bool:
    """Would writing ``new`` put a stub back over the learner's work in the file?

    ``new`` is the shipped stub and ``old`` is not. Where the shipped stub is unknown (no git, no
    snapshot), a cell with more unfinished parts (``NotImplementedError``) than the file counts as one.
    """
    if shipped is not None:
        return definitions.same_code(new, shipped) and not definitions.same_code(old, shipped)
    unfinished = "NotImplementedError"
    return definitions.is_stub(new) and new.count(unfinished) > old.count(unfinished)


def write_definition(
    kata: Kata,
    cell: str,
    katas: Path,
    state: Path,
    shipped: str | None,
    ours: str | None,
    targets: set[str] = frozenset(),
) -> Written:
    """Put the cell's definition of the kata's target into ``katas/<module>.py``.

    ``shipped`` is the kata's stub as the course ships it; ``ours`` is what this kernel wrote
    there last time: replacing either needs no backup (each attempt is in the notebook).
    Helpers of the cell that the definition uses replace the file's helpers of the same name
    (what runs in the notebook is what is checked), except other katas' ``targets``, which
    their own cells write.
    """
    name = kata.target
    try:
        ast.parse(cell)
    except SyntaxError as error:
        raise CellError(
            f"the cell does not parse (line {error.lineno}: {error.msg}): fix it and run it again"
        ) from None
    new = definitions.definition(cell, name)
    if new is None:
        raise CellError(
            f"the cell defines no `{name}` at top level: kata {kata.number} checks "
            f"`{'class' if name[:1].isupper() else 'def'} {name}` (that exact name)"
        )
    path = katas / kata.path
    try:
        old_text = definitions.read_source(path) if path.exists() else ""
    except (OSError, definitions.NotUTF8) as error:
        raise CellError(f"cannot read {path} ({error}): fix or remove that file, then check again") from None
    old = definitions.definition(old_text, name)
    if old is not None and _undoes(new, old, shipped):
        return Written(path, kept_file=True)
    if old is not None and definitions.same_code(old, new):
        return Written(path)
    try:
        text = definitions.splice(old_text, cell, name)
    except SyntaxError:  # the file itself does not parse: put the definition in its place by indentation
        text = definitions.replace_definition(old_text, name, new)
    for helper in _helpers_used(cell, name, targets):
        text = definitions.replace_definition(text, helper, definitions.definition(cell, helper))
    saved = None
    if old is not None and not any(definitions.same_code(old, known) for known in (shipped, ours, new)):
        saved = backup(state, path, old_text)
    write_atomic(path, text)
    return Written(path, backup=saved)


def backup(state: Path, path: Path, text: str) -> Path:
    """Keep ``text`` (the file as it was) in ``.katas/backups/<module>-notebook-<time>.py``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    copy = state / "backups" / f"{path.stem}-notebook-{stamp}{path.suffix}"
    write_atomic(copy, text)
    return copy


def shown(path: Path, home: Path) -> str:
    try:
        return str(path.relative_to(home))
    except ValueError:
        return str(path)
