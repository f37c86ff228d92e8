"""A per-kata time limit, so that a learner's infinite loop ends with a message.

It uses ``SIGALRM``: the signal handler raises :class:`KataTimeout` in the
main thread, in the middle of whatever Python loop the learner wrote. Where
``SIGALRM`` does not exist (Windows) or tests do not run on the main thread,
the limit is not enforced; nothing else changes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class KataTimeout(BaseException):
    """The kata ran longer than its time limit.

    A BaseException, like KeyboardInterrupt, so that a learner's
    ``except Exception:`` inside the loop cannot swallow it.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(timeout_message(seconds))


def timeout_message(seconds: float, where: str = "") -> str:
    """What a learner reads when a kata ran out of time, in a forked child or in this process alike.

    ``where`` is the learner's line that was running ('katas/neuron.py, line 12, in
    weighted_sum' and the source line), or empty when no frame of theirs was on the stack.
    """
    at = f"\n  it was running {where}" if where else ""
    return (
        f"stopped after {seconds:g} s. Is there a loop that never ends (a `while` whose condition "
        f"never changes, an index that is never incremented)? If your code is only slow, vectorise it "
        f"with NumPy (or give more time: --kata-timeout SECONDS).{at}"
    )


def compiling_message(seconds: float, compiler: str) -> str:
    """What a learner reads when the time ran out while a GPU kernel was still compiling (not a loop)."""
    return (
        f"stopped after {seconds:g} s while your kernel was still compiling ({compiler} was running), "
        f"so none of its checks ran: a first compile is slow on a busy machine. Give it more time "
        f"(--kata-timeout SECONDS); a kernel that compiled once is kept and not compiled again."
    )


def supported() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise KataTimeout in the enclosed block after ``seconds`` (0 means no limit)."""
    if not seconds or seconds <= 0 or not supported():
        yield
        return

    def on_alarm(signum, frame):
        raise KataTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    # After the first alarm, fire again every second: a bare `except:` in the
    # learner's loop may swallow one, but not all of them.
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class LearnerExit(BaseException):
    """The learner's code called ``os._exit`` in the harness's own process (the in-process fallback).

    In a kata's child, ``os._exit`` ends only the child and the parent reports it. Without a child it
    would end pytest itself, with whatever status the learner passed (0 looks like success), so there
    it raises this instead. A BaseException, so that ``except Exception:`` does not swallow it.
    """

    def __init__(self, status):
        self.status = status
        super().__init__(
            f"your code called os._exit({status!r}), which would end pytest itself: a kata must return its "
            f"result, not exit; the kata's other checks did not run"
        )


@contextmanager
def exits_raise() -> Iterator[None]:
    """Within the block, ``os._exit(n)`` raises :class:`LearnerExit` instead of ending the process."""
    import os

    real_exit = os._exit

    def refused_exit(status=0):
        raise LearnerExit(status)

    os._exit = refused_exit
    try:
        yield
    finally:
        os._exit = real_exit
