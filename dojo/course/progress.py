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
          "streak": 0,                     # failing runs in a row (drives the automatic hints)
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
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..paths import STATE_DIR
from ..states import DONE_STATES, ERROR, FAILING, NOT_STARTED, PASSED
from .curriculum import Curriculum, Kata

FORMAT = 1
#: The hint level rises by one every this many failing runs in a row.
RUNS_PER_HINT = 3



def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict) -> None:
    """Write atomically, so a run interrupted mid-write never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(temporary, path)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Progress:
    """The contents of ``.katas/progress.json``."""

    path: Path
    katas: dict[str, dict] = field(default_factory=dict)
    current: str | None = None
    updated: str | None = None

    @classmethod
    def load(cls, root: Path) -> Progress:
        path = Path(root) / STATE_DIR / "progress.json"
        data = _read_json(path)
        katas = data.get("katas") if isinstance(data.get("katas"), dict) else {}
        katas = {key: value for key, value in katas.items() if isinstance(value, dict)}
        return cls(path=path, katas=katas, current=data.get("current"), updated=data.get("updated"))

    def save(self) -> None:
        self.updated = now()
        _write_json(self.path, {"format": FORMAT, "updated": self.updated, "current": self.current,
                                "katas": self.katas})

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
        automatic = int(entry.get("streak", 0)) // RUNS_PER_HINT
        return min(max(revealed, automatic), len(kata.hints) - 1)

    def reveal_hint(self, kata: Kata) -> int:
        """Reveal one more hint; return the index of the hint now shown."""
        level = min(self.hint_level(kata) + 1, len(kata.hints) - 1)
        self.katas.setdefault(kata.id, {})["hints_seen"] = level + 1
        return level

    # ------------------------------------------------------------- writing

    def record(self, kata: Kata, state: str, passed: int, total: int, when: str) -> bool:
        """Record one run of ``kata``; return True when it passes now and did not before."""
        entry = self.katas.setdefault(kata.id, {})
        before = entry.get("state", NOT_STARTED)
        entry.update(state=state, last_run=when, runs=int(entry.get("runs", 0)) + 1, checks=f"{passed}/{total}")
        if state in (FAILING, ERROR):
            entry["streak"] = int(entry.get("streak", 0)) + 1
        else:
            entry["streak"] = 0
        newly_passed = state == PASSED and before != PASSED
        if newly_passed:
            entry["passed_at"] = when
        return newly_passed


# ------------------------------------------------------------------ workshop


def workshop_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / "workshop.json"


def workshop_settings(root: Path) -> dict:
    """``{"pair_prompts": bool, "name": str | None}``; prompts are off unless switched on."""
    data = _read_json(workshop_path(root))
    return {"pair_prompts": bool(data.get("pair_prompts", False)), "name": data.get("name")}


def save_workshop_settings(root: Path, settings: dict) -> None:
    _write_json(workshop_path(root), settings)


# ------------------------------------------------------------------- export


def export(progress: Progress, curriculum: Curriculum, name: str) -> dict:
    """A self-contained summary a facilitator can collect (see ``kata board``)."""
    nxt = progress.next_kata(curriculum)
    tracks = []
    for track in curriculum.tracks:
        katas = curriculum.in_track(track)
        tracks.append({"number": track.number, "name": track.name, "total": len(katas),
                       "done": sum(1 for k in katas if progress.state(k.id) in DONE_STATES)})
    return {
        "format": FORMAT,
        "name": name,
        "exported": now(),
        "done": len(progress.done(curriculum)),
        "total": len(curriculum.katas),
        "next": {"id": nxt.id, "number": nxt.number, "title": nxt.title} if nxt else None,
        "tracks": tracks,
        "katas": {k.id: {"number": k.number, "title": k.title, "state": progress.state(k.id),
                         "passed_at": progress.entry(k.id).get("passed_at")} for k in curriculum.katas},
    }


def export_markdown(summary: dict) -> str:
    lines = [f"# Neural Katas progress: {summary['name']}", "",
             f"{summary['done']} of {summary['total']} katas done (exported {summary['exported']}).", ""]
    if summary["next"]:
        lines += [f"Next kata: {summary['next']['number']} {summary['next']['title']}", ""]
    lines += ["| track | done |", "| --- | --- |"]
    lines += [f"| {t['number']} {t['name']} | {t['done']}/{t['total']} |" for t in summary["tracks"]]
    lines += ["", "| kata | title | state |", "| --- | --- | --- |"]
    lines += [f"| {k['number']} | {k['title']} | {k['state']} |" for k in summary["katas"].values()]
    return "\n".join(lines) + "\n"


def write_export(progress: Progress, curriculum: Curriculum, name: str, folder: Path) -> tuple[Path, Path]:
    summary = export(progress, curriculum, name)
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "pair"
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f"progress-{slug}.json", folder / f"progress-{slug}.md"
    _write_json(json_path, summary)
    md_path.write_text(export_markdown(summary), encoding="utf-8")
    return json_path, md_path
