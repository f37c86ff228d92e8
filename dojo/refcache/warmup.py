"""Warm-up: compute the rest of the course's reference values before the learner gets there.

A kata's first wrong answer needs TensorFlow's values for it, and importing
TensorFlow takes seconds (tens of seconds on a busy laptop). So the learner's
very first ``pytest`` (the stubs, minutes before any answer) starts a
background process at low priority that computes them ahead: first the
current kata's values (the answer key's run of that kata's tests, ``pytest
--impl solutions --kata ID``), then the whole course in order (``--all``),
which calls every reference function with the tests' own inputs and so fills
the reference cache (``dojo/refcache/store.py``). The learner's first answer
then finds its values cached, and so do the katas after it.

* It never delays the learner's report: it starts after pytest has printed
  it, through a double fork (``python -c`` launches it in a new session and
  exits at once), so it is never anyone's zombie. What a run checks before
  starting it is cheap (a lock and some file times, :func:`looks_warm`); the
  full fingerprint is checked by the warm process itself.
* It never runs twice at once: the warm process holds an exclusive lock on
  ``.katas/warm.lock`` (``fcntl.flock``; the file holds its PID for humans).
  The kernel drops the lock when the process ends, however it ends, so a
  stale file from a killed warm-up never blocks the next one.
* It runs once per state of the course: ``.katas/reference-cache/warm.json``
  records a fingerprint of what the values depend on (reference engine, kata
  tests, test kit, answer key, TensorFlow/Keras/NumPy versions); it runs again
  only when that changes.
* Its output goes to ``.katas/warm.log``. ``KATAS_NO_WARMUP=1`` turns it off
  (the self-tests and CI do). ``kata warm`` runs the same in the foreground.

Run as ``python -m dojo.refcache.warmup --background ROOT [KATA_ID]`` by :func:`start_in_background`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..files import write_atomic
from ..paths import STATE_DIR

LOCK_NAME = "warm.lock"
LOG_NAME = "warm.log"
MARKER_NAME = "warm.json"
_RUN_ENVIRONMENT = {"KATAS_NO_WARMUP": "1", "KATAS_IN_PROCESS": "1"}
KATA_TIMEOUT = 900  # seconds per kata test: the warm-up runs at the lowest priority
FINGERPRINT_FILES = ("reference/*.py", "tests/katas/*.py", "dojo/testkit/*.py", "solutions/*.py", "curriculum/*.toml")

# The double fork: this one-liner starts the warm process in a new session and exits at once,
# so its parent (pytest) reaps it immediately and the warm process belongs to init.
_LAUNCHER = (
    "import subprocess, sys; subprocess.Popen(sys.argv[1:], start_new_session=True, "
    "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)"
)


def disabled() -> bool:
    return os.environ.get("KATAS_NO_WARMUP", "") not in ("", "0")


def state_dir(root: Path) -> Path:
    return Path(root) / STATE_DIR


def cache_folder(root: Path) -> Path:
    if os.environ.get("KATAS_REFERENCE_CACHE"):
        return Path(os.environ["KATAS_REFERENCE_CACHE"])
    return state_dir(root) / "reference-cache"


# ---------------------------------------------------------------- the lock


class WarmLock:
    """An exclusive, non-blocking lock on ``.katas/warm.lock`` that dies with its holder."""

    def __init__(self, root: Path):
        self.path = state_dir(root) / LOCK_NAME
        self._file = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")
        if not _try_lock(file):
            file.close()
            return False
        file.seek(0)
        file.truncate()
        file.write(json.dumps({"pid": os.getpid(), "started": time.time()}))
        file.flush()
        self._file = file
        return True

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()  # an empty file reads as "nobody"
            self._file.close()  # closing drops the lock
            self._file = None

    def holder(self) -> int | None:
        """The PID of the warm-up running now, or None (a stale file from a dead process is None)."""
        if self._file is not None:
            return os.getpid()
        try:
            file = open(self.path)
        except OSError:
            return None
        with file:
            if _try_lock(file):
                _unlock(file)
                return None
            try:
                return int(json.loads(file.read() or "{}").get("pid", 0)) or None
            except (ValueError, AttributeError):
                return -1  # held, by a process that has not written its PID yet


def _try_lock(file) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: fall back to the PID in the file
        return _try_pid_lock(file)
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock(file) -> None:
    with contextlib.suppress(ImportError, OSError):
        import fcntl

        fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def _try_pid_lock(file) -> bool:
    """Without flock: the lock is free when the file names no PID, or a PID that no longer runs."""
    file.seek(0)
    try:
        pid = int(json.loads(file.read() or "{}").get("pid", 0))
    except (ValueError, AttributeError):
        pid = 0
    if not pid or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True  # stale: its warm-up died
    except OSError:
        return False
    return False


# ----------------------------------------------------------- the fingerprint


def fingerprint(root: Path) -> str:
    """A digest of everything the course's reference values depend on."""
    from .store import engine_versions

    sha = hashlib.sha256(json.dumps(engine_versions(), sort_keys=True).encode())
    root = Path(root)
    for pattern in FINGERPRINT_FILES:
        for path in sorted(root.glob(pattern)):
            sha.update(str(path.relative_to(root)).encode())
            sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()


def _newest_input(root: Path) -> float:
    """The latest modification time among the fingerprint's files and their folders (a file added or
    removed changes its folder's time): stat calls only, no reading, no hashing."""
    root = Path(root)
    newest = 0.0
    for pattern in FINGERPRINT_FILES:
        folder = root / Path(pattern).parent
        with contextlib.suppress(OSError):
            newest = max(newest, folder.stat().st_mtime)
        for path in folder.glob(Path(pattern).name):
            with contextlib.suppress(OSError):
                newest = max(newest, path.stat().st_mtime)
    return newest


def looks_warm(root: Path) -> bool:
    """Cheap enough for every run: a warm-up finished after the last change to what its values depend on.

    A changed TensorFlow or NumPy is not seen here (the full :func:`is_warm` sees it, in the warm process).
    """
    try:
        finished = (cache_folder(root) / MARKER_NAME).stat().st_mtime
    except OSError:
        return False
    return finished > _newest_input(root)


def is_warm(root: Path) -> bool:
    try:
        marker = json.loads((cache_folder(root) / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("fingerprint") == fingerprint(root)


def _mark_warm(root: Path, code: int) -> None:
    folder = cache_folder(root)
    with contextlib.suppress(OSError):
        write_atomic(
            folder / MARKER_NAME,
            json.dumps({"fingerprint": fingerprint(root), "exit": code, "finished": time.time()}),
            durable=False,
        )


# ----------------------------------------------------------------- running


def pytest_args(root: Path, extra=()) -> list[str]:
    """Every kata test, run against the answer key: every expected value of the course."""
    root = Path(root)
    return [
        str(root / "tests" / "katas"),
        f"--rootdir={root}",
        "-c",
        str(root / "pyproject.toml"),
        f"--impl={root / 'solutions'}",
        "--all",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--kata-timeout={KATA_TIMEOUT}",
        *extra,
    ]


def run(root: Path, *, plugins=(), extra=(), lock: WarmLock | None = None, first: str | None = None) -> int | None:
    """Compute every reference value of the course in this process; None if a warm-up already runs.

    ``first``: a kata id whose values are computed before the rest (the learner's current kata).
    """
    lock = lock or WarmLock(root)
    if lock._file is None and not lock.acquire():
        return None
    # The warm-up's own run must not start another. It runs the answer key, which needs no forked
    # child per kata (the harness's isolation); in one process it also keeps every value in memory,
    # and `kata warm` can drive a progress bar from a thread (forking beside threads is unsafe).
    saved = {name: os.environ.get(name) for name in _RUN_ENVIRONMENT}
    os.environ.update(_RUN_ENVIRONMENT)
    try:
        import pytest

        if first:  # the kata the learner is on: its values are the ones the next run needs
            pytest.main(pytest_args(root, ["--kata", first, *extra]))
        code = int(pytest.main(pytest_args(root, extra), plugins=list(plugins)))
        if code in (0, 1):  # every test ran (one that fails with the answer key will not pass next time either)
            _mark_warm(root, code)
        return code
    finally:
        lock.release()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_in_background(root: Path, first: str | None = None) -> int:
    """The warm process: take the lock, lower the priority, send output to .katas/warm.log, run."""
    lock = WarmLock(root)
    if not lock.acquire():
        return 0  # another warm-up won the race
    with contextlib.suppress(AttributeError, OSError):
        os.nice(19)  # before TensorFlow starts its threads: they inherit it
    if is_warm(root):  # the full check (versions included), which a run leaves to this process
        lock.release()
        return 0
    log = open(state_dir(root) / LOG_NAME, "w")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    print(
        f"warm-up: pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: computing the reference "
        f"values of the whole course (pytest --impl solutions --all) at low priority",
        flush=True,
    )
    code = run(root, lock=lock, first=first)
    print(f"warm-up: finished {time.strftime('%Y-%m-%d %H:%M:%S')}, pytest exit code {code}", flush=True)
    log.flush()
    return 0


def has_course(root: Path) -> bool:
    """The checkout has what the warm-up runs: the answer key and the kata tests (a toy course may not)."""
    return (Path(root) / "solutions").is_dir() and (Path(root) / "tests" / "katas").is_dir()


def start_in_background(root: Path, first: str | None = None) -> str:
    """Start the warm-up unless it is off, done, or running: ``started``, ``disabled``, ``warm``, ``running``.

    ``first``: the kata whose values to compute before the rest of the course.
    """
    root = Path(root).resolve()
    if disabled() or not has_course(root):
        return "disabled"
    if WarmLock(root).holder() is not None:
        return "running"
    if looks_warm(root):
        return "warm"
    state_dir(root).mkdir(parents=True, exist_ok=True)
    # The warm process imports this checkout's dojo and reference, whatever the current folder.
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "dojo.refcache.warmup", "--background", str(root), *([first] if first else [])]
    if os.name == "nt":
        flags = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        subprocess.Popen(
            command,
            cwd=root,
            env=env,
            creationflags=flags,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    else:
        subprocess.run([sys.executable, "-c", _LAUNCHER, *command], cwd=root, env=env, check=False, timeout=30)
    return "started"


def stop(root: Path, patience: float = 600.0) -> int | None:
    """End the background warm-up (its whole session: it runs in one of its own) and wait until its
    lock is free; its pid, or None when none ran."""
    import signal

    lock = WarmLock(root)
    pid = lock.holder()
    if pid is None or pid <= 0 or pid == os.getpid():
        return None
    try:
        os.killpg(pid, signal.SIGTERM)  # started with start_new_session: its pid names its group
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + patience
    while lock.holder() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--background":
        sys.exit(_run_in_background(Path(sys.argv[2]), *sys.argv[3:]))
    sys.exit("usage: python -m dojo.refcache.warmup --background ROOT [KATA_ID]")
