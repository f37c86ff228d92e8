"""The reference daemon: one per checkout, reused by later runs, ending when idle, stopped, stale or dead.

Most tests run a real daemon (``python -m dojo.refcache.daemon``) on a toy
checkout whose ``reference`` package is plain NumPy, so the daemon starts in
a second and no TensorFlow is imported; what they prove (who may talk to it,
when it ends, how runs find it) does not depend on what it computes. The
"runs" are separate Python processes, as a learner's successive ``pytest``
runs are. Every wait is on an event (a lock freed, a process gone, a file),
bounded generously: nothing here is timed. Each test stops its daemon.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from toy_course import write_course

from dojo import wire
from dojo.refcache import daemon, daemon_client, peers

ROOT = Path(__file__).resolve().parents[2]
BOUND = 300.0  # seconds: far above anything here, on the busiest machine

TOY_REFERENCE = """
import numpy as np

from dojo.refcache.store import cache_public_functions


def twice(x):
    return np.asarray(x, dtype=np.float64) * FACTOR


FACTOR = 2

cache_public_functions(globals())
"""

#: One "run": asks the toy checkout's daemon for twice([1, 2]) and prints the reply and the daemon's pid.
A_RUN = """
import json, sys
from pathlib import Path
from dojo import wire
from dojo.refcache import daemon_client
root = Path(sys.argv[1])
message = {"module": "reference.toyref", "function": "twice", "args": wire.encode([[[1.0, 2.0]], {}])}
reply = daemon_client.compute(root, message, {"KATAS_REFERENCE_CACHE": sys.argv[2]})
value = wire.decode(reply["value"]).tolist() if reply and "value" in reply else reply
print(json.dumps({"value": value, "pid": (daemon_client.status(root) or {}).get("pid")}))
"""


class Checkout(type(Path())):
    """A toy checkout's path, with its private reference cache beside it."""

    cache = ""


def request(x=(1.0, 2.0)) -> dict:
    return {"module": "reference.toyref", "function": "twice", "args": wire.encode([[list(x)], {}])}


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A checkout with a NumPy-only ``reference`` package and a private cache; its daemon stopped after."""
    root = Checkout(tmp_path / "course")
    write_course(root, ("double",), ("double",), installed_plugins=False)
    (root / "katas").mkdir()
    (root / "reference").mkdir()
    (root / "reference" / "__init__.py").write_text("")
    (root / "reference" / "toyref.py").write_text(TOY_REFERENCE)
    monkeypatch.setenv("KATAS_REFERENCE_IDLE", "600")
    root.cache = str(tmp_path / "cache")
    yield root
    daemon_client.stop(root)
    assert daemon_client.holder(root) is None


def ask(root: Path, x=(1.0, 2.0)) -> list:
    reply = daemon_client.compute(root, request(x), {"KATAS_REFERENCE_CACHE": root.cache})
    assert reply is not None and "value" in reply, reply
    return wire.decode(reply["value"]).tolist()


def a_run(root: Path) -> dict:
    """A separate process that needs a value (as a learner's next `pytest` does)."""
    done = subprocess.run(
        [sys.executable, "-c", A_RUN, str(root), root.cache],
        capture_output=True,
        text=True,
        timeout=BOUND,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        daemon_client.launched_pids()  # reaps a daemon of this process's that ended
        time.sleep(0.05)


def raw(root: Path, data: bytes) -> dict:
    """Send ``data`` as it is on one connection; the reply."""
    with socket.socket(socket.AF_UNIX) as connection:
        with daemon.address(daemon.folder(root) / daemon.SOCKET_NAME) as where:
            connection.connect(where)
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        with connection.makefile("rb") as stream:
            return wire.read(stream, 1 << 20)


# ----------------------------------------------------------------- lifetime


def test_a_later_run_reuses_the_daemon_and_its_files_are_private(toy):
    first = a_run(toy)
    assert first["value"] == [2.0, 4.0]
    second = a_run(toy)  # another process, after the first ended
    assert second["value"] == [2.0, 4.0]
    assert second["pid"] == first["pid"] and alive(first["pid"])
    folder = daemon.folder(toy)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / daemon.SOCKET_NAME).stat().st_mode & 0o777 == 0o600
    assert daemon_client.holder(toy) == first["pid"]


@pytest.mark.slow
def test_it_ends_after_its_idle_timeout_and_leaves_nothing(toy, monkeypatch):
    monkeypatch.setenv("KATAS_REFERENCE_IDLE", "1")
    ask(toy)
    pid = daemon_client.status(toy)["pid"]
    wait_for(lambda: not alive(pid), "the idle daemon to end")
    assert daemon_client.holder(toy) is None
    assert not (daemon.folder(toy) / daemon.SOCKET_NAME).exists()


@pytest.mark.slow
def test_kata_stop_ends_it_in_one_line_and_says_when_nothing_ran(toy):
    ask(toy)
    pid = daemon_client.status(toy)["pid"]
    kata = [sys.executable, "-m", "dojo", "stop"]
    stopped = subprocess.run(kata, cwd=toy, capture_output=True, text=True, timeout=BOUND)
    assert stopped.returncode == 0, stopped.stderr
    lines = stopped.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Stopped the reference daemon (pid {pid}, up "), lines
    assert lines[0].endswith(", 1 value computed)."), lines
    assert not alive(pid)
    again = subprocess.run(kata, cwd=toy, capture_output=True, text=True, timeout=BOUND)
    assert again.stdout.strip() == "Nothing was running for this checkout: no reference daemon."


@pytest.mark.slow
def test_a_dead_daemons_socket_is_replaced(toy):
    ask(toy)
    pid = daemon_client.status(toy)["pid"]
    os.kill(pid, 9)
    wait_for(lambda: not alive(pid), "the killed daemon to end")
    assert (daemon.folder(toy) / daemon.SOCKET_NAME).exists()  # stale: nothing listens behind it
    assert ask(toy, (3.0,)) == [6.0]
    fresh = daemon_client.status(toy)["pid"]
    assert fresh != pid and alive(fresh)


@pytest.mark.slow
def test_runs_that_race_to_start_it_start_one(toy):
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", A_RUN, str(toy), toy.cache], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        for _ in range(4)
    ]
    said = [json.loads(racer.communicate(timeout=BOUND)[0].strip().splitlines()[-1]) for racer in racers]
    assert all(run["value"] == [2.0, 4.0] for run in said), said
    assert len({run["pid"] for run in said}) == 1, said
    daemons = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and b"dojo.refcache.daemon\0" + str(toy).encode() in _cmdline(pid)
    ]
    assert daemons == [str(said[0]["pid"])]


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.slow
def test_changed_reference_code_is_never_answered_by_the_old_daemon(toy):
    assert ask(toy) == [2.0, 4.0]
    old = daemon_client.status(toy)["pid"]
    source = toy / "reference" / "toyref.py"
    # A change of another length: Python trusts a cached .pyc whose source has the same size and
    # the same mtime second, so an edit of equal length within the second would load the old code
    # (CI keeps bytecode). The daemon's identity hashes the files; the import is Python's.
    source.write_text(source.read_text().replace("FACTOR = 2", "FACTOR = 3  # changed"))
    assert ask(toy) == [3.0, 6.0]  # the new code's value, from a fresh daemon
    new = daemon_client.status(toy)["pid"]
    assert new != old
    wait_for(lambda: not alive(old), "the stale daemon to end")


DIES_ON_EVERY_REQUEST = (
    "import os, sys; from pathlib import Path; from dojo.refcache import daemon, server\n"
    "def answer(message, **_):\n"
    "    marker = Path(sys.argv[1]) / 'died-once'\n"
    "    if os.environ.get('DIE_ONCE') and marker.exists():\n"
    "        return real(message)\n"
    "    marker.touch(); sys.stderr.write('out of memory\\n'); sys.stderr.flush(); os._exit(3)\n"
    "real, server.answer = server.answer, answer\n"
    "daemon.main(Path(sys.argv[1]), int(sys.argv[2]))\n"
)


@pytest.mark.slow
def test_a_daemon_that_dies_mid_request_is_replaced_and_the_value_is_still_right(toy, monkeypatch):
    monkeypatch.setattr(daemon_client, "COMMAND", (sys.executable, "-c", DIES_ON_EVERY_REQUEST))
    monkeypatch.setenv("DIE_ONCE", "1")
    assert ask(toy) == [2.0, 4.0]  # the first daemon died with the request; a fresh one answered it
    assert (toy / "died-once").exists()


@pytest.mark.slow
def test_a_daemon_that_dies_twice_is_reported_in_one_line(toy, monkeypatch):
    monkeypatch.setattr(daemon_client, "COMMAND", (sys.executable, "-c", DIES_ON_EVERY_REQUEST))
    reply = daemon_client.compute(toy, request(), {"KATAS_REFERENCE_CACHE": toy.cache})
    assert reply["raised"] == "RuntimeError"
    assert "stopped while computing an expected value: out of memory" in reply["message"]
    assert "\n" not in reply["message"]


# ------------------------------------------------------------- who may talk


@pytest.mark.slow
def test_garbage_and_oversized_requests_are_refused_and_the_daemon_lives_on(toy):
    assert ask(toy) == [2.0, 4.0]
    pid = daemon_client.status(toy)["pid"]
    garbage = raw(toy, b"\x00\xff not a message at all\n")
    assert garbage["message"] == "bad reference request: not a message", garbage
    huge = raw(toy, json.dumps({"type": "ref", "__blobs__": [daemon.MAX_REQUEST + 1]}).encode() + b"\n")
    assert huge["message"] == f"bad reference request: a request of over {daemon.MAX_REQUEST >> 20} MiB", huge
    unknown = raw(toy, wire.dumps({"type": "shell", "command": "rm -rf /"}))
    assert "no such request 'shell'" in unknown["message"], unknown
    foreign = raw(toy, wire.dumps({"type": "ref", "module": "os", "function": "system", "identity": "?"}))
    assert foreign == {"type": "reply", "stale": True}  # not its code: it answers nothing and ends
    wait_for(lambda: not alive(pid), "the daemon asked with a foreign identity to end")
    assert ask(toy) == [2.0, 4.0]


@pytest.mark.slow
def test_the_module_and_function_asked_for_are_checked_by_the_daemon(toy):
    ask(toy)
    identity = daemon.identity(toy)
    reply = raw(toy, wire.dumps({"type": "ref", "module": "os", "function": "system", "identity": identity}))
    assert reply["raised"] == "RuntimeError" and "no reference function os.system" in reply["message"], reply
    assert ask(toy) == [2.0, 4.0]


def _peer_of_a_child(tmp_path: Path, prepare) -> str | None:
    """``peers.refusal`` for a connection made by a forked child after ``prepare()`` ran in it."""
    path = tmp_path / "peer.sock"
    path.unlink(missing_ok=True)
    # The child reaches the socket through this descriptor, not the path: the folders above
    # tmp_path are closed to another user, and the test is of the socket's peer, not of folders.
    folder = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(f"/proc/self/fd/{folder}/{path.name}")
        os.chmod(path, 0o777)
        os.chmod(tmp_path, 0o711)  # another user may look the socket up in it
        listener.listen(1)
        listener.settimeout(BOUND)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: connect, then wait until the parent has looked
            try:
                prepare()
                with socket.socket(socket.AF_UNIX) as connection:
                    connection.connect(f"/proc/self/fd/{folder}/{path.name}")
                    os.read(read, 1)
            finally:
                os._exit(0)
        child = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([listener, child], [], [], BOUND)
            assert listener in ready, "the child ended without connecting"
            connection, _ = listener.accept()
            with connection:
                why = peers.refusal(connection)
        finally:
            os.write(write, b"x")
            os.waitpid(pid, 0)
            os.close(folder)
            os.close(child)
        return why


def test_a_sandboxed_peer_and_another_user_are_refused_and_the_harness_is_not(tmp_path):
    assert _peer_of_a_child(tmp_path, lambda: None) is None  # the harness: same user, no sandbox

    def no_new_privs():  # what the kata's sandbox sets (dojo/harness/sandbox.py), inherited for good
        assert ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) == 0

    assert _peer_of_a_child(tmp_path, no_new_privs) == "a sandboxed process (a kata's code)"
    if os.getuid() == 0:  # only root can become another user to try

        def another_user():
            os.setuid(65534)
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/fd stays its own

        assert _peer_of_a_child(tmp_path, another_user) == "another user (uid 65534)"


#: Stands in for a background warm-up: holds the warm-up's lock in a session of its own until killed.
A_WARM_UP = """
import sys, time
from pathlib import Path
from dojo.refcache.warmup import WarmLock
lock = WarmLock(Path(sys.argv[1]))
assert lock.acquire()
print("holding", flush=True)
while True:
    time.sleep(3600)
"""


@pytest.mark.slow
def test_kata_stop_warm_up_also_ends_a_background_warm_up(toy):
    warm = subprocess.Popen(
        [sys.executable, "-c", A_WARM_UP, str(toy)], stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True
    )
    try:
        assert warm.stdout.readline().strip() == "holding"
        done = subprocess.run(
            [sys.executable, "-m", "dojo", "stop", "--warm-up"], cwd=toy, capture_output=True, text=True, timeout=BOUND
        )
        assert done.stdout.strip() == f"Stopped the background warm-up (pid {warm.pid}).", done.stdout + done.stderr
        assert warm.wait(timeout=BOUND) != 0
        again = subprocess.run(
            [sys.executable, "-m", "dojo", "stop", "--warm-up"], cwd=toy, capture_output=True, text=True, timeout=BOUND
        )
        assert again.stdout.strip() == "Nothing was running for this checkout: no reference daemon, no warm-up."
    finally:
        if warm.poll() is None:
            warm.kill()
            warm.wait()
