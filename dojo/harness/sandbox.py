"""Landlock: the kata's child may write only into a folder of its own.

The kata's child runs the learner's code, and that code has the learner's
rights: without a sandbox it could rewrite the reference cache (and pass with
a wrong answer), erase ``katas/``, or write requests into the reference
server's stdin through ``/proc/<pid>/fd/0``. Landlock (Linux 5.13 and newer)
lets an unprivileged process give up rights for itself and every process it
starts, for good. Before any learner code runs, the child:

* sets ``PR_SET_NO_NEW_PRIVS`` (no set-uid program can hand the rights back;
  Landlock requires it of an unprivileged process);
* *handles* every right that writes to the file system (write, truncate,
  create, remove, rename across folders) and grants them only beneath the
  folders it is given (its temporary folder, the check's picture folders) and
  on ``/dev/null``; reading and running programs stay allowed everywhere;
* on ABI 6 and newer, scopes signals and abstract Unix sockets: it cannot
  signal, or connect to, a process outside its sandbox (the harness, the
  reference daemon, the learner's shell).

Landlock also forbids a sandboxed process to trace a process outside its
domain, and ``/proc/<pid>/fd`` and ``/proc/<pid>/mem`` need that right: the
reference engine's pipes are out of reach on every ABI. What Landlock does
not confine on any ABI is ``connect`` to a Unix socket that is a path, such
as the reference daemon's: the daemon refuses a peer with ``NoNewPrivs``
set, which this sandbox sets (:mod:`dojo.refcache.peers`).

This is a small ctypes layer of the three system calls (the PyPI ``landlock``
package is a pre-release without ABI 6's scopes). The rights and structures
are those of ``linux/landlock.h``; the system call numbers are the same on
every architecture.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable
from functools import cache

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Rights on files (a rule on a file may grant only these) ...
WRITE_FILE = 1 << 1
TRUNCATE = 1 << 14  # ABI 3
# ... and on folders.
REMOVE_DIR, REMOVE_FILE = 1 << 4, 1 << 5
MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK = 1 << 6, 1 << 7, 1 << 8, 1 << 9
MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 10, 1 << 11, 1 << 12
REFER = 1 << 13  # ABI 2: rename or link into another folder

#: Every right that changes the file system, and the ABI that introduced it.
WRITE_RIGHTS = {
    WRITE_FILE: 1,
    REMOVE_DIR: 1,
    REMOVE_FILE: 1,
    MAKE_CHAR: 1,
    MAKE_DIR: 1,
    MAKE_REG: 1,
    MAKE_SOCK: 1,
    MAKE_FIFO: 1,
    MAKE_BLOCK: 1,
    MAKE_SYM: 1,
    REFER: 2,
    TRUNCATE: 3,
}
FILE_RIGHTS = WRITE_FILE | TRUNCATE

SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6
SCOPES_SINCE = 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class SandboxError(OSError):
    """Landlock is there but refused to confine the process."""


@cache
def _libc():
    return ctypes.CDLL(None, use_errno=True)


@cache
def abi() -> int:
    """The Landlock ABI this kernel offers: 0 where there is none (another OS, an old kernel, turned off)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def disabled() -> bool:
    """``KATAS_NO_SANDBOX=1`` turns the sandbox off (to measure its cost, or where it gets in the way)."""
    return os.environ.get("KATAS_NO_SANDBOX", "") not in ("", "0")


def missing_line() -> str | None:
    """The one line a run prints where the child cannot be sandboxed; None where it can."""
    if disabled():
        return "note: the sandbox is off (KATAS_NO_SANDBOX): your code can write anywhere you can"
    if abi() == 0:
        return (
            "note: no sandbox here (it needs Linux 5.13+ with Landlock): your code runs with your own rights, "
            "so keep it from writing outside its kata"
        )
    return None


def handled_rights(version: int) -> int:
    """The write rights Landlock of this ABI knows: all of them are handled (denied unless a rule grants them)."""
    rights = 0
    for right, since in WRITE_RIGHTS.items():
        if version >= since:
            rights |= right
    return rights


def _call(number: int, *args) -> int:
    result = _libc().syscall(number, *args)
    if result < 0:
        error = ctypes.get_errno()
        raise SandboxError(error, f"Landlock refused ({os.strerror(error)})")
    return result


def _allow(ruleset: int, path: str, rights: int) -> None:
    """Grant ``rights`` beneath ``path`` (a folder) or on it (a file); a path that is not there is skipped."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        is_folder = os.path.isdir(path)
        rule = _PathBeneathAttr(allowed_access=rights if is_folder else rights & FILE_RIGHTS, parent_fd=fd)
        _call(
            _ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)
        )
    finally:
        os.close(fd)


def confine(writable: Iterable[str]) -> int:
    """Confine this process (and all it starts) to writing beneath ``writable`` and ``/dev/null``.

    Returns the ABI used; 0 (and nothing done) where Landlock is missing or the sandbox is off.
    Call it in a process with one thread: Landlock confines the calling thread.
    """
    version = 0 if disabled() else abi()
    if version == 0:
        return 0
    rights = handled_rights(version)
    scopes = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET if version >= SCOPES_SINCE else 0
    attr = _RulesetAttr(handled_access_fs=rights, handled_access_net=0, scoped=scopes)
    ruleset = _call(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    try:
        for path in (*writable, os.devnull):
            _allow(ruleset, str(path), rights)
        if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise SandboxError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        _call(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return version
