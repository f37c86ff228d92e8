"""Attempts, not reruns: when a failing run brings a kata's next hint closer.

The card shows the next hint by itself every :data:`ATTEMPTS_PER_HINT`
attempts. An *attempt* is a failing run of code that differs from the code of
the last counted attempt: the kata's digest (:mod:`dojo.course.dependencies`:
the learner's definitions it depends on, compared as code, so a comment or a
blank line is no new attempt). Rerunning the same wrong code, or a ``kata
watch`` that reruns on every save, never advances a hint; ``kata hint`` still
shows the next one whenever the learner asks.

Progress keeps, per kata, ``streak`` (attempts since it last passed or started
over) and ``attempt_digest`` (the code of the last counted attempt).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..states import ERROR, FAILING

#: Attempts per automatic step of the hints.
ATTEMPTS_PER_HINT = 3


def code_digest(kata_digest: str | None, path: Path) -> str:
    """What identifies one attempt's code: the kata's digest, or, where it cannot be computed (a file
    that does not parse), the bytes of the kata's file."""
    if kata_digest:
        return kata_digest
    try:
        data = Path(path).read_bytes()
    except OSError:
        data = b""
    return "file:" + hashlib.sha256(data).hexdigest()


def count_run(entry: dict, state: str, attempt: str | None) -> None:
    """Update ``entry``'s ``streak`` for one run in ``state`` of code ``attempt`` (None: count it)."""
    if state not in (FAILING, ERROR):
        entry["streak"] = 0
        entry.pop("attempt_digest", None)
        return
    if attempt is not None and attempt == entry.get("attempt_digest"):
        return  # the same code as the last counted attempt: a rerun, not an attempt
    entry["streak"] = int(entry.get("streak", 0)) + 1
    if attempt is not None:
        entry["attempt_digest"] = attempt


def automatic_level(streak: int) -> int:
    """The hint index that ``streak`` attempts have reached by themselves."""
    return int(streak) // ATTEMPTS_PER_HINT


def attempts_until_next_hint(streak: int, shown: int) -> int:
    """How many more attempts bring the hint after the one shown (index ``shown``) by themselves."""
    return max(1, (shown + 1) * ATTEMPTS_PER_HINT - int(streak))
