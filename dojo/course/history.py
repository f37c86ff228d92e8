"""Copies of the learner's files, taken before every run: nothing they wrote is ever lost.

Before each ``pytest`` on the learner's own ``katas/``, :func:`snapshot` copies
every file of ``katas/`` that changed since its last copy into
``.katas/history/<file>/<UTC time>.py``. A run of learner code cannot erase
the work of the last save (``open(__file__, 'w')``, a bad paste, an editor that
truncated the file on a full disk): the copy was taken before the code ran.

The history is bounded: the newest :data:`KEEP_PER_FILE` copies of each file,
and no more than :data:`MAX_TOTAL_BYTES` in all (the oldest copies go first,
never the newest of a file). ``kata history`` lists the copies and ``kata
restore FILE [WHEN]`` brings one back (after a copy of the file as it is).

A file that is now empty or does not compile, whose previous copy did, is a
:class:`Damage`: the run's card names it with the command that restores it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..files import write_atomic
from ..paths import STATE_DIR

HISTORY = "history"
INDEX = "index.json"
#: Copies kept of each file, newest first.
KEEP_PER_FILE = 30
#: Bytes all copies may take together (a kata file is a few KiB: thousands of copies).
MAX_TOTAL_BYTES = 32 << 20
#: The learner's files: everything they edit in katas/.
PATTERNS = ("*.py", "*.cu", "*.cuh")


@dataclass(frozen=True)
class Copy:
    """One kept copy of one learner file."""

    file: str  # relative to katas/, e.g. "neuron.py"
    path: Path
    when: str  # "20261207-015300-123456", UTC: sorts by time

    @property
    def shown(self) -> str:
        """Its time as the learner reads it, in their own time zone: '2026-12-07 02:53:00'."""
        moment = datetime.strptime(self.when, "%Y%m%d-%H%M%S-%f").replace(tzinfo=UTC)
        return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


@dataclass(frozen=True)
class Damage:
    """A learner file that is empty or does not compile, where its previous copy did."""

    file: str
    what: str  # "is empty" or "does not compile"
    good: Copy

    def line(self) -> str:
        was = "was not" if self.what == "is empty" else "did"
        return (
            f"katas/{self.file} {self.what} now, but its copy of {self.good.shown} {was}:\n"
            f"    `kata restore katas/{self.file} {self.good.when}` brings it back"
        )


def folder(root: Path) -> Path:
    return Path(root) / STATE_DIR / HISTORY


def learner_files(root: Path) -> list[Path]:
    katas = Path(root) / "katas"
    found: set[Path] = set()
    for pattern in PATTERNS:
        found.update(p for p in katas.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(found)


def _name(root: Path, path: Path) -> str:
    return path.relative_to(Path(root) / "katas").as_posix()


def _slot(root: Path, name: str) -> Path:
    """The folder of one file's copies ('model/layers.py' -> 'model__layers.py')."""
    return folder(root) / name.replace("/", "__")


def copies(root: Path, name: str | None = None) -> list[Copy]:
    """Kept copies (of one file, or of all), newest first."""
    base = folder(root)
    slots = [_slot(root, name)] if name else sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    found = []
    for slot in slots:
        shown = name or slot.name.replace("__", "/")
        for path in slot.glob("*.*") if slot.is_dir() else ():
            if not path.name.startswith("."):
                found.append(Copy(shown, path, path.stem))
    return sorted(found, key=lambda c: (c.when, c.file), reverse=True)


def sound(data: bytes, filename: str = "<file>") -> str | None:
    """None if ``data`` is a usable file; else what is wrong with it ('is empty', 'does not compile')."""
    if not data.strip():
        return "is empty"
    if filename.endswith(".py"):
        try:
            compile(data, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return "does not compile"
    return None


def _load_index(root: Path) -> dict:
    try:
        index = json.loads((folder(root) / INDEX).read_text(encoding="utf-8"))
        return index if isinstance(index, dict) else {}
    except (OSError, ValueError):
        return {}


def snapshot(root: Path) -> list[Damage]:
    """Copy every learner file that changed since its last copy; return the files that went bad."""
    root = Path(root)
    index = _load_index(root)
    damaged: list[Damage] = []
    changed = False
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    for path in learner_files(root):
        name = _name(root, path)
        try:
            stat = path.stat()
            seen = index.get(name, {})
            if seen.get("size") == stat.st_size and seen.get("mtime_ns") == stat.st_mtime_ns:
                continue  # unchanged since the last look: no need to read it
            data = path.read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).hexdigest()
        if seen.get("sha256") != digest:
            problem = sound(data, name)
            previous = copies(root, name)
            if problem and previous and sound(previous[0].path.read_bytes(), name) is None:
                damaged.append(Damage(name, problem, previous[0]))
            write_atomic(_slot(root, name) / f"{stamp}{path.suffix}", data)
        index[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        changed = True
    if changed:
        _prune(root)
        write_atomic(folder(root) / INDEX, json.dumps(index, indent=1, sort_keys=True), durable=False)
    return damaged


def _prune(root: Path) -> None:
    """Keep the newest KEEP_PER_FILE copies of each file, then drop the oldest until under MAX_TOTAL_BYTES."""
    kept: list[Copy] = []
    by_file: dict[str, int] = {}
    for copy in copies(root):  # newest first
        by_file[copy.file] = by_file.get(copy.file, 0) + 1
        if by_file[copy.file] > KEEP_PER_FILE:
            copy.path.unlink(missing_ok=True)
        else:
            kept.append(copy)
    total = sum(copy.size for copy in kept)
    newest = {copy.file: copy for copy in reversed(kept)}  # each file's newest copy is never dropped
    for copy in reversed(kept):  # oldest first
        if total <= MAX_TOTAL_BYTES:
            break
        if newest.get(copy.file) is not copy:
            total -= copy.size
            copy.path.unlink(missing_ok=True)


def find(root: Path, file: str, when: str | None = None) -> Copy:
    """The copy ``kata restore`` brings back: the newest sound one that differs from the file now,
    or the one whose time starts with ``when`` (as listed: '20261207-0153', or '2026-12-07 02:53').

    Raises LookupError with the line that says what to do.
    """
    name = _file_name(root, file)
    kept = copies(root, name)
    if not kept:
        raise LookupError(f"no copies of katas/{name} are kept (`kata history` lists the files that have some)")
    if when:
        wanted = when.strip()
        matches = [c for c in kept if c.when.startswith(wanted) or c.shown.startswith(wanted)]
        if not matches:
            raise LookupError(f"no copy of katas/{name} from {when!r}: `kata history {name}` lists them")
        return matches[0]
    try:
        current = (Path(root) / "katas" / name).read_bytes()
    except OSError:
        current = b""
    for copy in kept:
        data = copy.path.read_bytes()
        if data != current and sound(data, name) is None:
            return copy
    raise LookupError(f"every copy of katas/{name} is the file as it is now (or is empty or broken)")


def _file_name(root: Path, file: str) -> str:
    """'katas/neuron.py', 'neuron.py' or 'neuron' -> 'neuron.py'."""
    text = file.strip().replace("\\", "/")
    text = text.removeprefix("./").removeprefix("katas/")
    if "." not in Path(text).name:
        text += ".py"
    return text
