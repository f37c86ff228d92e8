"""The harness's side of the reference daemon (:mod:`.daemon`): find it, start it, ask it, stop it.

A run that misses the reference cache calls :func:`compute`. It connects to
the checkout's daemon; when none listens it starts one (``python -m
dojo.refcache.daemon``, in a session of its own so that a Ctrl-C in the
terminal leaves it alone) and waits until it says ``ready``. Two runs that
race to start it take turns on ``start.lock`` (``fcntl.flock``), and the
second finds the first one's daemon: one daemon per checkout.

What can go wrong, and what the run does:

* the daemon died mid-request (a crash, the memory cap, killed): a fresh one
  is started and asked again; a second death in a row is reported in one
  line with the last line of its log, as the per-run engine's death was;
* it answers ``stale`` (the code on disk changed since it started), or it is
  on its way out (idle): the run waits until it has exited and starts a fresh
  one, unless a racing run's fresh one answers first;
* it cannot be used here (no Unix sockets, not Linux, ``.katas/`` not
  writable, ``KATAS_REFERENCE_IDLE=0``, it refused us): :func:`compute`
  returns None and the caller starts an engine for this run alone
  (:mod:`.server`), as before the daemon.

Only the harness's own process talks to the daemon: a kata's child asks the
harness over its pipe (:mod:`dojo.harness.isolation`), and the daemon refuses
a sandboxed peer (:mod:`.peers`).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

from .. import wire
from . import daemon

#: How the daemon is started (the self-tests replace it with one that dies).
COMMAND = (sys.executable, "-m", "dojo.refcache.daemon")
#: The longest reply read: the same bound as the per-run engine's.
MAX_REPLY = 256 << 20
#: Seconds to wait for a daemon to say ready, or for a stale one to finish and exit (generous: a loaded laptop).
PATIENCE = 600.0

#: The daemons this process started, by checkout: its children, never ended as a kata's strays.
_launched: dict[Path, subprocess.Popen] = {}


class _Gone(Exception):
    """The daemon hung up before its reply was whole: it died mid-request."""


def usable() -> bool:
    """The daemon is for Linux (``SO_PEERCRED``, ``/proc``), and ``KATAS_REFERENCE_IDLE=0`` turns it off."""
    return sys.platform.startswith("linux") and hasattr(socket, "AF_UNIX") and daemon.idle_seconds() > 0


def _folder(root: Path) -> Path:
    """``.katas/reference-daemon/``, created 0700 (and made so, if it was not)."""
    path = daemon.folder(root)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def _connect(root: Path) -> socket.socket | None:
    """A connection to the checkout's daemon, or None when none listens."""
    path = daemon.folder(root) / daemon.SOCKET_NAME
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with daemon.address(path) as where:
            connection.connect(where)
    except OSError:  # no file, a dead daemon's file (refused), no folder
        connection.close()
        return None
    return connection


def ask(root: Path, message: dict) -> dict | None:
    """One conversation: ``message`` out, its reply back; None when no daemon listens; :class:`_Gone`."""
    connection = _connect(root)
    if connection is None:
        return None
    with connection:
        try:
            connection.sendall(wire.dumps(message))
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # a refusal may come before the whole request went: read it
        try:
            with connection.makefile("rb") as stream:
                reply = wire.read(stream, MAX_REPLY)
        except wire.TooLarge:
            return {"raised": "RuntimeError", "message": "the reference daemon sent a reply too long to read"}
        except (wire.EndOfStream, OSError):
            raise _Gone from None
    if reply is None:
        return {"raised": "RuntimeError", "message": "the reference daemon sent a reply that is not one"}
    reply.pop("type", None)
    return reply


# ------------------------------------------------------------------ the lock


def holder(root: Path) -> int | None:
    """The pid of the checkout's live daemon (its lock is held), else None."""
    import fcntl

    try:
        file = open(daemon.folder(root) / daemon.LOCK_NAME)
    except OSError:
        return None
    with file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None  # free: no daemon holds it
        except OSError:
            pass
        try:
            import json

            return int(json.loads(file.read() or "{}").get("pid", 0)) or -1
        except (ValueError, AttributeError):
            return -1  # held by a daemon that has not written its pid yet


def wait_until_gone(root: Path, patience: float = PATIENCE) -> bool:
    """Wait until no daemon holds the lock (a stale or stopped one finishing its last conversation)."""
    deadline = time.monotonic() + patience
    while holder(root) is not None:
        if time.monotonic() > deadline:
            return False
        _reap()
        time.sleep(0.05)
    _reap()
    return True


@contextlib.contextmanager
def _start_lock(root: Path):
    """One starter at a time per checkout (blocking: the other waits, then finds the daemon)."""
    import fcntl

    with open(_folder(root) / "start.lock", "a") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        yield


def _reap() -> None:
    """Collect daemons of ours that ended (else each stays a zombie until this process exits)."""
    for root, process in list(_launched.items()):
        if process.poll() is not None:
            del _launched[root]


def launched_pids() -> set[int]:
    """The daemons this process started and that still run."""
    _reap()
    return {process.pid for process in _launched.values()}


# ---------------------------------------------------------------- starting


def start(root: Path, identity: str) -> str | None:
    """Make sure a daemon running code of this ``identity`` listens; None when one does, else why not (a phrase).

    Under ``start.lock``: while another daemon holds the lock (a stale one finishing its last
    conversation, one on its way out after its idle time, one that a racing run just started)
    wait, until either it is gone (then start one) or it answers as a good one (then use it).
    """
    root = Path(root).resolve()
    with _start_lock(root):
        deadline = time.monotonic() + PATIENCE
        while holder(root) is not None:
            said = status(root)
            if said is not None and not said.get("stopping") and said.get("identity") == identity:
                return None
            if time.monotonic() > deadline:
                return "the old reference daemon did not end"
            _reap()
            time.sleep(0.05)
        _reap()
        return _launch(root)


def _launch(root: Path) -> str | None:
    folder = _folder(root)
    environment = dict(os.environ)
    # The daemon imports the very `reference` package (and `dojo`) that this process uses.
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(root), str(Path(__file__).resolve().parents[2])]
        + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else [])
    )
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"):
        environment.pop(name, None)
    read, write = os.pipe()
    try:
        with open(folder / daemon.LOG_NAME, "ab") as log:  # the daemon empties it once it holds the lock
            process = subprocess.Popen(
                [*COMMAND, str(root), str(write)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=root,
                env=environment,
                pass_fds=(write,),
                start_new_session=True,  # its own session: the terminal's Ctrl-C and the run's end leave it be
            )
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as said:
        ready, _, _ = select.select([said], [], [], PATIENCE)
        line = said.readline(200).decode("ascii", "replace") if ready else ""
    if line.startswith("ready"):
        _launched[root] = process
        return None
    if line.startswith("running"):
        process.wait()
        return None
    if not ready:
        process.kill()
    process.wait()
    return f"it stopped while starting: {last_log_line(root, process.returncode)}"


def last_log_line(root: Path, status: int | None = None) -> str:
    """The last line of the daemon's log (TensorFlow's last word, usually the error)."""
    try:
        with open(daemon.folder(root) / daemon.LOG_NAME, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 20_000))
            lines = log.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1].strip() if lines else f"exit status {status}"


# --------------------------------------------------------------- computing


def compute(root: Path, message: dict, settings: dict) -> dict | None:
    """Have the checkout's daemon compute one reference call; the reply as the kata's child expects it.

    None when the daemon cannot serve this run (the caller computes with an engine of its own).
    """
    root = Path(root).resolve()
    request = {"type": "ref", **{key: message.get(key) for key in ("module", "function", "args")}}
    request.update(settings=settings, identity=daemon.identity(root))
    deaths = 0
    for _ in range(6):
        try:
            reply = ask(root, request)
        except _Gone:
            deaths += 1
            if deaths == 2:
                return {"raised": "RuntimeError", "message": death_notice(root)}
            reply = None
        if reply is None or reply.get("stale"):  # none listens, it died, or it runs older code
            try:
                why = start(root, request["identity"])
            except OSError:
                return None  # .katas/ is not writable, say: an engine of the run's own
            if why is not None:
                return None
            continue
        if "refused" in reply:
            return None
        return reply
    return None


def death_notice(root: Path) -> str:
    return (
        f"the reference engine (TensorFlow, in a process of its own) stopped while computing an "
        f"expected value: {last_log_line(root)}. Run `pytest` again; if it repeats, run `kata warm` to see the error"
    )


# ---------------------------------------------------------------- stopping


def status(root: Path) -> dict | None:
    """The running daemon's status (pid, up, served, idle_timeout), or None when none answers."""
    try:
        reply = ask(Path(root).resolve(), {"type": "status"})
    except _Gone:
        return None
    return reply if reply and "pid" in reply else None


def stop(root: Path) -> dict | None:
    """End the checkout's daemon and wait until it is gone; what it said of itself, or None if none ran."""
    root = Path(root).resolve()
    try:
        reply = ask(root, {"type": "stop"})
    except _Gone:
        reply = None
    pid = holder(root)
    if reply is None and pid is None:
        return None
    if reply is None or "pid" not in reply:  # alive but not answering (hung, or refusing us): the signal
        reply = {"pid": pid, "up": None, "served": None}
        if pid and pid > 0:
            with contextlib.suppress(OSError):
                os.kill(pid, 15)
    wait_until_gone(root)
    return reply
