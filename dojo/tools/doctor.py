"""``kata doctor``: is everything the katas need in order? One line per finding, with its fix.

It looks at four things, in the order a learner would fix them:

* **the install**: Python, NumPy, TensorFlow and Keras (found, not imported:
  importing TensorFlow takes seconds; ``--import`` does it too), a C++ compiler
  for the GPU track, and the sandbox the katas run in (Landlock's ABI);
* **the workspace**: the curriculum loads, each file of ``katas/`` is UTF-8
  and compiles, and each kata's function or class is defined exactly once;
* **``.katas/``**: the reference cache (every entry read back whole), the
  reference daemon (running or not), the progress file, the digests and the
  history of your files;
* **the room**: the membership this checkout joined, if any.

It repairs what it safely can (what it repairs is a cache or a copy, never
your code): a damaged cache entry is deleted (it is recomputed), a damaged
progress file is set aside with what could be read kept, an unreadable digest
memo or history index is removed. It exits 1 when something is still broken.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.markup import escape

from ..course import definitions, history
from ..course.curriculum import Curriculum, CurriculumError, load
from ..course.digest_memo import DIGESTS_FILE
from ..course.progress import Progress
from ..harness import sandbox
from ..paths import ROOM_FILE, STATE_DIR

OK, FIXED, NOTE, BROKEN = "ok", "fixed", "note", "broken"
STYLE = {OK: "green", FIXED: "cyan", NOTE: "yellow", BROKEN: "bold red"}


@dataclass(frozen=True)
class Finding:
    level: str
    text: str


# ------------------------------------------------------------------ install


def _package(name: str, distributions: tuple[str, ...], fix: str, *, do_import: bool = False) -> Finding:
    if importlib.util.find_spec(name) is None:
        return Finding(BROKEN, f"{name} is not installed: {fix}")
    version = next((_version(d) for d in distributions if _version(d)), "?")
    if do_import:
        try:
            importlib.import_module(name)
        except Exception as error:  # any failure to import is the finding
            return Finding(BROKEN, f"{name} {version} is installed but does not import ({error}): {fix}")
    return Finding(OK, f"{name} {version}")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def check_install(do_import: bool = False) -> list[Finding]:
    found = []
    python = ".".join(map(str, sys.version_info[:3]))
    found.append(
        Finding(OK, f"Python {python}")
        if sys.version_info >= (3, 11)
        else Finding(BROKEN, f"Python {python} is too old: the katas need Python 3.11 or newer")
    )
    reinstall = "pip install -e . in your checkout"
    found.append(_package("numpy", ("numpy",), reinstall, do_import=do_import))
    found.append(
        _package("tensorflow", ("tensorflow", "tensorflow-cpu", "tensorflow-macos"), reinstall, do_import=do_import)
    )
    found.append(_package("keras", ("keras",), reinstall, do_import=do_import))
    found.append(_compiler())
    found.append(_sandbox())
    return found


def _compiler() -> Finding:
    from ..gpu.runtime import NoCompiler, compiler

    try:
        return Finding(OK, f"C++ compiler for the GPU track: {compiler()}")
    except NoCompiler as error:
        return Finding(NOTE, f"{error} (only the GPU track needs it)")


def _sandbox() -> Finding:
    line = sandbox.missing_line()
    if line:
        return Finding(NOTE, line.removeprefix("note: "))
    scopes = ", and signal only its own processes" if sandbox.abi() >= sandbox.SCOPES_SINCE else ""
    return Finding(
        OK, f"sandbox: Landlock ABI {sandbox.abi()} (a kata's code may write only into its own folder{scopes})"
    )


# ---------------------------------------------------------------- workspace


def check_workspace(root: Path) -> tuple[list[Finding], Curriculum | None]:
    try:
        curriculum = load(root / "curriculum")
    except (CurriculumError, OSError, UnicodeDecodeError) as error:
        return [Finding(BROKEN, f"the curriculum does not load ({error}): `git checkout curriculum/`")], None
    found = [Finding(OK, f"curriculum: {len(curriculum.katas)} katas in {len(curriculum.tracks)} tracks")]
    sources: dict[str, str | None] = {}
    for path in history.learner_files(root):
        if path.suffix == ".py":
            shown = f"katas/{path.relative_to(root / 'katas').as_posix()}"
            sources[shown], finding = _read_learner_file(root, path, shown)
            if finding is not None:
                found.append(finding)
    for kata in curriculum.katas:
        shown = f"katas/{kata.path}"
        if shown not in sources:
            found.append(Finding(BROKEN, f"{shown} is missing: `git checkout {shown}` brings back its stubs"))
            sources[shown] = None
        elif sources[shown] is not None:
            found.extend(_definitions(sources[shown], shown, kata))
    if all(f.level == OK for f in found[1:]):
        found.append(Finding(OK, f"katas/: {len(sources)} files, UTF-8, each kata defined once"))
    return found, curriculum


def _read_learner_file(root: Path, path: Path, shown: str) -> tuple[str | None, Finding | None]:
    try:
        source = definitions.read_source(path, shown)
    except definitions.NotUTF8 as error:
        return None, Finding(BROKEN, str(error))
    except OSError as error:
        return None, Finding(BROKEN, f"cannot read {shown} ({error.strerror}): check its permissions")
    problem = definitions.compile_error(source, shown)
    if problem is None:
        return source, None
    restore = ""
    try:
        copy = history.find(root, shown)
        restore = f", or `kata restore {shown} {copy.when}` brings back its copy of {copy.shown}"
    except LookupError:
        pass
    line = f"line {problem.lineno}: " if problem.lineno else ""
    return source, Finding(BROKEN, f"{shown} does not compile ({line}{problem.msg}): fix that line{restore}")


def _definitions(source: str, shown: str, kata) -> list[Finding]:
    lines = definitions.definition_lines(source, kata.target)
    if not lines:
        return [
            Finding(
                BROKEN,
                f"{shown} has no `{kata.target}` (kata {kata.number}): `kata reset {kata.number}` brings back its stub",
            )
        ]
    if len(lines) > 1:
        where = ", ".join(map(str, lines))
        return [
            Finding(
                BROKEN,
                f"{shown} defines `{kata.target}` {len(lines)} times (lines {where}): Python keeps only the last; "
                f"delete the others",
            )
        ]
    return []


# ------------------------------------------------------------------ .katas/


def check_state(root: Path) -> list[Finding]:
    return [*_cache(), _daemon(root), _progress(root), _digests(root), _history(root)]


def _daemon(root: Path) -> Finding:
    """Whether the reference daemon (TensorFlow kept up between runs) runs for this checkout."""
    from ..refcache import daemon, daemon_client

    if not daemon_client.usable():
        return Finding(OK, "reference daemon: off here (each run that needs TensorFlow starts it for itself)")
    said = daemon_client.status(root)
    if said is not None:
        return Finding(
            OK,
            f"reference daemon: running (pid {said['pid']}, {said.get('served', 0)} values computed; it ends after "
            f"{said.get('idle_timeout', daemon.idle_seconds()) / 60:g} idle minutes, `kata stop` ends it now)",
        )
    pid = daemon_client.holder(root)
    if pid is not None:
        return Finding(NOTE, f"reference daemon: pid {pid} holds its lock but does not answer: `kata stop` ends it")
    return Finding(OK, "reference daemon: not running (the first run that needs TensorFlow starts it)")


def _cache() -> list[Finding]:
    from ..refcache import store

    folder = store.cache_folder()
    if not (folder / "entries").is_dir():
        return [Finding(NOTE, f"reference cache: empty ({folder}); `kata warm` fills it, or the first runs do")]
    cache = store.Store(folder)
    removed, entries = 0, 0
    for path in sorted(cache.entries.glob("*/*.json")):
        entries += 1
        try:
            key = json.loads(path.read_bytes())["key"]
        except Exception:  # unreadable in any way: the entry is damaged
            key = None
        if key is None or cache.read(key) is None:
            path.unlink(missing_ok=True)
            removed += 1
    removed += _remove_damaged_arrays(cache, store)
    if removed:
        return [
            Finding(FIXED, f"reference cache: removed {removed} damaged files of {folder} (recomputed when needed)")
        ]
    return [Finding(OK, f"reference cache: {entries} entries, each read back whole")]


def _remove_damaged_arrays(cache, store) -> int:
    import numpy as np

    removed = 0
    for path in sorted(cache.arrays.glob("*/*")):
        try:
            intact = path.suffix == ".npy" and store.array_digest(np.load(path, allow_pickle=False)) == path.stem
        except Exception:  # unreadable in any way: the array is damaged
            intact = False
        if not intact and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _progress(root: Path) -> Finding:
    said: list[str] = []
    progress = Progress.load(root, say=said.append)  # a damaged file is set aside, what reads fine is kept
    if said:
        return Finding(FIXED, " ".join(said))
    return Finding(OK, f"progress: {len(progress.katas)} katas recorded")


def _digests(root: Path) -> Finding:
    path = root / STATE_DIR / DIGESTS_FILE
    if not path.exists():
        return Finding(OK, "digests: none yet")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("katas"), dict):
            return Finding(OK, f"digests: {len(data['katas'])} katas")
    except (OSError, ValueError, RecursionError):
        pass
    path.unlink(missing_ok=True)
    return Finding(FIXED, f"digests: {path.relative_to(root)} was damaged and is removed (the next run computes them)")


def _history(root: Path) -> Finding:
    index = history.folder(root) / history.INDEX
    try:
        if index.exists():
            json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        index.unlink(missing_ok=True)
        return Finding(FIXED, "history: its index was damaged and is removed (the next run rebuilds it)")
    kept = history.copies(root)
    return Finding(OK, f"history: {len(kept)} copies of {len({c.file for c in kept})} files (`kata history`)")


# --------------------------------------------------------------------- room


def check_room(root: Path) -> Finding:
    path = root / STATE_DIR / ROOM_FILE
    if not path.exists():
        return Finding(OK, "room: not joined (`kata room join URL CODE NAME` joins a workshop's room)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and not data.get("joined"):
            return Finding(OK, "room: left (`kata room join URL CODE NAME` joins again)")
        if isinstance(data, dict) and data.get("url") and data.get("code"):
            return Finding(OK, f"room: joined {data['url']} as {data.get('name', '?')}")
    except (OSError, ValueError, RecursionError):
        pass
    return Finding(BROKEN, f"room: {path.relative_to(root)} is damaged: `kata room leave`, then join again")


# ---------------------------------------------------------------------- run


def examine(root: Path, do_import: bool = False) -> list[Finding]:
    found = check_install(do_import)
    workspace, _ = check_workspace(root)
    return [*found, *workspace, *check_state(root), check_room(root)]


def cmd_doctor(console, args) -> int:
    from .cli import find_root

    root = find_root()
    found = examine(root, do_import=getattr(args, "do_import", False))
    for finding in found:
        console.print(f"  [{STYLE[finding.level]}]{finding.level:<6}[/] {escape(finding.text)}", soft_wrap=True)
    broken = sum(f.level == BROKEN for f in found)
    console.print(f"{broken} problem{'s' if broken != 1 else ''} to fix" if broken else "nothing to fix")
    return 1 if broken else 0
