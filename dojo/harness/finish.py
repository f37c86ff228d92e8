"""How a run ends: its exit status, and the words for a run with nothing left to do.

pytest exits 5 ("no tests collected") when every selected test was left out.
A kata run leaves out the katas that passed before and whose code did not
change (:mod:`dojo.course.dependencies`), so a finished course, a finished
track (``--track 1``) or a finished ``--kata`` would read as "no tests" to a
CI step or a workshop script, though nothing is wrong. The rule here:

* nothing selected is unfinished -> exit 0, and the report says so in words
  ("All 105 katas pass. Nothing left to do: ...");
* the selection names no kata at all (``-k`` that matches none) -> exit 5,
  with one line saying why;
* anything else keeps pytest's own status (1 while a kata fails).
"""

from __future__ import annotations

import pytest

from ..course.curriculum import Curriculum, Kata
from ..words import plural

NO_TESTS = int(pytest.ExitCode.NO_TESTS_COLLECTED)


def exit_status(status: int, *, ran_any: bool, not_rerun: list[Kata]) -> int:
    """The run's exit status once pytest decided ``status``.

    ``ran_any``: some kata check ran. ``not_rerun``: katas left out because they
    passed before and their code did not change; they count as passing.
    """
    if int(status) == NO_TESTS and not ran_any and not_rerun:
        return int(pytest.ExitCode.OK)
    return int(status)


def nothing_left_text(curriculum: Curriculum, passing: list[Kata], done: set[str]) -> str:
    """What a run in which every selected kata passes says, for what it selected.

    ``passing``: the katas of this run (those that ran and those not rerun),
    ``done``: every kata done in the course so far.
    """
    total = len(curriculum.katas)
    if len(passing) == 1:
        kata = passing[0]
        return f"kata {kata.number} {kata.title} passes (the only kata in this run)."
    if len(passing) == total:
        return (
            f"All {total} katas pass. Nothing left to do: you built a deep learning library from scratch "
            f"(`pytest --recheck` runs every kata again)."
        )
    tracks = {kata.module for kata in passing}
    if len(tracks) == 1:
        track = curriculum.track(passing[0].module)
        if len(passing) == len(curriculum.in_track(track)):
            left = total - len(done)
            rest = (
                f"{left} kata{'s' if left != 1 else ''} of the course {'are' if left != 1 else 'is'} not done yet: "
                f"plain `pytest` shows the next one"
                if left
                else "the whole course is done"
            )
            return (
                f"All {len(passing)} katas of track {track.number} {track.name} pass. Nothing left to do here: {rest}."
            )
    return f"All {len(passing)} katas in this run pass."


def no_kata_selected_text(deselected: int, keyword: str, marks: str) -> str:
    """One line for a run whose selection left out every kata (exit 5)."""
    how = " and ".join(
        part for part in (f"-k {keyword!r}" if keyword else "", f"-m {marks!r}" if marks else "") if part
    )
    return (
        f"No kata in this run: {how or 'the selection'} left out {'all ' if deselected != 1 else ''}{plural(deselected, 'kata check')}. "
        f"`kata list` shows the katas; `pytest --kata 2.4` runs one."
    )
