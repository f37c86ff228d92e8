"""The pytest side of the reference cache (``dojo/refcache/store.py``): ``--fresh-reference`` and the warm-up.

* ``--fresh-reference`` (or ``KATAS_FRESH_REFERENCE=1``): every expected value
  is recomputed live by TensorFlow and its cache entry rewritten; the run says
  so in one line.
* After every run on the learner's own ``katas/`` (the very first, on the
  stubs, included) the background warm-up (:mod:`dojo.refcache.warmup`) is
  started unless it runs or is done: the current kata's values first, then the
  rest of the course. It starts once the report is printed and prints nothing.

This module imports neither NumPy nor the reference engine: a run on fresh
stubs pays nothing for it.
"""

from __future__ import annotations

import os
import subprocess

import pytest

FRESH_ENV = "KATAS_FRESH_REFERENCE"
FRESH_LINE = (
    "--fresh-reference: every expected value is computed live by TensorFlow now, "
    "and its entry in the reference cache is rewritten"
)

_saved_env = pytest.StashKey[object]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("katas", "Neural Katas").addoption(
        "--fresh-reference",
        action="store_true",
        dest="fresh_reference",
        help=f"recompute every expected value live with TensorFlow and refresh the reference cache "
        f"(also ${FRESH_ENV}=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("fresh_reference", False):
        config.stash[_saved_env] = os.environ.get(FRESH_ENV)
        os.environ[FRESH_ENV] = "1"  # read by dojo/refcache/store.py, inherited by xdist workers


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get(FRESH_ENV, "") not in ("", "0") and not hasattr(session.config, "workerinput"):
        terminal = session.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(FRESH_LINE, cyan=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _saved_env in config.stash:  # a nested session must not leave the outer one in fresh mode
        saved = config.stash[_saved_env]
        if saved is None:
            os.environ.pop(FRESH_ENV, None)
        else:
            os.environ[FRESH_ENV] = saved
    _maybe_warm_up(config)


def _maybe_warm_up(config: pytest.Config) -> None:
    """Start the background warm-up after any learner's run, the very first (on stubs) included.

    Nothing is printed and nothing waits: the report is already on screen, and what decides is cheap
    (``warmup.start_in_background``: a lock and some file times; the warm process checks the rest).
    """
    plugin = config.pluginmanager.get_plugin("neural-katas")
    if plugin is None or not getattr(plugin, "recording", False) or hasattr(config, "workerinput"):
        return  # only the learner's own runs (not --impl solutions, not the self-tests' copies)
    if not getattr(plugin, "groups", None):
        # No kata check in this run: a contributor's `pytest tests/selftest`, or a course whose every
        # kata passed before and was not rerun. Neither asks for a value the warm-up would bring.
        return
    from . import warmup

    if warmup.disabled():
        return
    current = getattr(getattr(plugin, "progress", None), "current", None)
    try:
        warmup.start_in_background(plugin.root, first=current if isinstance(current, str) else None)
    except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as error:
        # A warm-up is a bonus: never fail the run for it.
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(f"(reference warm-up not started: {error})", yellow=True)
