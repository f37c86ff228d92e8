"""The session, exported: JSON (everything), CSV (one row per pair), the PNG board of ``kata board``,
the per-kata report (:mod:`.analysis`, HTML and CSV) and a copy of the database.

The facilitator gets them at any time (admin token) and, when the server
stops or the board is reset, in ``STATE_DIR/exports/``. The CSV is meant for a spreadsheet, so a
cell a pair controls (its name) that starts like a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from ..files import write_atomic
from . import analysis
from .board import Room, row_key

#: A spreadsheet runs a cell starting with one of these as a formula ("CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")


def as_json(room: Room, database=None) -> dict:
    now = room.clock()
    snapshot = room.snapshot(now)
    by_key = {row_key(client): pair for client, pair in room.pairs.items()}
    for row in snapshot["pairs"]:
        pair = by_key[row["key"]]
        row["katas"] = dict(pair.get("katas", {}))
        row["first_seen"] = stamp(pair["first_seen"])
        row["last_seen"] = stamp(pair["last_seen"])
    session = sorted(room.tally.values(), key=lambda e: (-len(e["pairs"]), -e["hits"]))
    return {
        "exported": stamp(now),
        "started": stamp(room.started),
        "settings": snapshot["settings"],
        "pairs": snapshot["pairs"],
        "mistakes_recent": snapshot["mistakes"],
        "mistakes_session": [
            {"kata": room.kata_info(e["kata"]), "mistake": e["mistake"], "pairs": len(e["pairs"]), "hits": e["hits"]}
            for e in session
        ],
        "rotation": snapshot["rotation"],
        "posts_accepted": room.accepted,
        "help_queue": snapshot["queue"],
        "katas": analysis.from_database(database, room.curriculum)["katas"] if database is not None else None,
    }


def as_csv(room: Room) -> str:
    snapshot = room.snapshot()
    tracks = [t.module for t in room.curriculum.tracks]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "pair",
            "kata_id",
            "kata_number",
            "kata_title",
            "state",
            "failing_attempts",
            "checks",
            "done",
            "total",
            *[f"track_{m}" for m in tracks],
            "stuck",
            "minutes_on_kata",
            "last_mistake",
            "runs_on_kata",
            "presence",
            "posts",
        ]
    )
    for row in snapshot["pairs"]:
        kata = row["kata"] or {}
        by_track = {t["module"]: f"{t['done']}/{t['total']}" for t in row["tracks"]}
        cells = [
            row["name"],
            kata.get("id", ""),
            kata.get("number", ""),
            kata.get("title", ""),
            row["state"],
            row["streak"],
            row["checks"],
            row["done"],
            row["total"],
            *[by_track[m] for m in tracks],
            row["stuck"] or "",
            round(row["on_kata_s"] / 60, 1),
            row["failure"] or "",
            row["runs"],
            row["presence"],
            row["posts"],
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    return out.getvalue()


def board_exports(room: Room) -> list[dict]:
    """The room's pairs in the shape of ``kata progress --export``, for :func:`dojo.course.board.draw`."""
    snapshot = room.snapshot()
    return [
        {
            "name": row["name"],
            "done": row["done"],
            "total": row["total"],
            "tracks": [{k: t[k] for k in ("number", "name", "total", "done")} for t in row["tracks"]],
        }
        for row in sorted(snapshot["pairs"], key=lambda r: (-r["done"], r["name"]))
    ]


def as_png(room: Room, path: Path) -> Path:
    from ..course.board import draw

    return draw(board_exports(room), path)


def write_all(room: Room, database, folder: Path) -> list[Path]:
    """``room-<time>.json/.csv/.png``, ``-katas.html/.csv`` and ``.sqlite`` in ``folder``; the paths written."""
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / ("room-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))
    report = analysis.from_database(database, room.curriculum)
    texts = {
        base.with_suffix(".json"): json.dumps(as_json(room, database), indent=1, ensure_ascii=False) + "\n",
        base.with_suffix(".csv"): as_csv(room),
        base.with_name(base.name + "-katas.html"): analysis.as_html(report),
        base.with_name(base.name + "-katas.csv"): analysis.as_csv(report),
    }
    for path, text in texts.items():
        write_atomic(path, text)
    written = [*texts, database.copy_to(base.with_suffix(".sqlite"))]
    if room.pairs:
        written.append(as_png(room, base.with_suffix(".png")))
    return written
