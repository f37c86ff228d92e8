"""The room's state on disk: one SQLite file (Python's own ``sqlite3``, write-ahead log).

Tables, each row written when it happens (never one file rewritten for the whole room):

* ``pairs``: one row per pair, its board row as JSON, replaced on every post;
* ``posts``: every accepted post, with the server's time;
* ``events``: what happened to a pair on a kata (``reached``, ``failed``
  with the mistake's name or none, ``passed`` with the runs it took (the
  column is named ``attempts``, as in the files of earlier rooms), the seconds
  since it was reached and the hint level), from which :mod:`.analysis`
  computes what the room learned about each kata;
* ``hands``: the help queue (raised, done);
* ``meta``: the session's start, the rotation timer, the projector setting.

The server never waits for the disk on its event loop: :class:`Database`
has one writer thread that takes every pending change, writes them in one
transaction (one ``fsync`` in ``synchronous=FULL``) and only then lets the
posts it covered be answered, so an acknowledged post survives a crash of
the process or of the machine. Readers (the exports, the per-kata
analysis) open their own connection: in WAL mode they never block the writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

DB_FILE = "room.sqlite"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (
    client TEXT PRIMARY KEY, name TEXT NOT NULL, row TEXT NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY, client TEXT NOT NULL, at REAL NOT NULL, seq INTEGER NOT NULL,
    kata TEXT, state TEXT, streak INTEGER, mistake TEXT, katas TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, client TEXT NOT NULL, kata TEXT NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL,
    attempts INTEGER, seconds REAL, hints INTEGER, mistake TEXT
);
CREATE TABLE IF NOT EXISTS hands (
    id INTEGER PRIMARY KEY, client TEXT NOT NULL, name TEXT NOT NULL, kata TEXT, failure TEXT,
    message TEXT NOT NULL, raised REAL NOT NULL, done REAL
);
CREATE INDEX IF NOT EXISTS events_by_kata ON events (kata, kind);
CREATE INDEX IF NOT EXISTS posts_by_time ON posts (at);
"""

#: One change to write: (SQL, parameters).
Write = tuple[str, tuple]


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode; ``readonly`` opens an existing file without the right to change it."""
    if readonly:
        connection = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, check_same_thread=False)
    else:
        connection = sqlite3.connect(Path(path), check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.executescript(SCHEMA)
        connection.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (json.dumps(SCHEMA_VERSION),)
        )
    connection.execute("PRAGMA busy_timeout=5000")
    connection.row_factory = sqlite3.Row
    return connection


class Database:
    """The room's SQLite file, with one writer thread that commits changes in batches."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = connect(self.path)
        self._pending: list[tuple[list[Write], Callable[[BaseException | None], None] | None]] = []
        self._wake = threading.Condition()
        self._closed = False
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="room-database", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- writing

    def submit(self, writes: list[Write], done: Callable[[BaseException | None], None] | None = None) -> None:
        """Queue ``writes`` (one transaction with whatever else is pending); ``done(error)`` after the commit."""
        with self._wake:
            if self._closed:
                raise RuntimeError("the room's database is closed")
            self._pending.append((writes, done))
            self._wake.notify()

    async def write(self, writes: list[Write]) -> None:
        """Write and wait (without blocking the event loop) until the commit is on disk."""
        import asyncio

        if not writes:
            return
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def done(error: BaseException | None) -> None:
            def settle() -> None:
                if finished.done():
                    return
                if error is None:
                    finished.set_result(None)
                else:
                    finished.set_exception(error)

            loop.call_soon_threadsafe(settle)

        self.submit(writes, done)
        await finished

    def write_now(self, writes: list[Write]) -> None:
        """Write and wait, from a thread that is not the event loop (the start, the shutdown, tests)."""
        finished = threading.Event()
        failure: list[BaseException] = []

        def done(error: BaseException | None) -> None:
            if error is not None:
                failure.append(error)
            finished.set()

        self.submit(writes, done)
        finished.wait()
        if failure:
            raise failure[0]

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            error = self._commit(w for writes, _ in batch for w in writes)
            for _, done in batch:
                if done is not None:
                    done(error)

    def _commit(self, writes: Iterable[Write]) -> BaseException | None:
        try:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                for sql, parameters in writes:
                    self._writer.execute(sql, parameters)
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")
            self.commits += 1
            return None
        except sqlite3.Error as error:
            return error

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=30)
        self._writer.close()

    # ------------------------------------------------------------- reading

    def reader(self) -> sqlite3.Connection:
        """A connection of its own for reading (exports, analysis), to be closed by the caller."""
        return connect(self.path, readonly=True)

    def query(self, sql: str, parameters: tuple = ()) -> list[sqlite3.Row]:
        connection = self.reader()
        try:
            return connection.execute(sql, parameters).fetchall()
        finally:
            connection.close()

    def meta(self) -> dict:
        return {row["key"]: json.loads(row["value"]) for row in self.query("SELECT key, value FROM meta")}

    def is_empty(self) -> bool:
        return not self.query("SELECT 1 FROM pairs LIMIT 1") and not self.query("SELECT 1 FROM posts LIMIT 1")

    def copy_to(self, target: Path) -> Path:
        """A consistent copy of the whole file (``VACUUM INTO``), for the exports and ``kata room report``."""
        target = Path(target)
        target.unlink(missing_ok=True)
        connection = self.reader()
        try:
            connection.execute("VACUUM INTO ?", (str(target),))
        finally:
            connection.close()
        return target


# --------------------------------------------------------------- the writes


def set_meta(key: str, value) -> Write:
    return ("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))


def put_pair(client: str, pair: dict) -> Write:
    return (
        "INSERT OR REPLACE INTO pairs (client, name, row, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
        (client, pair["name"], json.dumps(pair, ensure_ascii=False), pair["first_seen"], pair.get("last_seen", 0.0)),
    )


def drop_pair(client: str) -> Write:
    return ("DELETE FROM pairs WHERE client = ?", (client,))


def add_post(client: str, at: float, post) -> Write:
    return (
        "INSERT INTO posts (client, at, seq, kata, state, streak, mistake, katas) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (client, at, post.seq, post.current, post.state, post.streak, post.mistake, json.dumps(post.katas)),
    )


def add_event(event: dict) -> Write:
    return (
        "INSERT INTO events (client, kata, kind, at, attempts, seconds, hints, mistake) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        tuple(event.get(k) for k in ("client", "kata", "kind", "at", "runs", "seconds", "hints", "mistake")),
    )


def put_hand(hand: dict) -> Write:
    return (
        "INSERT OR REPLACE INTO hands (id, client, name, kata, failure, message, raised, done) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        tuple(hand.get(k) for k in ("id", "client", "name", "kata", "failure", "message", "raised", "done")),
    )


def clear_all() -> list[Write]:
    """A new session: every table emptied (the exports, a copy of the file included, were written first)."""
    return [(f"DELETE FROM {table}", ()) for table in ("pairs", "posts", "events", "hands")] + [
        ("DELETE FROM meta WHERE key != 'schema'", ())
    ]
