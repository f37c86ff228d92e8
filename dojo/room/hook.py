"""The pytest plugin's one call into the room, at the end of a run on the learner's own ``katas/``.

When this checkout has joined a room (``kata room join``), the run's state
goes to the room in a detached process (:mod:`.poster`): the run never waits
more than :data:`~.protocol.HOOK_WAIT_SECONDS` for it, never fails because of
it, and its exit code stays pytest's. The terminal gets one quiet line: the
rotation timer, or that the room could not be reached.

What is sent: the pair's name, its random client id, the state of each kata
it has run, the current kata's id, failing streak and check counts, and when
the current kata failed on a known mistake, that mistake's name as the
course wrote it. No code, no file names, no values from the pair's arrays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import protocol
from .client import membership, room_path, status_line
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
        "v": protocol.VERSION, "client": member["client"], "name": member["name"], "seq": int(member.get("seq", 0)),
        "current": current.id if current else None, "streak": int(entry.get("streak", 0)),
        "checks": [min(passed, total), total],
        "mistake": mistake[: protocol.MAX_MISTAKE] if mistake else None,
        "katas": {kata.id: progress.state(kata.id) for kata in curriculum.katas if kata.id in progress.katas},
    }


def start_poster(root: Path, body: dict) -> subprocess.Popen:
    """The poster, in a session of its own, so that it outlives pytest and never writes to its terminal."""
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    detach = {"creationflags": getattr(subprocess, "DETACHED_PROCESS", 0)} if os.name == "nt" \
        else {"start_new_session": True}
    process = subprocess.Popen([sys.executable, "-m", "dojo.room.poster", str(root)], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root, env=env, **detach)
    process.stdin.write(json.dumps(body).encode("utf-8"))
    process.stdin.close()
    return process


def after_run(root: Path, curriculum, progress, results: dict, say) -> None:
    """Post this run to the room, if the checkout joined one; ``say(line)`` prints one quiet line."""
    try:
        member = membership(root)
        if member is None or progress is None:
            return
        member["seq"] = int(member.get("seq", 0)) + 1
        write_json_atomic(room_path(root), member)
        process = start_poster(Path(root), payload(member, curriculum, progress, results))
        try:
            outcome = process.wait(timeout=protocol.HOOK_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            outcome = None  # still going: it reports in .katas/room.json
        member = membership(root) or member
        if outcome == 3:
            say(f"room  {member['url']} is not reachable: this run was not posted (`kata room leave` stops trying)")
        elif outcome == 4:
            say(f"room  the room refused this run ({(member.get('last') or {}).get('error')}): "
                f"`kata room join` again with the right code?")
        else:
            say(status_line(member))
    except Exception as error:  # noqa: BLE001 - the room is an extra: it must never break a learner's run
        say(f"room  not posted ({type(error).__name__}: {error})")
