"""Hooks the harness calls, for parts of the project that sit above it.

The harness must not import the room (the room is built on the harness), yet a
run's end is the room's cue to post. So the harness announces the end of a run
as a pytest hook, and whoever cares implements it: the room's pytest plugin
(:mod:`dojo.room.plugin`) does. With no implementation registered, the call
does nothing.
"""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_katas_finished(root, curriculum, progress, results, say) -> None:
    """A run on the learner's own ``katas/`` has printed its report.

    Args:
        root: the checkout (a ``Path``).
        curriculum: the course (:class:`dojo.course.curriculum.Curriculum`).
        progress: the learner's progress after this run.
        results: kata id -> the list of outcomes this run recorded for it.
        say: writes one line to the terminal (the report's own writer).

    Implementations must never raise and never wait long: the learner's run
    is over and its exit status is already decided.
    """
