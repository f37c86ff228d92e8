"""Nothing the kata started outlives it: its whole process tree ends with it.

Learner code may fork (50 children that sleep), start a program in a session
of its own (``Popen(..., start_new_session=True)``) or leave the compiler of
a GPU kernel running when the time limit ends the kata. Killing the kata's
child alone leaves all of those behind, holding the pipe the verdict comes on
and the CPU.

So while a kata runs the harness is a *child subreaper*
(``PR_SET_CHILD_SUBREAPER``): a process whose parent dies is handed to the
harness instead of to init, new session or not. After each kata, :func:`end_tree` kills the kata's child and
every process below it, then every process handed to the harness meanwhile
(the orphans), except the harness's own (the reference engine or daemon, started
by the harness itself). It repeats until a scan finds none: a process that forks
while it is being killed leaves an orphan that the next scan finds.

The tree is read from ``/proc/<pid>/stat`` (parent, state, command name);
where ``/proc`` or the prctl does not exist, the child's process group is
killed instead, which is what reaches forked children on any POSIX system.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 36, 37
#: Command names of a compiler at work (g++ runs cc1plus, then as and collect2/ld).
COMPILERS = frozenset({"g++", "gcc", "c++", "cc", "cc1", "cc1plus", "clang", "clang++", "as", "ld", "collect2"})
#: Scans before giving up on a tree that keeps growing (a fork bomb faster than SIGKILL).
MAX_ROUNDS = 200
#: Seconds :func:`end_tree` may take in all (SIGKILL is immediate unless a process is stuck in the kernel).
PATIENCE = 10.0


@dataclass(frozen=True)
class Process:
    pid: int
    parent: int
    state: str
    name: str


def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


@contextmanager
def subreaper() -> Iterator[bool]:
    """This process is the subreaper of its descendants inside the block (True if Linux allows it).

    Only while a kata runs: a process the harness starts on purpose with a double fork (the
    background warm-up) must still go to init, and be reaped there, when no kata is running.
    """
    prctl = _prctl()
    before = ctypes.c_int(0)
    if prctl is None or prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(before), 0, 0, 0) != 0:
        yield False
        return
    became = prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield became
    finally:
        prctl(_PR_SET_CHILD_SUBREAPER, before.value, 0, 0, 0)


def processes() -> dict[int, Process]:
    """Every process this one can see, by pid (empty where ``/proc`` is missing)."""
    found: dict[int, Process] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            continue  # it ended meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
        head, _, tail = text.rpartition(")")
        fields = tail.split()
        if len(fields) < 2:
            continue
        found[int(name)] = Process(int(name), int(fields[1]), fields[0], head.partition("(")[2])
    return found


def below(root: int, table: dict[int, Process]) -> list[Process]:
    """The processes under ``root`` (its children, theirs, ...), nearest first."""
    children: dict[int, list[Process]] = {}
    for process in table.values():
        children.setdefault(process.parent, []).append(process)
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child.pid)
    return found


def own_children() -> set[int]:
    """The pids of this process's children now (the harness's own: taken before a kata starts)."""
    me = os.getpid()
    return {p.pid for p in processes().values() if p.parent == me}


def compiling(root: int) -> str | None:
    """The name of a compiler running under ``root`` (a GPU kernel still compiling), or None."""
    for process in below(root, processes()):
        if process.name in COMPILERS and process.state != "Z":
            return process.name
    return None


def end_tree(child: int, keep: set[int]) -> int:
    """Kill ``child``, everything below it and every orphan handed to this process not in ``keep``; reap them.

    Returns how many processes other than ``child`` were ended (the kata's strays).
    """
    me = os.getpid()
    _kill(-child)  # the child's process group: forked children, even where /proc is missing
    ended: set[int] = set()
    deadline = time.monotonic() + PATIENCE
    for _ in range(MAX_ROUNDS):
        if time.monotonic() > deadline:  # a process that will not die (stuck in the kernel): leave it
            break
        table = processes()
        strays = [p for p in table.values() if p.parent == me and p.pid not in keep and p.pid != child]
        targets = {p.pid for p in below(child, table)} | {p.pid for p in strays}
        for stray in strays:
            targets |= {p.pid for p in below(stray.pid, table)}
        targets -= keep
        if child in table and table[child].parent == me:  # not reaped yet: still ours to kill
            targets.add(child)
        for pid in targets:
            if table[pid].state != "Z":
                _kill(pid)
        for pid in targets:
            if table[pid].parent == me:
                _reap(pid, deadline)
        ended |= targets
        if not targets:
            break
    return len(ended - {child})


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _reap(pid: int, deadline: float) -> None:
    """Wait for a killed child of ours (SIGKILL takes effect at once, but not in the same instant)."""
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not ours, or already reaped
        except OSError:
            return
        if done or time.monotonic() > deadline:
            return
        time.sleep(0.001)
