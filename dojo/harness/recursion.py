"""A learner's runaway recursion is reported in a moment, not after the kata's whole time limit.

A kata that raises the recursion limit (``sys.setrecursionlimit(10**6)``) and
then recurses for ever ends in a RecursionError whose traceback holds a million
frames. pytest walks and formats every one of them (reading the source of each)
before the harness can say what happened: minutes of CPU, so the kata used to
run out of time and the card blamed "a loop that never ends". Only the frames
nearest the check are needed to name the learner's function and line, so the
traceback is cut before anyone reads it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: Traceback entries kept, from the check's call inwards: pytest's and the check's own frames, then
#: the learner's first calls (the recursion repeats them; the card names the learner's deepest kept line).
KEPT_FRAMES = 100


@contextlib.contextmanager
def short_tracebacks() -> Iterator[None]:
    """Let a RecursionError raised inside the block leave it with at most :data:`KEPT_FRAMES` entries."""
    try:
        yield
    except RecursionError as error:
        cut(error)
        raise


def cut(error: BaseException, keep: int = KEPT_FRAMES) -> None:
    """Drop the traceback entries of ``error`` after the first ``keep`` (the frames they held are freed)."""
    entry = error.__traceback__
    for _ in range(keep - 1):
        if entry is None:
            return
        entry = entry.tb_next
    if entry is not None:
        entry.tb_next = None
