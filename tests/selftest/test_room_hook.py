"""A pair's `pytest` run, joined to a room: the post goes in the background, the run stays the run.

A tiny course (one track, no TensorFlow) in a folder of its own: `kata room
join` there, then real `pytest` runs whose kata fails on a named mistake.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest
from room_support import RoomProcess, env
from toy_course import write_course

from dojo.course.curriculum import load
from dojo.course.progress import Progress
from dojo.room import hook

SECRET = "PAIRS_OWN_CODE_NEVER_SENT"
KATAS = f"""
def double(x):
    return x + 2  # {SECRET}


def square(x):
    raise NotImplementedError("kata toy.square")
"""


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    write_course(root, ("double", "square"), ("double_named_mistake", "square"), ini="testpaths = tests\n")
    (root / "katas").mkdir()
    (root / "katas" / "toy.py").write_text(KATAS)
    return root


def run(root, *args):
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_a_run_posts_its_state_and_named_mistake_never_its_code(course, tmp_path):
    with RoomProcess(tmp_path / "room", curriculum=course / "curriculum") as room:
        alone = run(course, "-m", "pytest")  # not joined yet: nothing about a room
        assert alone.returncode == 1 and "room " not in alone.stdout
        assert run(course, "-m", "dojo", "room", "join", room.url, room.code, "--name", "Ana & Ben").returncode == 0
        started = time.monotonic()
        joined = run(course, "-m", "pytest")
        assert joined.returncode == alone.returncode == 1  # the verdict is the run's own
        assert "added 2 instead of doubling" in joined.stdout
        line = [text for text in joined.stdout.splitlines() if text.startswith("room ")]
        assert len(line) == 1 and "Ana & Ben on" in line[0] and "round 1" in line[0], joined.stdout
        deadline = started + 30
        while room.pair("Ana & Ben") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        row = room.pair("Ana & Ben")
        assert row["kata"]["id"] == "toy.double" and row["kata"]["number"] == "1.1" and row["state"] == "failing"
        assert row["posts"] == 1  # one run, one post (the kata's child process posts nothing)
        assert row["mistake"] == "added 2 instead of doubling: multiply by 2" and row["streak"] == 2  # both runs failed
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
    started = time.monotonic()
    result = run(course, "-m", "pytest")
    assert result.returncode == 1 and "added 2 instead of doubling" in result.stdout
    lines = [text for text in result.stdout.splitlines() if text.startswith("room ")]
    assert len(lines) == 1 and "not reachable" in lines[0], result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert time.monotonic() - started < 60
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
    started = time.monotonic()
    hook.after_run(course, curriculum, Progress.load(course), {}, said.append)
    assert time.monotonic() - started < 2
    assert len(said) == 1 and said[0].startswith("room  Ana & Ben on"), said
    said.clear()
    hook.after_run(course, curriculum, object(), {}, said.append)  # even a broken progress raises nothing
    assert len(said) == 1 and said[0].startswith("room  not posted")
    silent.close()
