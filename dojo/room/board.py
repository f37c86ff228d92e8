"""The room in memory: one row per pair, who is stuck, which mistakes the room is making, the help queue.

Everything here is plain data and arithmetic on the server's clock (no I/O),
so it is tested without a server. Times are UNIX seconds from ``clock``.
What has to reach the disk is queued in :attr:`Room.outbox` as SQL writes
(:mod:`.database`); the server writes them before it answers.

* A pair's row is its latest post, plus what only the server can know:
  since when the pair is on its current kata, since when that kata fails,
  how many runs it took on each kata, and when it was last seen.
* A pair is **stuck** when its current kata fails and either its streak of
  failing attempts reaches ``stuck_attempts`` or it has failed for
  ``stuck_minutes``. An attempt is a failing run whose kata code changed
  since the last one counted (``dojo/course/attempts.py``: the streak the
  hints step on); rerunning the same code, or a watch that reruns on every
  save, is not one more attempt. The runs column counts every run. A stuck pair that has not raised a hand for
  ``silent_minutes`` is a **silent hand**: the facilitator should go to it.
* A pair is **quiet** when it has not posted for ``quiet_minutes``, and
  **left** after ``kata room leave``; both rows are greyed and sorted last.
* The **help queue** holds the hands pairs raised (``kata help "..."``), in
  the order they were raised, until the facilitator marks one done.
* The **mistakes panel** counts, for each named mistake hit in the last
  ``mistake_minutes``, how many different pairs hit it: "7 of 12 pairs".
* **Events** (a kata reached, a failing run and its mistake, a kata passed
  with its runs, time and hint level) are the history :mod:`.analysis`
  reads.
* The **rotation timer** swaps driver and navigator every ``rotate_minutes``
  (0: no timer); rounds count from when it was (re)started.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass

from ..course.curriculum import Curriculum, Kata
from ..states import DONE_STATES, ERROR, FAILING, PASSED
from ..words import plural
from . import database as db
from .validation import Post

FORMAT = 1  # of the board.json of earlier versions, migrated on start
MAX_PAIRS = 500  # rows; a new client beyond this is refused ("the room is full")
MAX_HITS = 20_000  # mistake hits kept for the panel's window
MAX_TALLY = 1_000  # distinct (kata, mistake) counted over the whole session
MAX_HANDS = 500  # open hands (one per pair at most)
FAILING_STATES = (FAILING, ERROR)
NO_NAMED_MISTAKE = "failing, no named mistake"
HIDDEN_NAME = "a pair"


class RoomFull(Exception):
    pass


@dataclass
class Settings:
    stuck_attempts: int = 5  # failing attempts (runs of changed code) in a row
    stuck_minutes: float = 10.0
    mistake_minutes: float = 10.0
    rotate_minutes: float = 10.0
    quiet_minutes: float = 10.0
    silent_minutes: float = 5.0
    hide_names: bool = False  # the projector's view shows no name next to STUCK (nor in the help queue)


def row_key(client: str) -> str:
    """A stable key for a pair's row on the page that does not reveal its client id."""
    return hashlib.sha256(client.encode()).hexdigest()[:12]


def distinct_name(asked: str, taken: set[str]) -> str:
    """``asked``, or ``asked (2)``, ``(3)``... when another pair already shows that name (case aside)."""
    if asked.casefold() not in taken:
        return asked
    number = 2
    while f"{asked} ({number})".casefold() in taken:
        number += 1
    return f"{asked} ({number})"


class Room:
    def __init__(self, curriculum: Curriculum, settings: Settings | None = None, clock=time.time):
        self.curriculum = curriculum
        self.settings = settings or Settings()
        self.clock = clock
        self._tracks = [(track, [k.id for k in curriculum.in_track(track)]) for track in curriculum.tracks]
        self.version = 0
        self.outbox: list[db.Write] = []
        self.reset()
        self.outbox = self._meta_writes()  # a new room's session settings, without emptying any table

    def reset(self) -> None:
        """An empty board and an empty history (the rotation timer restarts too)."""
        now = self.clock()
        self.started = now
        self.pairs: dict[str, dict] = {}
        self.hits: deque[list] = deque(maxlen=MAX_HITS)  # [time, client, kata id, mistake]
        self.tally: dict[str, dict] = {}  # "kata id\tmistake" -> kata, mistake, pairs, hits
        self.hands: dict[int, dict] = {}  # open hands by id, in the order raised
        self.last_hand = 0
        self.accepted = 0
        self.rotation = {"minutes": float(self.settings.rotate_minutes), "started": now}
        self.version += 1
        self.outbox += db.clear_all() + self._meta_writes()

    def _meta_writes(self) -> list[db.Write]:
        return [
            db.set_meta("started", self.started),
            db.set_meta("rotation", self.rotation),
            db.set_meta("hide_names", self.settings.hide_names),
            db.set_meta("last_hand", self.last_hand),
        ]

    def take_writes(self) -> list[db.Write]:
        """What changed since the last call, as SQL writes, for the server to commit."""
        writes, self.outbox = self.outbox, []
        return writes

    # --------------------------------------------------------------- posts

    def apply(self, post: Post) -> bool:
        """Put a post on the board; False when it is older than what the board has (a late retry)."""
        now = self.clock()
        pair = self.pairs.get(post.client)
        first = pair is None
        if first:
            pair = self._new_pair(post, now)
        elif post.seq <= pair["seq"]:
            return False
        failing = post.state in FAILING_STATES
        if post.current != pair["current"]:
            pair["kata_since"] = now
            pair["failing_since"] = now if failing else None
        else:
            pair["failing_since"] = (pair["failing_since"] or now) if failing else None
        if post.name != pair.get("asked"):
            pair["asked"], pair["name"] = post.name, self._distinct(post.name, post.client)
        events = self._events(post.client, pair, post, now, first)
        pair.update(
            seq=post.seq,
            current=post.current,
            state=post.state,
            streak=post.streak,
            passed=post.passed,
            total=post.total,
            katas=post.katas,
            last_seen=now,
            left=False,
            mistake=post.mistake if failing else None,
            posts=pair["posts"] + 1,
        )
        if post.mistake and failing and post.current:
            self.hits.append([now, post.client, post.current, post.mistake])
            self._count(post.client, post.current, post.mistake)
        self.accepted += 1
        self.version += 1
        self.outbox += [db.add_post(post.client, now, post), db.put_pair(post.client, pair)]
        self.outbox += [db.add_event(event) for event in events]
        return True

    def _new_pair(self, post: Post, now: float) -> dict:
        if len(self.pairs) >= MAX_PAIRS:
            raise RoomFull(f"the room has {MAX_PAIRS} pairs already")
        pair = self.pairs[post.client] = {
            "first_seen": now,
            "posts": 0,
            "seq": -1,
            "current": None,
            "kata_since": now,
            "failing_since": None,
            "reached": {},  # kata id -> when this pair first had it as its current kata
            "runs": {},  # kata id -> runs with it as the current kata (every run, changed code or not)
            "done": [],  # kata ids this pair has passed (or skipped) as far as the room knows
        }
        return pair

    def _distinct(self, asked: str, client: str) -> str:
        taken = {pair["name"].casefold() for other, pair in self.pairs.items() if other != client and "name" in pair}
        return distinct_name(asked, taken)

    def _events(self, client: str, pair: dict, post: Post, now: float, first: bool) -> list[dict]:
        """What this post says happened on each kata, by comparison with the pair's row before it."""
        events = []
        done_before = set(pair["done"])
        for kata_id, state in post.katas.items():
            if state not in DONE_STATES or kata_id in done_before:
                continue
            pair["done"].append(kata_id)
            if first or state != PASSED:  # known before the pair joined, or skipped by `kata catch-up`
                continue
            reached = pair["reached"].get(kata_id)
            events.append(
                {
                    "client": client,
                    "kata": kata_id,
                    "kind": "passed",
                    "at": now,
                    # The passing run counts, whether or not the post shows the kata as still current.
                    "runs": pair["runs"].get(kata_id, 0) + (kata_id != post.current),
                    "seconds": round(now - reached, 1) if reached is not None else None,
                    "hints": post.hints.get(kata_id, 0),
                }
            )
        current = post.current
        if current and post.state != PASSED:
            if current not in pair["reached"]:
                pair["reached"][current] = now
                events.append({"client": client, "kata": current, "kind": "reached", "at": now})
            pair["runs"][current] = pair["runs"].get(current, 0) + 1
            if post.state in FAILING_STATES:
                events.append({"client": client, "kata": current, "kind": "failed", "at": now, "mistake": post.mistake})
        return events

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

    # ------------------------------------------------- facilitator and pairs

    def restart_rotation(self, minutes: float) -> None:
        self.rotation = {"minutes": float(minutes), "started": self.clock()}
        self.version += 1
        self.outbox.append(db.set_meta("rotation", self.rotation))

    def hide_names(self, hide: bool) -> None:
        self.settings.hide_names = bool(hide)
        self.version += 1
        self.outbox.append(db.set_meta("hide_names", self.settings.hide_names))

    def client_of(self, key: str) -> str | None:
        return next((client for client in self.pairs if row_key(client) == key), None)

    def remove(self, key: str) -> bool:
        """Take one row off the board (a pair that went home); it comes back if the pair posts again."""
        client = self.client_of(key)
        if client is None:
            return False
        del self.pairs[client]
        for hand in [h for h in self.hands.values() if h["client"] == client]:
            self.finish_hand(hand["id"])
        self.version += 1
        self.outbox.append(db.drop_pair(client))
        return True

    def leave(self, client: str) -> bool:
        """The pair ran ``kata room leave``: its row stays, greyed."""
        pair = self.pairs.get(client)
        if pair is None:
            return False
        pair["left"] = True
        self.version += 1
        self.outbox.append(db.put_pair(client, pair))
        return True

    def raise_hand(self, client: str, message: str) -> dict:
        """A pair asks for help; a second call while its hand is up changes the message, not its place."""
        pair = self.pairs.get(client)
        if pair is None:
            raise KeyError("post a run first (run pytest once), so that the room knows your kata")
        hand = self.hand_of(client)
        if hand is None:
            if len(self.hands) >= MAX_HANDS:
                raise RoomFull("the help queue is full")
            self.last_hand += 1
            hand = {"id": self.last_hand, "client": client, "raised": self.clock(), "done": None}
            self.hands[hand["id"]] = hand
            self.outbox.append(db.set_meta("last_hand", self.last_hand))
        hand.update(name=pair["name"], kata=pair.get("current"), failure=self.failure_text(pair), message=message)
        self.version += 1
        self.outbox.append(db.put_hand(hand))
        return hand

    def finish_hand(self, hand_id: int) -> bool:
        hand = self.hands.pop(hand_id, None)
        if hand is None:
            return False
        hand["done"] = self.clock()
        self.version += 1
        self.outbox.append(db.put_hand(hand))
        return True

    def hand_of(self, client: str) -> dict | None:
        return next((hand for hand in self.hands.values() if hand["client"] == client), None)

    def place_in_queue(self, client: str) -> int | None:
        """1 for the first hand in the queue; None when the pair has no hand up."""
        return next((n for n, hand in enumerate(self.hands.values(), 1) if hand["client"] == client), None)

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
        if pair.get("streak", 0) >= self.settings.stuck_attempts:
            return plural(pair["streak"], "failing attempt")
        since = pair.get("failing_since")
        if since is not None and now - since >= self.settings.stuck_minutes * 60:
            return f"failing for {int((now - since) // 60)} min"
        return None

    def failure_text(self, pair: dict) -> str | None:
        """The pair's current mistake, or that its kata fails without a named one; None when not failing."""
        if pair.get("state") not in FAILING_STATES:
            return None
        return pair.get("mistake") or NO_NAMED_MISTAKE

    def presence(self, pair: dict, now: float) -> str:
        if pair.get("left"):
            return "left"
        if now - pair.get("last_seen", now) >= self.settings.quiet_minutes * 60:
            return "quiet"
        return "active"

    def silent(self, client: str, pair: dict, now: float) -> bool:
        """Stuck for ``silent_minutes`` (counted from when the kata started failing), and no hand up."""
        since = pair.get("failing_since")
        return (
            self.stuck(pair, now) is not None
            and since is not None
            and now - since >= self.settings.silent_minutes * 60
            and self.hand_of(client) is None
        )

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
        current = pair.get("current")
        return {
            "key": row_key(client),
            "name": pair["name"],
            "kata": self.kata_info(current),
            "state": pair.get("state"),
            "streak": pair.get("streak", 0),
            "runs": pair.get("runs", {}).get(current, 0) if current else 0,
            "checks": f"{pair.get('passed', 0)}/{pair.get('total', 0)}",
            "done": sum(1 for state in katas.values() if state in DONE_STATES),
            "total": len(self.curriculum.katas),
            "tracks": self.tracks(katas),
            "on_kata_s": round(now - pair["kata_since"]),
            "failing_s": round(now - pair["failing_since"]) if pair.get("failing_since") else None,
            "stuck": self.stuck(pair, now),
            "mistake": pair.get("mistake"),
            "failure": self.failure_text(pair),
            "presence": self.presence(pair, now),
            "hand": self.place_in_queue(client),
            "silent": self.silent(client, pair, now),
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

    def queue(self, now: float) -> list[dict]:
        """The open hands, first raised first."""
        return [
            {
                "id": hand["id"],
                "place": place,
                "key": row_key(hand["client"]),
                "name": self.pairs.get(hand["client"], hand)["name"],
                "kata": self.kata_info(hand.get("kata")),
                "failure": hand.get("failure"),
                "message": hand["message"],
                "waiting_s": round(now - hand["raised"]),
            }
            for place, hand in enumerate(self.hands.values(), 1)
        ]

    def snapshot(self, now: float | None = None, projector: bool = False) -> dict:
        """What the board page shows, as JSON; ``projector`` hides stuck pairs' names when the setting says so."""
        now = self.clock() if now is None else now
        rows = [self.row(client, pair, now) for client, pair in self.pairs.items()]
        rows.sort(key=order)
        queue = self.queue(now)
        if projector and self.settings.hide_names:
            hidden = {row["key"] for row in rows if row["stuck"] or row["hand"]}
            for item in rows + queue:
                if item["key"] in hidden:
                    item["name"] = HIDDEN_NAME
        return {
            "now": now,
            "version": self.version,
            "pairs": rows,
            "mistakes": self.mistakes_panel(now),
            "stuck": sum(1 for r in rows if r["stuck"]),
            "queue": queue,
            "silent": [r["key"] for r in rows if r["silent"]],
            "rotation": self.rotation_state(now),
            "settings": vars(self.settings),
            "accepted": self.accepted,
            "view": "projector" if projector else "facilitator",
        }

    # --------------------------------------------------------- persistence

    def load(self, data: dict) -> None:
        """Take over a board saved by an earlier version's ``board.json`` (kata ids the course lost are dropped)."""
        if data.get("format") != FORMAT:
            return
        self.started = float(data.get("started", self.started))
        for client, pair in dict(data.get("pairs", {})).items():
            if isinstance(pair, dict) and "name" in pair:
                self.adopt(client, pair)
        self.hits.extend(hit for hit in data.get("hits", []) if isinstance(hit, list) and len(hit) == 4)
        self.tally.update(data.get("tally", {}))
        self.accepted = int(data.get("accepted", 0))
        if isinstance(data.get("rotation"), dict):
            self.rotation = data["rotation"]
        self.version += 1
        self.outbox += self._meta_writes() + [db.put_pair(client, pair) for client, pair in self.pairs.items()]

    def adopt(self, client: str, pair: dict) -> None:
        """A pair's row as stored (by the database or an old board.json), made whole and fitted to the course."""
        pair["katas"] = {k: v for k, v in pair.get("katas", {}).items() if k in self.curriculum.by_id}
        if pair.get("current") not in self.curriculum.by_id:
            pair["current"] = None
        pair.setdefault("asked", pair["name"])
        pair.setdefault("reached", {})
        pair.setdefault("runs", pair.pop("attempts", {}))  # "attempts" in rooms stored before it was renamed
        pair.setdefault("done", [k for k, v in pair["katas"].items() if v in DONE_STATES])
        pair.setdefault("last_seen", pair.get("first_seen", self.clock()))
        self.pairs[client] = pair


def order(row: dict) -> tuple:
    """Stuck pairs first (the longest failing first), then hands up, then the rest; quiet and left ones last."""
    if row["presence"] != "active":
        return (3, row["name"].casefold(), row["key"])
    if row["stuck"]:
        return (0, -(row["failing_s"] or 0), row["key"])
    if row["hand"]:
        return (1, row["hand"], row["key"])
    return (2, row["name"].casefold(), row["key"])
