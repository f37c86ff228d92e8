"""Check one kata from a notebook: the harness's own nested pytest session, nothing else.

:func:`check_kata` runs the kata's tests on the home's ``katas/`` folder through
:func:`dojo.harness.verdicts.run_katas`, the same nested session the mutation
self-tests and the benchmark gate use: the kata's checks run in the harness's
forked, sandboxed child (time and memory limits, globals restored), expected
values come from the reference cache, failures become the harness's messages
(with the named mistake), and because the folder is the home's ``katas/`` the
harness records the run in ``.katas/progress.json`` itself (state, failing
streak, so the hints rise as they do under ``pytest``; the room post, when the
home joined one). The nested session's terminal report is not shown: the card
(:mod:`dojo.notebook.card`) says the same in the notebook.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..course.curriculum import Kata
from ..course.implementation import Implementation
from ..course.progress import Progress
from ..harness import outcomes
from ..harness.report import KataSummary
from ..harness.verdicts import run_katas


@dataclass
class Checked:
    """What the harness said about one kata, and where the learner now stands."""

    summary: KataSummary
    mistake: str | None
    newly_passed: bool
    hint_level: int
    streak: int
    done: set[str] = field(default_factory=set)
    room_lines: list[str] = field(default_factory=list)


class _Observer:
    """Reads the harness's verdict after it recorded the run (trylast: after the plugin's own hook)."""

    def __init__(self, kata_id: str):
        self.kata_id = kata_id
        self.summary: KataSummary | None = None
        self.mistake: str | None = None
        self.newly_passed = False

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        plugin = session.config.pluginmanager.get_plugin("neural-katas")
        if plugin is None:
            return
        self.summary = plugin.summary(self.kata_id)
        worst = max(
            plugin.results.outcomes.get(self.kata_id, []), key=lambda r: outcomes.SEVERITY[r.state], default=None
        )
        self.mistake = worst.mistake if worst is not None else None
        self.newly_passed = any(kata.id == self.kata_id for kata in plugin.newly_passed)


def check_kata(home: Path, kata: Kata) -> Checked:
    """Run ``kata``'s tests on ``home/katas`` and read the verdict and the stored progress."""
    observer = _Observer(kata.id)
    printed = io.StringIO()
    # The nested session's own report goes to a buffer: the card shows it in the notebook.
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), _kata_modules_forgotten(home):
        run_katas(home, home / "katas", [kata.id], observers=(observer,))
    if observer.summary is None:
        raise RuntimeError(f"the harness gave no verdict on {kata.id}: {printed.getvalue()[-400:]}")
    progress = Progress.load(home, say=None)
    curriculum_done = {kid for kid, entry in progress.katas.items() if entry.get("state") in _DONE}
    entry = progress.entry(kata.id)
    return Checked(
        summary=observer.summary,
        mistake=observer.mistake,
        newly_passed=observer.newly_passed,
        hint_level=progress.hint_level(kata),
        streak=int(entry.get("streak", 0)),
        done=curriculum_done,
        room_lines=[line for line in printed.getvalue().splitlines() if line.startswith("room")],
    )


_DONE = (outcomes.PASSED, outcomes.SKIPPED)


@contextlib.contextmanager
def _kata_modules_forgotten(home: Path):
    """The learner's modules are imported afresh by every check (and by the notebook after one).

    The kata's checks import ``katas/`` in the forked child, but where the child
    cannot fork (TensorFlow loaded in the kernel) they run here, and a module
    cached from the previous check would hide the cell just written. The package
    itself stays: a notebook's relative imports (``from .activations import sigmoid``)
    resolve through it (:meth:`dojo.notebook.session.Session.namespace`).
    """
    forget = Implementation(home / "katas").forget_modules

    forget()
    try:
        yield
    finally:
        forget()
