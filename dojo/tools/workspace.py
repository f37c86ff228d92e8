"""Changes to the learner's ``katas/`` files: reset a kata, catch up to a kata.

Every change replaces one kata's function or class (:mod:`dojo.course.definitions`) and
first copies the whole file to ``.katas/backups/``, so no work is ever lost:
``kata reset`` and ``kata catch-up`` print where the copy went.

Nothing is written that was not checked first:

* a file that is not UTF-8, or that defines the kata's function twice, is
  refused with one line that says so (nothing changed);
* ``reset`` checks the file it is about to write (exactly one definition of
  the target, and the restored stub compiles) and says truthfully when the
  file still does not compile because of a line elsewhere;
* ``catch-up`` plans every file first and writes none of them unless all of
  them are sound, so a broken later file never leaves earlier ones rewritten;
* both hold ``.katas/workspace.lock`` while they read, back up and write, so
  two verbs at once never interleave, and each backup holds the exact bytes
  that verb replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..course import answer_key, definitions, pristine
from ..course.curriculum import Curriculum, Kata
from ..course.progress import Progress, ProgressError, file_lock, now
from ..files import write_atomic
from ..paths import STATE_DIR
from ..states import DONE_STATES
from .backups import backup


class WorkspaceError(Exception):
    """Something the learner can fix (a syntax error, a missing file); the message says what."""


@dataclass
class Change:
    kata: Kata
    path: Path
    backup: Path | None
    note: str = ""
    #: Set when the file was changed but still does not compile (a line elsewhere): what and where.
    problem: str = ""


def _shown(root: Path, path: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _read(root: Path, path: Path) -> tuple[bytes, str]:
    """The bytes and the text of a source file, or a WorkspaceError that says why not."""
    shown = _shown(root, path)
    if not path.exists():
        raise WorkspaceError(f"{shown} does not exist")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WorkspaceError(f"cannot read {shown} ({error.strerror or error})") from None
    try:
        return data, definitions.decode(data, shown)
    except definitions.NotUTF8 as error:
        raise WorkspaceError(str(error)) from None


def _write(root: Path, path: Path, text: str) -> None:
    """Replace the file atomically (a temporary file, then ``os.replace``), keeping its permissions."""
    write_atomic(path, text)  # keeps the file's permission bits
    if path.read_bytes() != text.encode("utf-8"):  # check what was written, not what was meant
        raise WorkspaceError(f"{_shown(root, path)} did not read back as written (another program changed it?)")


def _lock(root: Path):
    return file_lock(Path(root) / STATE_DIR / "workspace.lock", purpose="change your katas/ files safely")


def sharing(curriculum: Curriculum, kata: Kata) -> list[Kata]:
    """Other katas that grow the same function or class (e.g. several katas of ``Sequential``)."""
    return [k for k in curriculum.katas if (k.module, k.target) == (kata.module, kata.target) and k.id != kata.id]


def _twice(shown: str, name: str, lines: list[int]) -> str:
    where = ", ".join(str(n) for n in lines[:-1]) + f" and {lines[-1]}"
    return (
        f"{shown} defines {name} {len(lines)} times (lines {where}); Python uses the last one. "
        f"Delete the copies you do not want, then try again (nothing was changed)"
    )


def _enclosing(text: str, line: int | None) -> str:
    """`` (in name)``: the top-level ``def``/``class`` that holds ``line``, if any."""
    if not line:
        return ""
    lines = text.splitlines()
    for index in range(min(line, len(lines)) - 1, -1, -1):
        words = lines[index].split()
        if words and words[0] in ("def", "class", "async") and not lines[index][0].isspace():
            name = words[2] if words[0] == "async" and len(words) > 2 else words[1] if len(words) > 1 else ""
            return f" (in {name.split('(')[0].split(':')[0]})" if name else ""
        if lines[index].strip() and not lines[index][0].isspace() and not lines[index].startswith(("#", "@")):
            return ""
    return ""


def _compile_problem(shown: str, text: str) -> tuple[int | None, str] | None:
    error = definitions.compile_error(text, shown)
    if error is None:
        return None
    where = f"line {error.lineno}{_enclosing(text, error.lineno)}: " if error.lineno else ""
    return error.lineno, f"{where}{error.msg or error}"


def reset(root: Path, curriculum: Curriculum, kata: Kata) -> Change:
    """Put the pristine stub of ``kata`` back, keeping the rest of the file."""
    path = root / "katas" / kata.path
    shown = _shown(root, path)
    stub = pristine.pristine_definition(root, kata.module, kata.target)
    if stub is None:
        raise WorkspaceError(
            f"no pristine copy of {kata.target} found: this folder is not a git checkout of "
            f"Neural Katas and {root / '.katas' / 'pristine' / kata.path} does not exist"
        )
    try:
        with _lock(root):
            data, text = _read(root, path)
            found = definitions.definition_lines(text, kata.target)
            if len(found) > 1:
                raise WorkspaceError(_twice(shown, kata.target, found))
            if definitions.same_code(definitions.definition(text, kata.target), stub):
                return Change(kata, path, None, "already the original stub: nothing to do")
            new_text = definitions.replace_definition(text, kata.target, stub)
            placed = definitions.definition_lines(new_text, kata.target)
            if len(placed) != 1:
                raise WorkspaceError(
                    f"could not reset {kata.target} in {shown}: the result would define it "
                    f"{len(placed)} times (nothing was changed)"
                )
            problem = _compile_problem(shown, new_text)
            if problem is not None:
                first, last = placed[0], placed[0] + len(stub.rstrip("\n").splitlines()) - 1
                line, _ = problem
                if line is None or first <= line <= last:
                    raise WorkspaceError(
                        f"could not reset {kata.target} in {shown}: the result would not compile "
                        f"({problem[1]}); nothing was changed: fix the file by hand, or get the "
                        f"whole file back with `git checkout {shown}`"
                    )
            copy = backup(root, path, data)
            _write(root, path, new_text)
    except ProgressError as error:
        raise WorkspaceError(str(error)) from None
    notes = []
    if not found:
        notes.append(f"{kata.target} was missing from {shown}: its stub is added at the end")
    others = sharing(curriculum, kata)
    if others:
        notes.append(f"{kata.target} also holds katas {', '.join(k.number for k in others)}: they were reset too")
    notes.extend(_forget(root, kata))
    still = (
        (
            f"{shown} still does not compile: {problem[1]}; fix that line (or `kata reset` the kata it is in) "
            f"before running pytest"
        )
        if problem
        else ""
    )
    return Change(kata, path, copy, "; ".join(notes), still)


def solution_text(root: Path, kata: Kata, curriculum: Curriculum | None = None) -> str:
    """The answer key's version of the kata's function or class, runnable as written in the learner's file:
    preceded by the answer key's definitions it relies on that the learner's file lacks or has differently."""
    _, text = _read(root, root / "solutions" / kata.path)
    found = definitions.definition(text, kata.target)
    if found is None:
        raise WorkspaceError(f"solutions/{kata.path} has no {kata.target}")
    if curriculum is None:
        return found
    try:
        _, mine = _read(root, root / "katas" / kata.path)
        needed = answer_key.support(mine, text, kata.target, _kata_targets(curriculum, kata.module))
    except (WorkspaceError, SyntaxError, ValueError):
        return found  # the learner's file does not parse: the definition alone
    extra = [definitions.definition(text, name) for name in sorted(needed.missing + needed.differing)]
    helpers = "\n\n".join(block.rstrip("\n") + "\n" for block in extra if block)
    if not helpers:
        return found
    names = ", ".join(sorted(needed.missing + needed.differing))
    return f"# {kata.target} relies on these, which katas/{kata.path} lacks or has differently: {names}\n\n{helpers}\n\n{found}"


UNCHANGED = " (catch-up checks every file before writing any: nothing was changed)"


def catch_up(root: Path, curriculum: Curriculum, before: Kata, overwrite: bool = False) -> list[Change]:
    """Fill in the answer key for every kata before ``before`` that is not done yet.

    One backup per file changed. Katas already done (per ``.katas/progress.json``)
    keep the learner's code unless ``overwrite``. Every file is planned and
    checked before any is written: on a problem nothing changes.
    """
    progress = Progress.load(root)
    chosen = [k for k in curriculum.katas[: before.position] if overwrite or progress.state(k.id) not in DONE_STATES]
    try:
        with _lock(root):
            originals: dict[Path, tuple[bytes, str]] = {}
            planned: dict[Path, str] = {}
            changes: list[Change] = []
            filled: set[tuple[str, str]] = set()
            for kata in chosen:
                if (kata.module, kata.target) in filled:
                    continue  # one class grown by several katas is filled once
                filled.add((kata.module, kata.target))
                change = _plan_one(root, curriculum, kata, before, originals, planned)
                if change is not None:
                    changes.append(change)
            _check_plan(root, planned, changes)
            backups = _write_plan(root, planned, originals)
    except ProgressError as error:
        raise WorkspaceError(str(error)) from None
    for change in changes:
        change.backup = backups[change.path]
    _record_answer_key(root, chosen)
    return changes


def _plan_one(root: Path, curriculum: Curriculum, kata: Kata, before: Kata, originals: dict, planned: dict):
    """Plan the answer key's ``kata.target`` (and what it relies on) into ``planned``; the Change, or None
    when the file already holds the answer key's code."""
    path = root / "katas" / kata.path
    shown = _shown(root, path)
    try:
        if path not in originals:
            originals[path] = _read(root, path)
        _, donor = _read(root, root / "solutions" / kata.path)
    except WorkspaceError as error:
        raise WorkspaceError(f"{error}{UNCHANGED}") from None
    text = planned.get(path, originals[path][1])
    found = definitions.definition_lines(text, kata.target)
    if len(found) > 1:
        raise WorkspaceError(_twice(shown, kata.target, found).replace(" (nothing was changed)", "") + UNCHANGED)
    if definitions.same_code(definitions.definition(text, kata.target), definitions.definition(donor, kata.target)):
        return None
    try:
        text = _bring_support(root, curriculum, kata, text, donor, shown, UNCHANGED)
        planned[path] = definitions.splice(text, donor, kata.target)
    except (SyntaxError, ValueError) as error:
        line = getattr(error, "lineno", None)
        raise WorkspaceError(
            f"{shown} has a syntax error at line {line}{_enclosing(text, line)}: fix it, "
            f"or `kata reset` the kata it is in, then catch up{UNCHANGED}"
        ) from None
    later = [k for k in sharing(curriculum, kata) if k.position >= before.position]
    note = (
        f"{kata.target} also holds {', '.join(k.number for k in later)}, which the answer key now solves too"
        if later
        else ""
    )
    return Change(kata, path, None, note)


def _check_plan(root: Path, planned: dict[Path, str], changes: list[Change]) -> None:
    """Every planned file compiles and defines each filled target once: else nothing is written."""
    for path, text in planned.items():
        shown = _shown(root, path)
        problem = _compile_problem(shown, text)
        if problem is not None:
            raise WorkspaceError(f"catch-up would leave {shown} not compiling ({problem[1]}){UNCHANGED}")
        for change in changes:
            found = definitions.definition_lines(text, change.kata.target) if change.path == path else [0]
            if len(found) != 1:
                raise WorkspaceError(
                    f"catch-up would leave {shown} defining {change.kata.target} {len(found)} times{UNCHANGED}"
                )


def _write_plan(root: Path, planned: dict[Path, str], originals: dict) -> dict[Path, Path]:
    """Back up and write each planned file; returns each file's backup."""
    backups: dict[Path, Path] = {}
    for path, text in planned.items():
        try:
            backups[path] = backup(root, path, originals[path][0])
            _write(root, path, text)
        except OSError as error:
            done = ", ".join(_shown(root, p) for p in backups if p != path) or "none"
            raise WorkspaceError(
                f"cannot write {_shown(root, path)} ({error.strerror or error}); "
                f"files already filled in: {done} (their backups are in "
                f".katas/backups/)"
            ) from None
    return backups


def _kata_targets(curriculum: Curriculum, module: str) -> set[str]:
    return {k.target for k in curriculum.katas if k.module == module}


def _bring_support(
    root: Path, curriculum: Curriculum, kata: Kata, text: str, donor: str, shown: str, unchanged: str
) -> str:
    """``text`` with the answer key's version of every given definition ``kata.target`` relies on that the
    learner's file has differently (a base class without the member the answer key uses).

    Only a definition still as shipped is replaced (nothing of the learner's is lost); one the learner
    changed is refused, with what to do.
    """
    needed = answer_key.support(text, donor, kata.target, _kata_targets(curriculum, kata.module))
    for name in needed.differing:
        mine = definitions.definition(text, name)
        if mine is not None and not any(
            definitions.same_code(mine, shipped) for shipped in pristine.shipped_definitions(root, kata.module, name)
        ):
            raise WorkspaceError(
                f"the answer key's {kata.target} relies on its own {name}, and {shown} has a {name} you changed: "
                f"put the shipped {name} back (`git diff {shown}` shows your change), then catch up{unchanged}"
            )
        text = definitions.splice(text, donor, name)  # with what it relies on in turn
    return text


def _record_answer_key(root: Path, katas: list[Kata]) -> None:
    """Katas whose code and everything it relies on is now the answer key's pass (CI runs the answer key on
    every kata): recorded as passed with their digest, so the next `pytest` starts where catch-up said."""
    progress = Progress.load(root)
    when = now()
    recorded = False
    passes = answer_key.AnswerKeyPasses(root)
    for kata in katas:
        if kata.requires == "gpu":
            continue  # skipped or run on the machine at hand, never assumed
        digest = passes.digest(kata)
        if digest is not None:
            progress.record_answer_key(kata, digest, when)
            recorded = True
    if recorded:
        try:
            progress.save()
        except ProgressError:
            pass  # the files are filled in; the next run checks them instead of trusting them


def _forget(root: Path, kata: Kata) -> list[str]:
    """A reset kata starts again: not started, no streak, hints from the first. Returns notes."""
    progress = Progress.load(root)
    if kata.id not in progress.katas:
        return []
    progress.forget(kata.id)
    try:
        progress.save()
    except ProgressError as error:
        return [f"the file is reset, but {error}"]
    return []
