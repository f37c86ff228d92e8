"""The pytest side of the reference cache (``dojo/refcache/store.py``): ``--fresh-reference`` and the warm-up.

* ``--fresh-reference`` (or ``KATAS_FRESH_REFERENCE=1``): every expected value
  is recomputed live by TensorFlow and its cache entry rewritten; the run says
  so in one line.
* After a run on the learner's own ``katas/`` that had to compute a reference
  value (so it imported TensorFlow), the rest of the course is computed in the
  background (:mod:`dojo.refcache.warmup`), once the report is printed.

This module imports neither NumPy nor the reference engine: a run on fresh
stubs pays nothing for it.
"""

from __future__ import annotations

import os
import time

import pytest

FRESH_ENV = "KATAS_FRESH_REFERENCE"
FRESH_LINE = (
    "--fresh-reference: every expected value is computed live by TensorFlow now, "
    "and its entry in the reference cache is rewritten"
)

_started = pytest.StashKey[float]()
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
    config.stash[_started] = time.time()
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
    """Start the background warm-up after a learner's run that computed a reference value live."""
    plugin = config.pluginmanager.get_plugin("neural-katas")
    if plugin is None or not getattr(plugin, "recording", False) or hasattr(config, "workerinput"):
        return  # only the learner's own runs (not --impl solutions, not the self-tests' copies)
    from . import warmup

    if warmup.disabled():
        return
    from .store import COMPUTED_STAMP, cache_folder

    stamp = cache_folder() / COMPUTED_STAMP
    try:
        computed = stamp.stat().st_mtime >= config.stash[_started] - 1
    except (OSError, KeyError):
        computed = False
    if computed:
        try:
            warmup.start_in_background(plugin.root)
        except (OSError, ValueError, RuntimeError) as error:  # a warm-up is a bonus: never fail the run for it
            terminal = config.pluginmanager.get_plugin("terminalreporter")
            if terminal is not None:
                terminal.write_line(f"(reference warm-up not started: {error})", yellow=True)
