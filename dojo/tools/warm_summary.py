"""What ``kata warm`` says when it ends: finished, failed, or interrupted with Ctrl-C.

An interrupted warm-up is not a failure and not a finished cache: the values
it computed are kept (each is stored as soon as it is computed), and every
other value is computed the first time a kata needs it. The summary says
exactly that, with the counts this run added, never "the next runs need no
TensorFlow" for a cache that is not complete.
"""

from __future__ import annotations

import pytest

from ..words import plural

INTERRUPTED = int(pytest.ExitCode.INTERRUPTED)


def summary(before: tuple[int, int, int], after: tuple[int, int, int], seconds: float, interrupted: bool) -> str:
    """One line: what the run computed; ``before``/``after`` are the store's (entries, arrays, bytes)."""
    added = max(after[0] - before[0], 0)
    held = f"the cache holds {plural(after[0], 'value')} ({plural(after[1], 'array')}, {after[2] / 1e6:.1f} MB)"
    if interrupted:
        return (
            f"Interrupted (Ctrl-C) after {seconds:.0f} s: {plural(added, 'new value')} computed "
            f"and kept, {held}. The rest will be computed when a kata needs it (or run `kata warm` again "
            f"to finish now)."
        )
    return (
        f"Reference cache: {plural(added, 'new value')} in {seconds:.0f} s; {held}; the next runs need no TensorFlow."
    )
