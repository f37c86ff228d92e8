"""Sending a post: :func:`send`, and ``python -m dojo.room.poster ROOT``, the detached process.

The hook (:mod:`.hook`) first tries :func:`send` itself for a fraction of a
second; when the room is slow or busy it starts this module as a process of
its own with the post on its standard input, and the pytest run ends without
waiting: the retries (after a 429, as long as Retry-After says) go on here.
Sending the same post twice is harmless: the room ignores a sequence number
it already has. The outcome lands in ``.katas/room.json`` (``last``, and
the rotation timer the room answered with), where the next run and ``kata
status`` read it.

Exit status: 0 delivered, 3 room unreachable, 4 refused (wrong code, bad
post), 5 still rate limited when the time budget ran out, 6 no answer in time.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from . import protocol
from .client import membership, plain, refusal_text, request, room_path
from .store import read_json, write_json_atomic

DELIVERED, UNREACHABLE, REFUSED, GAVE_UP, SLOW = 0, 3, 4, 5, 6


def send(member: dict, payload: dict, budget: float = protocol.POSTER_BUDGET_SECONDS) -> tuple[int, dict]:
    """Post, retrying after a 429 as the room's Retry-After says, within ``budget`` seconds."""
    deadline = time.monotonic() + budget
    while True:
        left = deadline - time.monotonic()
        try:
            status, answer, headers = request(
                member["url"],
                member["code"],
                protocol.POST_PATH,
                payload,
                timeout=max(0.2, min(3.0, left)),
                client=member["client"],
            )
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                return SLOW, {"error": "no answer in time"}
            return UNREACHABLE, {"error": f"unreachable: {plain(reason)}"}
        if status == 200:
            return DELIVERED, answer
        if status in (429, 503):
            try:
                wait = float(headers.get("Retry-After", 1))
            except ValueError:
                wait = 1.0
            if time.monotonic() + wait < deadline:
                time.sleep(wait)
                continue
            return GAVE_UP, {"error": f"the room was busy ({status})"}
        return REFUSED, {"error": refusal_text(status)}


def record(root: Path, outcome: int, answer: dict) -> None:
    """Keep how the post went, and the room's rotation timer, for the next terminal line."""
    data = read_json(room_path(root))
    if not data:
        return
    error = answer.get("error")
    data["last"] = {"ok": outcome == DELIVERED, "when": time.time(), "error": plain(error) if error else None}
    if outcome == DELIVERED and isinstance(answer.get("rotation"), dict):
        data["rotation"], data["fetched"] = answer["rotation"], time.time()
    write_json_atomic(room_path(root), data)


def main(argv: list[str]) -> int:
    # Whatever the room does (an answer trickled byte by byte resets every socket timeout), this process
    # is gone a moment after its budget: nothing of a run outlives it by more than a few seconds.
    deadline = threading.Timer(protocol.POSTER_BUDGET_SECONDS + 1.0, os._exit, (SLOW,))
    deadline.daemon = True
    deadline.start()
    root = Path(argv[0])
    member = membership(root)
    if member is None:
        return REFUSED
    try:
        payload = json.loads(sys.stdin.read())
        outcome, answer = send(member, payload)
        record(root, outcome, answer)
    except Exception:
        return REFUSED
    return outcome


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
