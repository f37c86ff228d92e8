"""A pair's `pytest` run, joined to a room: the post goes in the background, the run stays the run.

A tiny course (one track, no TensorFlow) in a folder of its own: `kata room
join` there, then real `pytest` runs whose kata fails on a named mistake.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from room_support import RoomProcess, env, toy_room_course

from dojo.course.curriculum import load
from dojo.course.progress import Progress
from dojo.room import hook

pytestmark = pytest.mark.slow  # left out of the quick tier: a room server and pytest runs

SECRET = "PAIRS_OWN_CODE_NEVER_SENT"
KATAS = f"""
def double(x):
    return x + 2  # {SECRET}


def square(x):
    raise NotImplementedError("kata toy.square")
"""


@pytest.fixture
def course(tmp_path):
    return toy_room_course(tmp_path / "course", KATAS)


def run(root, *args):
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=env(), capture_output=True, text=True, timeout=600, check=False
    )


def test_a_run_posts_its_state_and_named_mistake_never_its_code(course, tmp_path):
    with RoomProcess(tmp_path / "room", curriculum=course / "curriculum") as room:
        alone = run(course, "-m", "pytest")  # not joined yet: nothing about a room
        assert alone.returncode == 1 and "room " not in alone.stdout
        assert run(course, "-m", "dojo", "room", "join", room.url, room.code, "--name", "Ana & Ben").returncode == 0
        started = time.monotonic()
        joined = run(course, "-m", "pytest")
        assert joined.returncode == alone.returncode == 1  # the verdict is the run's own
        assert "added 2 instead of doubling" in " ".join(joined.stdout.split())  # the card wraps
        line = [text for text in joined.stdout.splitlines() if text.startswith("room ")]
        assert len(line) == 1 and "Ana & Ben on" in line[0] and "round 1" in line[0], joined.stdout
        deadline = started + 300  # the post may be left to the detached poster
        while room.pair("Ana & Ben") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        row = room.pair("Ana & Ben")
        assert row["kata"]["id"] == "toy.double" and row["kata"]["number"] == "1.1" and row["state"] == "failing"
        assert row["posts"] == 1  # one run, one post (the kata's child process posts nothing)
        # Both runs failed, on the same code: one attempt (a failing run counts when the code changed).
        assert row["mistake"] == "added 2 instead of doubling: multiply by 2" and row["streak"] == 1
        assert room.board()["mistakes"][0]["pairs"] == 1
        saved = "".join(
            path.read_bytes().decode("utf-8", "replace") for path in (tmp_path / "room").glob("room.sqlite*")
        )
        assert "Ana & Ben" in saved  # the database was read whole...
        assert SECRET not in saved and "x + 2" not in saved and "[4. 5.]" not in saved


def test_an_unreachable_room_is_one_quiet_line_and_the_verdict_stays(course, tmp_path):
    with RoomProcess(tmp_path / "room", curriculum=course / "curriculum") as room:
        assert run(course, "-m", "dojo", "room", "join", room.url, room.code, "--name", "Ana & Ben").returncode == 0
    # The room is gone (the facilitator closed the laptop): the run must not care.
    result = run(course, "-m", "pytest")  # run()'s own timeout bounds it: the run must not hang on the room
    assert result.returncode == 1 and "added 2 instead of doubling" in " ".join(result.stdout.split())
    lines = [text for text in result.stdout.splitlines() if text.startswith("room ")]
    assert len(lines) == 1 and "not reachable" in lines[0], result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    member = json.loads((course / ".katas" / "room.json").read_text())
    assert member["last"]["ok"] is False
    assert run(course, "-m", "dojo", "room", "leave").returncode == 0
    assert "\nroom " not in run(course, "-m", "pytest").stdout


def test_the_hook_never_waits_long_nor_raises(course):
    silent = socket.socket()  # a room that takes the connection and never answers: the poster waits, the run not
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    (course / ".katas").mkdir()
    (course / ".katas" / "room.json").write_text(
        json.dumps(
            {
                "url": f"http://127.0.0.1:{silent.getsockname()[1]}",
                "code": "ABCDEF",
                "name": "Ana & Ben",
                "client": "0" * 16,
                "joined": True,
                "seq": 0,
            }
        )
    )
    curriculum = load(course / "curriculum")
    said = []
    # The room never answers: a hook that waited for the answer would never return. Bounded generously
    # (no timed assert: the hook's own wait is half a second, but a busy machine may stretch it).
    hooked = threading.Thread(target=hook.after_run, args=(course, curriculum, Progress.load(course), {}, said.append))
    hooked.start()
    hooked.join(timeout=120)
    assert not hooked.is_alive(), "the hook waited for a room that never answers"
    assert len(said) == 1 and said[0].startswith("room  Ana & Ben on"), said
    said.clear()
    hook.after_run(course, curriculum, object(), {}, said.append)  # even a broken progress raises nothing
    assert len(said) == 1 and said[0].startswith("room  not posted")
    silent.close()


# ------------------------------------------------------- a room that misbehaves

ESCAPES = "\x1b[2J\x1b[31m\x1b]0;owned\x07 clear screen, red, a new window title"
ANSWERS = {
    # bytes that are not HTTP at all (http.client raises BadStatusLine, not an OSError)
    "garbage": b"\x00\xff\xfeNOT HTTP AT ALL\x1b[2J\r\n\r\n",
    # a refusal whose text is escape codes
    "escapes": (
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        + json.dumps({"ok": False, "error": ESCAPES * 20}).encode()
    ),
    # a 200 that lies: a timer of strings, infinities and a round of -1
    "lie": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        + b'{"ok": true, "rotation": {"minutes": "NaN", "round": -1, "left_s": 1e999}, "fresh": "\\u001b[2J"}'
    ),
    # a 429 asking to come back in a year
    "busy": b"HTTP/1.1 429 Too Many\r\nRetry-After: 31536000\r\nConnection: close\r\n\r\n{}",
    # an answer trickled a byte every half second: every socket timeout is reset, forever
    "slow": None,
}


class BadRoom:
    """A listening socket on 127.0.0.1 that answers every request with one of :data:`ANSWERS`."""

    def __init__(self, kind: str):
        import threading

        self.kind = kind
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        import threading

        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        try:
            connection.settimeout(5)
            connection.recv(65536)
            if self.kind == "slow":
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stop.is_set():
                    connection.sendall(b"X")
                    time.sleep(0.5)
            else:
                connection.sendall(ANSWERS[self.kind])
        except OSError:
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def posters_of(root) -> list[str]:
    """The command lines of poster processes still running for this checkout (Linux's /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "dojo.room.poster" in command and str(root) in command:
                found.append(command)
    return found


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_whatever_the_room_answers_a_pairs_run_says_one_plain_line(course, kind):
    bad = BadRoom(kind)
    try:
        (course / ".katas").mkdir(exist_ok=True)
        member = {"url": f"http://127.0.0.1:{bad.port}", "code": "ABCDEF", "name": "Ana & Ben"}
        (course / ".katas" / "room.json").write_text(
            json.dumps({**member, "client": "0" * 16, "joined": True, "seq": 0})
        )
        result = run(course, "-m", "pytest")
        verdict = " ".join(result.stdout.split())  # the run's own verdict (the card wraps at 80 columns)
        assert result.returncode == 1 and "added 2 instead of doubling" in verdict
        said = result.stdout + result.stderr
        lines = [text for text in said.splitlines() if "room" in text.lower() and text.startswith("room ")]
        assert len(lines) == 1, said
        assert "Traceback" not in said and "\x1b" not in said and "\x07" not in said, said
        assert "NOT HTTP" not in said and "owned" not in said.replace("Ana & Ben", "")  # no raw server text
        assert len(lines[0]) <= 200
        status = run(course, "-m", "dojo", "status")
        assert "Traceback" not in status.stdout + status.stderr and "\x1b[2J" not in status.stdout
        deadline = time.monotonic() + 300
        while posters_of(course) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert posters_of(course) == []  # a poster gives up after its budget (seconds): it never stays
    finally:
        bad.close()
