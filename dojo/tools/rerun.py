"""Rerun pytest for ``kata watch`` from a process that has pytest and NumPy loaded already.

A fresh ``python -m pytest`` spends about half of a quick rerun starting Python
and importing pytest, its plugins, NumPy and the harness. ``kata watch`` reruns
on every save, so it imports those once and forks a copy of itself for each
run: the copy runs ``pytest.main`` and exits with pytest's status. The watcher
itself never imports the learner's code or the kata tests (each copy does, so
every rerun reads the files as saved), and never TensorFlow. Where there is no
``fork`` (Windows), each run is a fresh ``python -m pytest``, as before.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

#: What every run imports before it reads a kata: loaded once, by the watcher. Never a module that
#: pytest rewrites the asserts of (the harness's plugin module itself, named by conftest.py, and the
#: plugins of other packages, found by entry point): imported before pytest starts, pytest could not
#: rewrite them and would warn "Module already imported so cannot be rewritten" on every run.
PRELOADED = (
    "pytest",
    "numpy",
    "dojo.course.dependencies",
    "dojo.course.progress",
    "dojo.harness.isolation",
    "dojo.harness.report",
)

#: After Ctrl-C, how long a run has to print its report before it is stopped.
INTERRUPT_GRACE = 5.0


class WarmPytest:
    """Runs ``pytest ARGS`` in ``root``, forked from this process where it can be."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.forks = hasattr(os, "fork")
        self._preloaded = False

    def run(self, *args: str) -> int:
        """pytest's exit status (negative: the signal that ended the run)."""
        if not self.forks:
            return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=self.root).returncode
        self._preload()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:  # the copy: run pytest as `python -m pytest` in the checkout would, then exit
            _exit(_run_pytest(self.root, args))
        return _wait(pid)

    def _preload(self) -> None:
        if self._preloaded:
            return
        self._preloaded = True
        for name in PRELOADED:
            with contextlib.suppress(Exception):
                importlib.import_module(name)


def _run_pytest(root: Path, args) -> int:
    code = 1
    try:
        os.chdir(root)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))  # as `python -m pytest` in the checkout has it
        import pytest

        code = int(pytest.main(list(args)))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    return code


def _exit(code: int) -> None:
    os._exit(code if 0 <= code < 256 else 1)


def _wait(pid: int) -> int:
    try:
        _, status = os.waitpid(pid, 0)
    except KeyboardInterrupt:
        # Ctrl-C reached the run too (one process group): let it print its report, then stop it.
        deadline = time.monotonic() + INTERRUPT_GRACE
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            time.sleep(0.05)
        else:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        raise
    return os.waitstatus_to_exitcode(status)
