"""A learner's progress, kept in the working tree at ``.katas/progress.json``.

The pytest plugin updates it at the end of every run on the learner's own
``katas/`` folder; the ``kata`` command reads it (``status``, ``list``,
``hint``) and exports it for a workshop facilitator. The file looks like::

    {
      "format": 1,
      "updated": "2026-11-25T21:40:02+00:00",
      "current": "neuron.neuron",          # the kata the last run stopped at (null: all done)
      "katas": {
        "neuron.weighted_sum": {
          "state": "passed",               # passed | failing | error | not started | skipped
          "streak": 0,                     # failing attempts (runs of changed code) in a row: the automatic hints
          "runs": 4,                       # runs in which this kata's tests ran
          "last_run": "2026-11-25T21:39:58+00:00",
          "passed_at": "2026-11-25T21:39:58+00:00",
          "hints_seen": 2,                 # hints revealed so far (kata hint)
          "checks": "5/5"                  # checks passed / checks run, last run
        }
      }
    }

Entries are keyed on kata ids (``neuron.weighted_sum``), never on numbers, so
the file survives upgrades of the suite: ids the curriculum no longer has are
kept but ignored, new ids simply have no entry yet (not started).

Safe under anything:

* **Validated on load.** Every field is checked for its type. A file that is
  not JSON, or has a field of the wrong type, is never silently overwritten:
  the original is moved aside to ``progress.json.corrupt-<stamp>``, whatever
  could be read is kept, and a one-line note says so (see :attr:`Progress.notes`).
* **Locked and merged.** A ``Progress`` remembers what *this* process changed
  (a run recorded, a hint revealed, a kata reset), and :meth:`Progress.save`
  re-reads the file under a lock (``fcntl.flock`` on ``.katas/progress.lock``),
  applies those changes to what is on disk and writes it atomically (a
  temporary file, then ``os.replace``). A ``kata hint`` given while a long
  ``pytest`` run is going is therefore not lost when the run saves.
* **Errors are one line.** A ``.katas/`` that cannot be written raises
  :class:`ProgressError` (an ``OSError``) whose text says what and where.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..files import write_atomic
from ..paths import STATE_DIR
from ..states import DONE_STATES, NOT_STARTED, PASSED, KataState
from ..words import plural
from . import attempts
from .curriculum import Curriculum, Kata

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; saves still merge, without the lock
    fcntl = None

FORMAT = 1
#: The hint level rises by one every this many failing runs in a row.
RUNS_PER_HINT = attempts.ATTEMPTS_PER_HINT  # the name older code imports
#: How long a save waits for another kata process to finish saving.
LOCK_TIMEOUT = 10.0

_STATES = {state.value for state in KataState}
_MISSING = object()


class ProgressError(OSError):
    """Progress could not be read or saved; the text is one line that says why and what to do."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "progress error"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _shown(path: Path) -> str:
    """``.katas/progress.json`` rather than a long absolute path, where it is under the checkout."""
    parts = Path(path).parts
    return str(Path(*parts[parts.index(STATE_DIR) :])) if STATE_DIR in parts else str(path)


def _write_json(path: Path, data: dict) -> None:
    """Write atomically, so a run interrupted mid-write never leaves half a file."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> dict:
    """A small settings file: anything unreadable reads as no settings."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cannot_write(path: Path, error: OSError, purpose: str = "save your progress") -> ProgressError:
    folder = _shown(path.parent)
    reason = error.strerror or type(error).__name__
    return ProgressError(
        f"cannot {purpose}: {folder}/ cannot be written ({reason}); "
        f"make {folder}/ writable (or work in a copy you own) and try again"
    )


@contextmanager
def file_lock(lock: Path, purpose: str = "save your progress", timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock`` (created if need be), waiting at most ``timeout`` seconds.

    Any process that reads-modifies-writes the same state takes the same lock,
    so two of them (a ``pytest`` run and a ``kata hint``) take turns.
    """
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise _cannot_write(lock, error, purpose) from None
    try:
        if fcntl is not None:
            deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ProgressError(
                            f"{_shown(lock)} is held by another kata process: let it finish (or end it), then try again"
                        ) from None
                    time.sleep(0.02)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _locked(path: Path):
    """The lock of ``progress.json`` (``progress.lock`` next to it)."""
    return file_lock(path.with_name("progress.lock"))


# ------------------------------------------------------------ validation

_COUNTS = ("streak", "runs", "hints_seen")
_TIMES = ("last_run", "passed_at")


def _field_problem(key: str, value) -> str | None:
    """Why one field of a kata's entry is unusable, or None if it is fine."""
    if key == "state":
        return None if isinstance(value, str) and value in _STATES else f"state {value!r} is not a known state"
    if key in _COUNTS:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else f"{key} {value!r} is not a count"
    if key in _TIMES:
        return None if value is None or isinstance(value, str) else f"{key} {value!r} is not a time"
    if key == "checks":
        return None if isinstance(value, str) else f"checks {value!r} is not text like '3/5'"
    return None  # a field from a newer version: kept as it is


def validate(data) -> tuple[dict, list[str]]:
    """``(clean, problems)``: the usable part of a progress file, and what was wrong with the rest.

    Unknown kata ids are kept (the curriculum may bring them back), unknown
    fields too; a field of the wrong type is dropped, and so is an entry that
    is not an object at all.
    """
    if not isinstance(data, dict):
        return {}, [f"it holds {type(data).__name__}, not an object"]
    problems: list[str] = []
    clean: dict = {"katas": {}}
    version = data.get("format", FORMAT)
    if not (isinstance(version, int) and not isinstance(version, bool)) or version > FORMAT:
        problems.append(f"format {version!r} is not one this version reads")
    for key in ("current", "updated"):
        value = data.get(key)
        if value is None or isinstance(value, str):
            clean[key] = value
        else:
            problems.append(f"{key} {value!r} is not text")
    katas = data.get("katas", {})
    if not isinstance(katas, dict):
        return clean, problems + ["katas is not an object"]
    for kata_id, entry in katas.items():
        if not isinstance(entry, dict):
            problems.append(f"{kata_id} is not an object")
            continue
        kept = {}
        for key, value in entry.items():
            problem = _field_problem(key, value)
            if problem:
                problems.append(f"{kata_id}: {problem}")
            else:
                kept[key] = value
        clean["katas"][kata_id] = kept
    return clean, problems


def _examine(path: Path) -> tuple[dict, list[str], bool]:
    """``(clean, problems, exists)`` for the file at ``path``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"katas": {}}, [], False
    except OSError as error:
        raise ProgressError(
            f"cannot read {_shown(path)} ({error.strerror or error}): move it away "
            f"(or fix its permissions), then try again"
        ) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return {"katas": {}}, ["it is not UTF-8 text"], True
    except json.JSONDecodeError as error:
        return {"katas": {}}, [f"it is not valid JSON ({error.msg}, line {error.lineno} column {error.colno})"], True
    except (ValueError, RecursionError) as error:  # e.g. nested thousands deep
        return {"katas": {}}, [f"it is not JSON this tool can read ({type(error).__name__})"], True
    clean, problems = validate(data)
    return clean, problems, True


def _set_aside(path: Path, clean: dict, problems: list[str]) -> str:
    """Move a damaged file to ``progress.json.corrupt-<stamp>``, write back what could be read,
    and return the one-line note that says so. Called with the lock held."""
    aside = path.with_name(f"{path.name}.corrupt-{_stamp()}")
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{path.name}.corrupt-{_stamp()}-{counter}")
    kept = len(clean.get("katas", {}))
    why = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    try:
        os.replace(path, aside)
        if kept or clean.get("current"):
            _write_json(
                path,
                {
                    "format": FORMAT,
                    "updated": clean.get("updated"),
                    "current": clean.get("current"),
                    "katas": clean["katas"],
                },
            )
    except OSError as error:
        return (
            f"{_shown(path)} is damaged: {why}; it could not be set aside ({error.strerror or error}), "
            f"so only what reads fine is used ({plural(kept, 'kata')})"
        )
    rest = (
        f"kept the {kept} kata{'s' if kept != 1 else ''} that read{'' if kept != 1 else 's'} fine"
        if kept
        else "starting from no progress"
    )
    return f"{_shown(path)} was damaged: {why}; the original is kept as {_shown(aside)}; {rest}"


def _say_on_stderr(line: str) -> None:
    try:
        print(f"kata: {line}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed: the note is also in Progress.notes
        pass


# -------------------------------------------------------------- progress


class Progress:
    """The contents of ``.katas/progress.json``, and this process's changes to it."""

    def __init__(
        self,
        path: Path,
        katas: dict[str, dict] | None = None,
        current: str | None = None,
        updated: str | None = None,
        notes: list[str] | None = None,
    ):
        self.path = Path(path)
        self.katas: dict[str, dict] = katas if katas is not None else {}
        self._current = current
        self.updated = updated
        #: One-line notes about the file (a damaged file set aside), already said once.
        self.notes: list[str] = notes if notes is not None else []
        # What this process changed, replayed on the freshest copy at save time.
        self._changes: list[Callable[[Progress], object]] = []
        # As loaded: what a direct edit of ``katas`` (not through a method) is found against.
        self._base = copy.deepcopy(self.katas), current

    @classmethod
    def load(cls, root: Path, say: Callable[[str], None] | None = _say_on_stderr) -> Progress:
        """Read and validate the file; a damaged one is set aside (see the module docstring).

        ``say`` prints the one-line note when that happens (stderr by default; the
        ``kata`` command passes its console; ``None`` keeps it in :attr:`notes` only).
        """
        path = Path(root) / STATE_DIR / "progress.json"
        notes = []
        try:
            clean, problems, _ = _examine(path)
        except ProgressError as error:  # unreadable (a folder, no permission): no progress, said once
            clean, problems = {"katas": {}}, []
            notes.append(str(error))
        if problems:
            try:
                with _locked(path):
                    clean, problems, exists = _examine(path)  # another process may have repaired it meanwhile
                    if problems and exists:
                        notes.append(_set_aside(path, clean, problems))
            except ProgressError as error:  # read-only: use what reads, change nothing on disk
                notes.append(f"{_shown(path)} is damaged: {'; '.join(problems[:3])}; not repaired: {error}")
        for note in notes:
            if say is not None:
                say(note)
        return cls(
            path=path,
            katas=clean.get("katas", {}),
            current=clean.get("current"),
            updated=clean.get("updated"),
            notes=notes,
        )

    @property
    def current(self) -> str | None:
        return self._current

    @current.setter
    def current(self, value: str | None) -> None:
        self._change(lambda p: setattr(p, "_current", value))

    def _change(self, change: Callable[[Progress], object]):
        """Apply ``change`` here now, and again to the file's newest contents at save time."""
        self._changes.append(change)
        return change(self)

    def save(self) -> None:
        """Merge this process's changes into the file as it is now, under the lock, atomically."""
        with _locked(self.path):
            clean, problems, exists = _examine(self.path)
            if problems and exists:  # damaged since we loaded it: keep it aside, never overwrite it
                note = _set_aside(self.path, clean, problems)
                self.notes.append(note)
                _say_on_stderr(note)
            fresh = Progress(self.path, clean.get("katas", {}), clean.get("current"), clean.get("updated"))
            for change in self._changes:
                change(fresh)
            self._apply_direct_edits(fresh)
            fresh.updated = now()
            try:
                _write_json(
                    self.path,
                    {"format": FORMAT, "updated": fresh.updated, "current": fresh._current, "katas": fresh.katas},
                )
            except OSError as error:
                raise _cannot_write(self.path, error) from None
        self.katas, self._current, self.updated = fresh.katas, fresh._current, fresh.updated
        self._changes = []
        self._base = copy.deepcopy(self.katas), self._current

    def _apply_direct_edits(self, fresh: Progress) -> None:
        """Fields this process set on ``katas`` directly (``entry["digest"] = ...``) go over too.

        They are what the in-memory copy holds beyond what replaying the logged
        changes on the copy as loaded gives: each such field is set (or removed) in ``fresh``.
        """
        expected = Progress(self.path, copy.deepcopy(self._base[0]), self._base[1])
        for change in self._changes:
            change(expected)
        for kata_id in set(expected.katas) | set(self.katas):
            mine, replayed = self.katas.get(kata_id), expected.katas.get(kata_id)
            if mine == replayed:
                continue
            if mine is None:
                fresh.katas.pop(kata_id, None)
                continue
            target = fresh.katas.setdefault(kata_id, {})
            for key in set(mine) | set(replayed or {}):
                if key not in mine:
                    target.pop(key, None)
                elif (replayed or {}).get(key, _MISSING) != mine[key]:
                    target[key] = copy.deepcopy(mine[key])

    # ------------------------------------------------------------- reading

    def entry(self, kata_id: str) -> dict:
        return self.katas.get(kata_id, {})

    def state(self, kata_id: str) -> str:
        return self.entry(kata_id).get("state", NOT_STARTED)

    def done(self, curriculum: Curriculum) -> set[str]:
        return {kata.id for kata in curriculum.katas if self.state(kata.id) in DONE_STATES}

    def next_kata(self, curriculum: Curriculum) -> Kata | None:
        """Where the learner is: the kata the last run stopped at, else the first not done."""
        if self.current in curriculum.by_id and self.state(self.current) not in DONE_STATES:
            return curriculum.by_id[self.current]
        return next((k for k in curriculum.katas if self.state(k.id) not in DONE_STATES), None)

    def hint_level(self, kata: Kata) -> int:
        """Index of the hint to show: what ``kata hint`` revealed, or more after failing runs."""
        entry = self.entry(kata.id)
        revealed = max(int(entry.get("hints_seen", 1)), 1) - 1
        automatic = attempts.automatic_level(int(entry.get("streak", 0)))
        return min(max(revealed, automatic), len(kata.hints) - 1)

    # ------------------------------------------------------------- writing

    def reveal_hint(self, kata: Kata) -> int:
        """Reveal one more hint; return the index of the hint now shown."""

        def reveal(progress: Progress) -> int:
            level = min(progress.hint_level(kata) + 1, len(kata.hints) - 1)
            entry = progress.katas.setdefault(kata.id, {})
            entry["hints_seen"] = max(level + 1, int(entry.get("hints_seen", 1)))
            return level

        return self._change(reveal)

    def record(self, kata: Kata, state: str, passed: int, total: int, when: str, attempt: str | None = None) -> bool:
        """Record one run of ``kata``; return True when it passes now and did not before.

        ``attempt`` identifies the code that ran (:func:`attempts.code_digest`): a failing run of the same
        code as the last counted one is no new attempt, and brings no hint closer.
        """

        def apply(progress: Progress) -> bool:
            entry = progress.katas.setdefault(kata.id, {})
            before = entry.get("state", NOT_STARTED)
            entry.update(
                state=str(state), last_run=when, runs=int(entry.get("runs", 0)) + 1, checks=f"{passed}/{total}"
            )
            attempts.count_run(entry, state, attempt)
            newly_passed = state == PASSED and before != PASSED
            if newly_passed:
                entry["passed_at"] = when
            return newly_passed

        return self._change(apply)

    def record_answer_key(self, kata: Kata, digest: str, when: str) -> None:
        """``kata`` now holds the answer key's code (``kata catch-up``): passed, known by CI, with the digest
        a later run compares to decide it need not run (``pytest --recheck`` runs it anyway)."""

        def apply(progress: Progress) -> None:
            entry = progress.katas.setdefault(kata.id, {})
            entry.update(state=str(PASSED), streak=0, digest=digest, filled="answer key")
            entry.setdefault("passed_at", when)

        self._change(apply)

    def forget(self, kata_id: str) -> None:
        """A reset kata starts again: not started, no streak, hints from the first."""

        def apply(progress: Progress) -> None:
            if kata_id in progress.katas:
                progress.katas[kata_id] = {"state": str(NOT_STARTED), "streak": 0, "hints_seen": 1}

        self._change(apply)


# ------------------------------------------------------------------ workshop


def workshop_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / "workshop.json"


def workshop_settings(root: Path) -> dict:
    """``{"pair_prompts": bool, "name": str | None}``; prompts are off unless switched on."""
    data = _read_json(workshop_path(root))
    name = data.get("name")
    return {"pair_prompts": data.get("pair_prompts") is True, "name": name if isinstance(name, str) and name else None}


def save_workshop_settings(root: Path, settings: dict) -> None:
    path = workshop_path(root)
    try:
        _write_json(path, settings)
    except OSError as error:
        raise ProgressError(
            f"cannot save the workshop settings: {_shown(path.parent)}/ cannot be written ({error.strerror or error})"
        ) from None


# ------------------------------------------------------------------- export


def export(progress: Progress, curriculum: Curriculum, name: str) -> dict:
    """A self-contained summary a facilitator can collect (see ``kata board``)."""
    nxt = progress.next_kata(curriculum)
    tracks = []
    for track in curriculum.tracks:
        katas = curriculum.in_track(track)
        tracks.append(
            {
                "number": track.number,
                "name": track.name,
                "module": track.module,
                "total": len(katas),
                "done": sum(1 for k in katas if progress.state(k.id) in DONE_STATES),
            }
        )
    return {
        "format": FORMAT,
        "name": name,
        "exported": now(),
        "done": len(progress.done(curriculum)),
        "total": len(curriculum.katas),
        "next": {"id": nxt.id, "number": nxt.number, "title": nxt.title} if nxt else None,
        "tracks": tracks,
        "katas": {
            k.id: {
                "number": k.number,
                "title": k.title,
                "state": progress.state(k.id),
                "passed_at": progress.entry(k.id).get("passed_at"),
            }
            for k in curriculum.katas
        },
    }


def export_markdown(summary: dict) -> str:
    lines = [
        f"# Neural Katas progress: {summary['name']}",
        "",
        f"{summary['done']} of {summary['total']} katas done (exported {summary['exported']}).",
        "",
    ]
    if summary["next"]:
        lines += [f"Next kata: {summary['next']['number']} {summary['next']['title']}", ""]
    lines += ["| track | done |", "| --- | --- |"]
    lines += [f"| {t['number']} {t['name']} | {t['done']}/{t['total']} |" for t in summary["tracks"]]
    lines += ["", "| kata | title | state |", "| --- | --- | --- |"]
    lines += [f"| {k['number']} | {k['title']} | {k['state']} |" for k in summary["katas"].values()]
    return "\n".join(lines) + "\n"


def write_export(progress: Progress, curriculum: Curriculum, name: str, folder: Path) -> tuple[Path, Path]:
    """Write ``progress-<name>.json`` and ``.md`` into ``folder``; a folder that cannot be written is one line."""
    summary = export(progress, curriculum, name)
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "pair"
    json_path, md_path = folder / f"progress-{slug}.json", folder / f"progress-{slug}.md"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(json_path, summary)
        md_path.write_text(export_markdown(summary), encoding="utf-8")
    except OSError as error:
        raise ProgressError(
            f"cannot write the export to {folder}: {error.strerror or error}"
            + (f" ({error.filename})" if error.filename and str(error.filename) != str(folder) else "")
            + "; give --out a folder you can write to"
        ) from None
    return json_path, md_path
