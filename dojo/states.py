"""The states a kata can be in: the one vocabulary the plugin, the progress file and the tools share.

From best to worst:

* ``passed``      every check of the kata passed;
* ``skipped``     the kata needs something this machine lacks;
* ``not started`` the stub still raises ``NotImplementedError``;
* ``failing``     a check failed (a wrong value, shape, a mutated input, ...);
* ``error``       the learner's code raised, did not import, crashed or ran too long.

``KataState`` is a ``str`` enum, so a state compares equal to the plain string
stored in ``.katas/progress.json`` and in exports.
"""

from __future__ import annotations

from enum import StrEnum


class KataState(StrEnum):
    PASSED = "passed"
    SKIPPED = "skipped"
    NOT_STARTED = "not started"
    FAILING = "failing"
    ERROR = "error"


PASSED = KataState.PASSED
SKIPPED = KataState.SKIPPED
NOT_STARTED = KataState.NOT_STARTED
FAILING = KataState.FAILING
ERROR = KataState.ERROR

#: Worse states win when a kata's tests disagree.
SEVERITY = {PASSED: 0, SKIPPED: 1, NOT_STARTED: 2, FAILING: 3, ERROR: 4}

#: States that count as done in progress bars and for "what is next".
DONE_STATES = (PASSED, SKIPPED)

#: Markers that mean "not run at all in this session".
NOT_RUN = "not run"
