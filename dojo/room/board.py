"""The room in memory: one row per pair, who is stuck, which mistakes the room is making, the rotation timer.

Everything here is plain data and arithmetic on the server's clock (no I/O),
so it is tested without a server. Times are UNIX seconds from ``clock``.

* A pair's row is its latest post, plus what only the server can know:
  since when the pair is on its current kata, and since when that kata fails.
* A pair is **stuck** when its current kata fails and either its failing
  streak (runs in a row) reaches ``stuck_runs`` or it has failed for
  ``stuck_minutes``.
* The **mistakes panel** counts, for each named mistake hit in the last
  ``mistake_minutes``, how many different pairs hit it: "7 of 12 pairs".
* The **rotation timer** swaps driver and navigator every ``rotate_minutes``
  (0: no timer); rounds count from when it was (re)started.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass

from ..course.curriculum import Curriculum, Kata
from ..states import DONE_STATES, ERROR, FAILING
from .validation import Post

FORMAT = 1
MAX_PAIRS = 500  # rows; a new client beyond this is refused ("the room is full")
MAX_HITS = 20_000  # mistake hits kept for the panel's window
MAX_TALLY = 1_000  # distinct (kata, mistake) counted over the whole session
FAILING_STATES = (FAILING, ERROR)


class RoomFull(Exception):
    pass


@dataclass
class Settings:
    stuck_runs: int = 5
    stuck_minutes: float = 10.0
    mistake_minutes: float = 10.0
    rotate_minutes: float = 10.0


def row_key(client: str) -> str:
    """A stable key for a pair's row on the page that does not reveal its client id."""
    return hashlib.sha256(client.encode()).hexdigest()[:12]


class Room:
    def __init__(self, curriculum: Curriculum, settings: Settings | None = None, clock=time.time):
        self.curriculum = curriculum
        self.settings = settings or Settings()
        self.clock = clock
        self._tracks = [(track, [k.id for k in curriculum.in_track(track)]) for track in curriculum.tracks]
        self.version = 0
        self.reset()

    def reset(self) -> None:
        """An empty board (the rotation timer restarts too)."""
        now = self.clock()
        self.started = now
        self.pairs: dict[str, dict] = {}
        self.hits: deque[list] = deque(maxlen=MAX_HITS)  # [time, client, kata id, mistake]
        self.tally: dict[str, dict] = {}  # "kata id\tmistake" -> kata, mistake, pairs, hits
        self.accepted = 0
        self.rotation = {"minutes": float(self.settings.rotate_minutes), "started": now}
        self.version += 1

    # --------------------------------------------------------------- posts

    def apply(self, post: Post) -> bool:
        """Put a post on the board; False when it is older than what the board has (a late retry)."""
        now = self.clock()
        pair = self.pairs.get(post.client)
        if pair is None:
            if len(self.pairs) >= MAX_PAIRS:
                raise RoomFull(f"the room has {MAX_PAIRS} pairs already")
            pair = self.pairs[post.client] = {
                "first_seen": now,
                "posts": 0,
                "seq": -1,
                "current": None,
                "kata_since": now,
                "failing_since": None,
            }
        elif post.seq <= pair["seq"]:
            return False
        failing = post.state in FAILING_STATES
        if post.current != pair["current"]:
            pair["kata_since"] = now
            pair["failing_since"] = now if failing else None
        else:
            pair["failing_since"] = (pair["failing_since"] or now) if failing else None
        pair.update(
            name=post.name,
            seq=post.seq,
            current=post.current,
            state=post.state,
            streak=post.streak,
            passed=post.passed,
            total=post.total,
            katas=post.katas,
            last_seen=now,
            mistake=post.mistake if failing else None,
            posts=pair["posts"] + 1,
        )
        if post.mistake and failing and post.current:
            self.hits.append([now, post.client, post.current, post.mistake])
            self._count(post.client, post.current, post.mistake)
        self.accepted += 1
        self.version += 1
        return True

    def _count(self, client: str, kata_id: str, mistake: str) -> None:
        key = f"{kata_id}\t{mistake}"
        entry = self.tally.get(key)
        if entry is None:
            if len(self.tally) >= MAX_TALLY:
                return
            entry = self.tally[key] = {"kata": kata_id, "mistake": mistake, "pairs": [], "hits": 0}
        entry["hits"] += 1
        if client not in entry["pairs"]:
            entry["pairs"].append(client)

    def restart_rotation(self, minutes: float) -> None:
        self.rotation = {"minutes": float(minutes), "started": self.clock()}
        self.version += 1

    # ------------------------------------------------------------- reading

    def rotation_state(self, now: float | None = None) -> dict:
        """``{"minutes", "round", "left_s"}``; round 0 and no time left when the timer is off."""
        now = self.clock() if now is None else now
        period = self.rotation["minutes"] * 60
        if period <= 0:
            return {"minutes": 0, "round": 0, "left_s": 0}
        elapsed = max(0.0, now - self.rotation["started"])
        return {
            "minutes": self.rotation["minutes"],
            "round": int(elapsed // period) + 1,
            "left_s": round(period - elapsed % period, 1),
        }

    def stuck(self, pair: dict, now: float) -> str | None:
        """Why the pair counts as stuck, or None."""
        if pair.get("state") not in FAILING_STATES:
            return None
        if pair.get("streak", 0) >= self.settings.stuck_runs:
            return f"{pair['streak']} failing runs"
        since = pair.get("failing_since")
        if since is not None and now - since >= self.settings.stuck_minutes * 60:
            return f"failing for {int((now - since) // 60)} min"
        return None

    def kata_info(self, kata_id: str | None) -> dict | None:
        kata: Kata | None = self.curriculum.by_id.get(kata_id) if kata_id else None
        if kata is None:
            return None
        return {"id": kata.id, "number": kata.number, "title": kata.title, "track": kata.track.module}

    def tracks(self, katas: dict[str, str]) -> list[dict]:
        return [
            {
                "number": track.number,
                "name": track.name,
                "module": track.module,
                "total": len(ids),
                "done": sum(1 for kata_id in ids if katas.get(kata_id) in DONE_STATES),
            }
            for track, ids in self._tracks
        ]

    def row(self, client: str, pair: dict, now: float) -> dict:
        katas = pair.get("katas", {})
        return {
            "key": row_key(client),
            "name": pair["name"],
            "kata": self.kata_info(pair.get("current")),
            "state": pair.get("state"),
            "streak": pair.get("streak", 0),
            "checks": f"{pair.get('passed', 0)}/{pair.get('total', 0)}",
            "done": sum(1 for state in katas.values() if state in DONE_STATES),
            "total": len(self.curriculum.katas),
            "tracks": self.tracks(katas),
            "on_kata_s": round(now - pair["kata_since"]),
            "failing_s": round(now - pair["failing_since"]) if pair.get("failing_since") else None,
            "stuck": self.stuck(pair, now),
            "mistake": pair.get("mistake"),
            "last_seen_s": round(now - pair["last_seen"]),
            "posts": pair["posts"],
            "seq": pair["seq"],
        }

    def mistakes_panel(self, now: float, limit: int = 8) -> list[dict]:
        """Named mistakes of the last minutes, by how many pairs hit them."""
        since = now - self.settings.mistake_minutes * 60
        while self.hits and self.hits[0][0] < since:
            self.hits.popleft()
        who: dict[tuple[str, str], set[str]] = {}
        last: dict[tuple[str, str], float] = {}
        for when, client, kata_id, mistake in self.hits:
            who.setdefault((kata_id, mistake), set()).add(client)
            last[(kata_id, mistake)] = when
        rows = [
            {
                "kata": self.kata_info(kata_id),
                "mistake": mistake,
                "pairs": len(clients),
                "of": len(self.pairs),
                "ago_s": round(now - last[(kata_id, mistake)]),
            }
            for (kata_id, mistake), clients in who.items()
        ]
        rows.sort(key=lambda r: (-r["pairs"], r["ago_s"]))
        return rows[:limit]

    def snapshot(self, now: float | None = None) -> dict:
        """What the board page shows, as JSON."""
        now = self.clock() if now is None else now
        rows = [self.row(client, pair, now) for client, pair in self.pairs.items()]
        rows.sort(key=lambda r: (r["name"].casefold(), r["key"]))
        return {
            "now": now,
            "version": self.version,
            "pairs": rows,
            "mistakes": self.mistakes_panel(now),
            "stuck": sum(1 for r in rows if r["stuck"]),
            "rotation": self.rotation_state(now),
            "settings": vars(self.settings),
            "accepted": self.accepted,
        }

    # --------------------------------------------------------- persistence

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "started": self.started,
            "pairs": self.pairs,
            "hits": list(self.hits),
            "tally": self.tally,
            "accepted": self.accepted,
            "rotation": self.rotation,
        }

    def load(self, data: dict) -> None:
        """Take over a board saved by :meth:`to_dict` (kata ids the course lost are dropped)."""
        if data.get("format") != FORMAT:
            return
        self.started = float(data.get("started", self.started))
        for client, pair in dict(data.get("pairs", {})).items():
            if isinstance(pair, dict) and "name" in pair:
                pair["katas"] = {k: v for k, v in pair.get("katas", {}).items() if k in self.curriculum.by_id}
                if pair.get("current") not in self.curriculum.by_id:
                    pair["current"] = None
                self.pairs[client] = pair
        self.hits.extend(hit for hit in data.get("hits", []) if isinstance(hit, list) and len(hit) == 4)
        self.tally.update(data.get("tally", {}))
        self.accepted = int(data.get("accepted", 0))
        if isinstance(data.get("rotation"), dict):
            self.rotation = data["rotation"]
        self.version += 1
