"""The session, exported: JSON (everything), CSV (one row per pair) and the PNG board of ``kata board``.

The facilitator gets them at any time (admin token) and, when the server
stops, in ``STATE_DIR/exports/``. The CSV is meant for a spreadsheet, so a
cell a pair controls (its name) that starts like a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from .board import Room, row_key

#: A spreadsheet runs a cell starting with one of these as a formula ("CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")


def as_json(room: Room) -> dict:
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
            "streak",
            "checks",
            "done",
            "total",
            *[f"track_{m}" for m in tracks],
            "stuck",
            "minutes_on_kata",
            "last_mistake",
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
            row["mistake"] or "",
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


def write_all(room: Room, folder: Path) -> list[Path]:
    """``room-<time>.json/.csv/.png`` in ``folder``; returns the paths written."""
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / ("room-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))
    json_path, csv_path = base.with_suffix(".json"), base.with_suffix(".csv")
    json_path.write_text(json.dumps(as_json(room), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    csv_path.write_text(as_csv(room), encoding="utf-8", newline="")
    written = [json_path, csv_path]
    if room.pairs:
        written.append(as_png(room, base.with_suffix(".png")))
    return written
