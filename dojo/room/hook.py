"""The pytest plugin's one call into the room, at the end of a run on the learner's own ``katas/``.

When this checkout has joined a room (``kata room join``), the run's state
goes to the room: one attempt in a thread, and when the room has not answered
within :data:`~.protocol.HOOK_WAIT_SECONDS` (or asks to wait), a detached
process (:mod:`.poster`) takes over. The run never waits longer, never fails
because of the room, and its exit code stays pytest's. The terminal gets one quiet line: the
rotation timer, or that the room could not be reached.

What is sent: the pair's name, its random client id, the state of each kata
it has run, the current kata's id, its failing attempts in a row (runs that
changed the code: the streak the hints step on) and check counts, and when
the current kata failed on a known mistake, that mistake's name as the
course wrote it. No code, no file names, no values from the pair's arrays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from . import protocol
from .client import membership, plain, room_path, status_line
from .poster import DELIVERED, REFUSED, SLOW, UNREACHABLE, record, send
from .store import write_json_atomic


def payload(member: dict, curriculum, progress, results: dict) -> dict:
    """The post for this run, from ``.katas/progress.json`` and the run's outcomes (kata id -> [Outcome])."""
    current = progress.next_kata(curriculum)
    entry = progress.entry(current.id) if current else {}
    try:
        passed, total = (int(n) for n in str(entry.get("checks", "0/0")).split("/"))
    except ValueError:
        passed, total = 0, 0
    mistake = None
    if current is not None:
        mistake = next((o.mistake for o in results.get(current.id, []) if getattr(o, "mistake", None)), None)
    return {
        "v": protocol.VERSION,
        "client": member["client"],
        "name": member["name"],
        "seq": int(member.get("seq", 0)),
        "current": current.id if current else None,
        "streak": int(entry.get("streak", 0)),
        "checks": [min(passed, total), total],
        "mistake": _one_line(mistake),
        "katas": {kata.id: progress.state(kata.id) for kata in curriculum.katas if kata.id in progress.katas},
        "hints": hints_seen(curriculum, progress),
    }


def hints_seen(curriculum, progress) -> dict[str, int]:
    """Kata id -> hints asked for with ``kata hint``, where any were: the room reports the level pairs pass at.

    ``hints_seen`` counts the first hint, which every learner is shown: level 0
    is a pair that never asked, level 1 one that asked once, and so on.
    """
    seen = {}
    for kata in curriculum.katas:
        if kata.id in progress.katas:
            try:
                level = max(int(progress.entry(kata.id).get("hints_seen", 1)), 1) - 1
            except (TypeError, ValueError):
                continue
            if level > 0:
                seen[kata.id] = min(level, 99)
    return seen


def _one_line(mistake: str | None) -> str | None:
    """The mistake's name on one line and within the room's bound (the room refuses control characters)."""
    text = " ".join(str(mistake or "").split())[: protocol.MAX_MISTAKE]
    return text or None


def start_poster(root: Path, body: dict) -> subprocess.Popen:
    """The poster, in a session of its own, so that it outlives pytest and never writes to its terminal."""
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    detach = (
        {"creationflags": getattr(subprocess, "DETACHED_PROCESS", 0)}
        if os.name == "nt"
        else {"start_new_session": True}
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "dojo.room.poster", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
        env=env,
        **detach,
    )
    process.stdin.write(json.dumps(body).encode("utf-8"))
    process.stdin.close()
    return process


def try_here(member: dict, body: dict) -> tuple[int, dict]:
    """One quick attempt from this process, in a thread: (outcome, answer), or SLOW once the wait is over."""
    done: list[tuple[int, dict]] = []

    def attempt_once() -> None:
        try:
            done.append(send(member, body, budget=protocol.HOOK_WAIT_SECONDS))
        except Exception as error:
            done.append((UNREACHABLE, {"error": f"unreachable: {plain(type(error).__name__)}"}))

    attempt = threading.Thread(target=attempt_once, daemon=True)  # a hung connection dies with pytest
    attempt.start()
    attempt.join(protocol.HOOK_WAIT_SECONDS + 0.2)
    return done[0] if done else (SLOW, {})


def after_run(root: Path, curriculum, progress, results: dict, say) -> None:
    """Post this run to the room, if the checkout joined one; ``say(line)`` prints one quiet line."""
    try:
        member = membership(root)
        if member is None or progress is None:
            return
        member["seq"] = int(member.get("seq", 0)) + 1
        write_json_atomic(room_path(root), member)
        body = payload(member, curriculum, progress, results)
        outcome, answer = try_here(member, body)
        if outcome in (DELIVERED, UNREACHABLE, REFUSED):
            record(Path(root), outcome, answer)
        else:  # slow or busy: the detached poster goes on trying after pytest has exited
            start_poster(Path(root), body)
        member = membership(root) or member
        if outcome == UNREACHABLE:
            say(
                f"room  {plain(member['url'], 60)} is not reachable: this run was not posted "
                "(`kata room leave` stops trying)"
            )
        elif outcome == REFUSED:
            say(f"room  this run was not posted: {plain(answer.get('error'))}")
        else:
            say(status_line(member))
    except Exception as error:
        say(f"room  not posted ({plain(type(error).__name__)}: {plain(error)})")
