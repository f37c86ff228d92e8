"""The room's files: small JSON files written atomically, and the room restored from its database.

The JSON half is standard library only (the pairs' side keeps its membership
file with it). :func:`open_database` is the server's: it opens the SQLite
file of :mod:`.database`, migrates a ``board.json`` left by an earlier
version of the room (then renamed ``board.json.migrated``, never read
again), and puts what the database holds back into the :class:`~.board.Room`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import write_atomic

BOARD_FILE = "board.json"  # the whole room in one file, as earlier versions kept it


def write_json_atomic(path: Path, data, mode: int | None = None) -> None:
    """``data`` as JSON, replacing ``path`` atomically: a reader sees the old file or the new one, never a mix."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n", mode=mode)


def read_json(path: Path) -> dict:
    """The JSON object in ``path``, or {} when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def open_database(room, state_dir: Path):
    """The room's :class:`~.database.Database` in ``state_dir``, with ``room`` restored from it."""
    from .database import DB_FILE, Database

    database = Database(Path(state_dir) / DB_FILE)
    old = Path(state_dir) / BOARD_FILE
    if database.is_empty() and old.exists():
        room.load(read_json(old))
        database.write_now(room.take_writes())
        old.rename(old.with_name(BOARD_FILE + ".migrated"))
        room.take_writes()
    elif database.meta().get("started") is None:
        database.write_now(room.take_writes())  # a new file: the session's start and settings
    else:
        restore(room, database)
        room.take_writes()  # what restoring changed in memory is what the file already holds
    return database


def restore(room, database) -> None:
    """Put the pairs, the open hands, the session's tally and the recent mistakes back into ``room``."""
    meta = database.meta()
    room.started = float(meta.get("started", room.started))
    if isinstance(meta.get("rotation"), dict):
        room.rotation = meta["rotation"]
    # --hide-names on the command line wins; otherwise the facilitator's last choice stands.
    room.settings.hide_names = room.settings.hide_names or bool(meta.get("hide_names", False))
    room.last_hand = int(meta.get("last_hand", 0))
    for row in database.query("SELECT client, row FROM pairs"):
        room.adopt(row["client"], json.loads(row["row"]))
    for hand in database.query("SELECT * FROM hands WHERE done IS NULL ORDER BY raised, id"):
        room.hands[hand["id"]] = dict(hand)
    room.accepted = database.query("SELECT COUNT(*) AS n FROM posts")[0]["n"]
    window = room.clock() - room.settings.mistake_minutes * 60
    failures = "SELECT at, client, kata, mistake FROM events WHERE kind = 'failed' AND mistake IS NOT NULL"
    for event in database.query(failures + " ORDER BY at, id"):
        room._count(event["client"], event["kata"], event["mistake"])
        if event["at"] >= window:
            room.hits.append([event["at"], event["client"], event["kata"], event["mistake"]])
    room.version += 1
