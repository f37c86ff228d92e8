"""The reference daemon: TensorFlow stays up between runs, one process per checkout, behind a Unix socket.

A run that misses the reference cache needs TensorFlow, and importing it
costs seconds (tens on a busy laptop). Before, every run that missed started
a TensorFlow process of its own (:mod:`.server`) and stopped it at its end,
so a learner's second wrong answer that needed new values paid that start
again. Now the first run that misses starts this daemon, and later runs find
it and ask it: TensorFlow is imported once per checkout, not once per run.

Where: ``.katas/reference-daemon/`` (mode 0700) holds ``socket`` (0600), the
``lock`` the live daemon holds (``fcntl.flock``; it names its pid for
humans; the kernel drops it however the daemon ends, so a dead one's files
never block the next) and its ``log`` (TensorFlow's chatter).

What it answers (:mod:`dojo.wire` messages, one request and one reply per
connection, so a reply can never be taken for another request's):

* ``ref``: one reference call, as the harness's kata children ask for it,
  with the harness's cache settings and the *identity* of the code it would
  run (:func:`identity`: the reference sources, the engine's versions, the
  Python). A daemon whose identity differs answers ``stale`` and exits: a
  fresh one, started by the asker, runs the code as it is now;
* ``status``: its pid, uptime, values served, idle timeout (``kata doctor``);
* ``stop``: it answers, then exits (``kata stop``).

Who: only the learner's own harness. Every connection's peer is checked
(:mod:`.peers`): another user, or a process in a kata's sandbox, gets a
refusal and nothing else. At most :data:`MAX_CONNECTIONS` conversations at a
time; a request is read within :data:`READ_TIMEOUT` seconds and at most
:data:`MAX_REQUEST` bytes, and garbage gets a one-line refusal: none of it
ends the daemon. Calls are computed one at a time (Keras keeps global state).

When it ends: after ``KATAS_REFERENCE_IDLE`` seconds (default 600) without
a request, on ``stop``, when its identity is stale, on SIGTERM, or when its
socket file is removed or replaced (its checkout deleted). It removes its
socket on the way out, if the socket is still its own.

Run as ``python -m dojo.refcache.daemon ROOT READY_FD`` by
:mod:`.daemon_client`, which reads ``ready`` on ``READY_FD`` once it listens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from .. import wire
from ..paths import STATE_DIR

FOLDER, SOCKET_NAME, LOCK_NAME, LOG_NAME = "reference-daemon", "socket", "lock", "log"
IDLE_ENV = "KATAS_REFERENCE_IDLE"
DEFAULT_IDLE = 600.0
#: Conversations served at once; more wait in the listen backlog.
MAX_CONNECTIONS = 8
#: Seconds a peer has to send its whole request.
READ_TIMEOUT = 120.0
#: The longest request read (a capstone's weights are tens of MB; the same bound as the harness's messages).
MAX_REQUEST = 256 << 20
#: How often the daemon looks at its clock and its socket file when nothing happens.
TICK = 0.5
#: Longest path a Unix socket address holds on Linux (108 bytes with its NUL; macOS has 104).
MAX_ADDRESS = 100
#: Files whose code the daemon runs, beside ``reference/``: a change to any makes a running daemon stale.
DOJO_FILES = ("__init__.py", "wire.py", "files.py", "paths.py", "shapes.py", "refcache/*.py")


def folder(root: Path) -> Path:
    return Path(root) / STATE_DIR / FOLDER


def idle_seconds() -> float:
    """``$KATAS_REFERENCE_IDLE`` in seconds (0: no daemon, each run starts its own engine), else 600."""
    try:
        value = float(os.environ.get(IDLE_ENV, DEFAULT_IDLE))
    except ValueError:
        return DEFAULT_IDLE
    return value if value >= 0 else DEFAULT_IDLE


def identity(root: Path) -> str:
    """A digest of the code a daemon for ``root`` runs: reference/, dojo's part, the engine, the Python.

    Read from the files each time (a few dozen small files: about a millisecond), so a run
    always asks with the code as it is on disk now.
    """
    from .store import engine_versions

    dojo_root = Path(__file__).resolve().parents[1]
    sha = hashlib.sha256(json.dumps([sys.executable, str(dojo_root), engine_versions()], sort_keys=True).encode())
    files = sorted(Path(root, "reference").rglob("*.py"))
    for pattern in DOJO_FILES:
        files += sorted(dojo_root.glob(pattern))
    for path in files:
        with contextlib.suppress(OSError):
            sha.update(f"{path}\n".encode())
            sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()


@contextlib.contextmanager
def address(path: Path):
    """The address to bind or connect for the socket at ``path``.

    A Unix socket's address holds about 100 bytes, and a checkout deep in a temporary
    folder is longer: then the folder is opened and named through ``/proc/self/fd``.
    """
    if len(os.fsencode(str(path))) < MAX_ADDRESS:
        yield str(path)
        return
    descriptor = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{descriptor}/{path.name}"
    finally:
        os.close(descriptor)


def reply_to(connection: socket.socket, message: dict) -> None:
    with contextlib.suppress(OSError):
        connection.sendall(wire.dumps({"type": "reply", **message}))


class Daemon:
    """One checkout's reference daemon, from its side."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.identity = identity(root)
        self.idle = idle_seconds()
        self.started = time.time()
        self.served = 0
        self.last = time.monotonic()
        self.stopping = threading.Event()
        self.compute_lock = threading.Lock()  # Keras keeps global state: one call at a time
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.threads: list[threading.Thread] = []
        self.listener: socket.socket | None = None
        self.inode: tuple[int, int] | None = None

    @property
    def path(self) -> Path:
        return folder(self.root) / SOCKET_NAME

    def listen(self) -> None:
        """Replace whatever socket file is there (a dead daemon's: the lock says none lives) and listen."""
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_mask = os.umask(0o177)  # the socket is created 0600: no moment when others could connect
        try:
            with address(self.path) as where:
                listener.bind(where)
        finally:
            os.umask(old_mask)
        os.chmod(self.path, 0o600)
        listener.listen(16)
        stat = os.stat(self.path)
        self.listener, self.inode = listener, (stat.st_dev, stat.st_ino)

    def socket_is_mine(self) -> bool:
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self.inode

    def should_end(self) -> bool:
        if self.stopping.is_set() or not self.socket_is_mine():
            return True
        return self.active() == 0 and time.monotonic() - self.last > self.idle

    def active(self) -> int:
        """Conversations going on now."""
        self.threads = [thread for thread in self.threads if thread.is_alive()]
        return len(self.threads)

    def run(self) -> None:
        """Accept conversations until it is time to end; each runs in a thread of its own."""
        while not self.should_end():
            ready, _, _ = select.select([self.listener], [], [], TICK)
            if not ready or not self.slots.acquire(timeout=TICK):
                continue
            try:
                connection, _ = self.listener.accept()
            except OSError:
                self.slots.release()
                continue
            thread = threading.Thread(target=self.converse, args=(connection,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def converse(self, connection: socket.socket) -> None:
        """One conversation: check the peer, read one request, answer it, hang up."""
        from . import peers

        try:
            connection.settimeout(READ_TIMEOUT)
            why = peers.refusal(connection)
            if why is not None:
                reply_to(connection, {"refused": f"the reference daemon serves only its user's harness, not {why}"})
                return
            reply_to(connection, self.respond(self.read(connection)))
        finally:
            with contextlib.suppress(OSError):
                connection.close()
            self.last = time.monotonic()
            self.slots.release()

    def read(self, connection: socket.socket) -> dict | str:
        """The request, or why there is none (a phrase)."""
        with connection.makefile("rb") as stream:
            try:
                message = wire.read(stream, MAX_REQUEST)
            except wire.TooLarge:
                return f"a request of over {MAX_REQUEST >> 20} MiB"
            except (wire.EndOfStream, OSError):  # socket.timeout is an OSError
                return "no whole request arrived"
        return message if message is not None else "not a message"

    def respond(self, message: dict | str) -> dict:
        if isinstance(message, str):
            return {"raised": "RuntimeError", "message": f"bad reference request: {message}"}
        kind = message.get("type")
        if kind == "status":
            return self.status()
        if kind == "stop":
            self.stopping.set()
            return {"stopped": True, **self.status()}
        if kind != "ref":
            return {"raised": "RuntimeError", "message": f"bad reference request: no such request {kind!r}"}
        if self.stopping.is_set() or message.get("identity") != self.identity:
            self.stopping.set()  # code on disk changed since it started (or it is ending): a fresh one answers
            return {"stale": True}
        from .server import _apply_settings, answer

        with self.compute_lock:
            _apply_settings(message.get("settings"))
            reply = answer(message)
            self.served += 1
        return reply

    def status(self) -> dict:
        return {
            "pid": os.getpid(),
            "stopping": self.stopping.is_set(),
            "identity": self.identity,
            "up": time.time() - self.started,
            "served": self.served,
            "idle_timeout": self.idle,
        }

    def close(self) -> None:
        """Stop listening, remove the socket if it is still ours, finish the conversations going on."""
        if self.listener is not None:
            self.listener.close()
        if self.socket_is_mine():
            self.path.unlink(missing_ok=True)
        for thread in self.threads:  # each is bounded: a read timeout, then one computation
            thread.join()


#: The open lock file: kept until the process ends, whatever ends it.
_held = []


def _hold_lock(root: Path):
    """The daemon's lock (an open file), or None when another daemon of this checkout holds it."""
    import fcntl

    file = open(folder(root) / LOCK_NAME, "a+")
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        file.close()
        return None
    file.seek(0)
    file.truncate()
    file.write(json.dumps({"pid": os.getpid(), "started": time.time()}))
    file.flush()
    _held.append(file)
    return file


def main(root: Path, ready_fd: int) -> int:
    """Listen, say ``ready`` on ``ready_fd``, serve until the end; 0 also when another daemon already runs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is the run's, not ours
    # TensorFlow writes to the real stdout and stderr: both go to the log, the launcher set them so.
    lock = _hold_lock(root)
    daemon = Daemon(root)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stopping.set())
    with os.fdopen(ready_fd, "w") as ready:
        if lock is None:
            ready.write("running\n")  # another daemon won the race: the asker connects to that one
            return 0
        with contextlib.suppress(OSError):
            os.ftruncate(sys.stderr.fileno(), 0)  # the log is this daemon's now (opened for appending)
        daemon.listen()
        ready.write(f"ready {os.getpid()}\n")
    try:
        daemon.run()
    finally:
        daemon.close()
    return 0  # the lock stays held until the process is gone: `kata stop` waits for exactly that


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m dojo.refcache.daemon ROOT READY_FD")
    status = main(Path(sys.argv[1]), int(sys.argv[2]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # now: TensorFlow's teardown at exit takes seconds, and has nothing to save
