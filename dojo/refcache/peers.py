"""Who is at the other end of a Unix socket: the reference daemon's test of every connection.

The daemon (:mod:`.daemon`) listens on a socket under ``.katas/`` that only
the learner's user can open (a 0700 folder, a 0600 socket). That is not
enough on its own, for two reasons:

* a file's mode says nothing about who *connects* through a descriptor passed
  on, so the kernel's own word is asked: ``SO_PEERCRED`` gives the process id
  and user id of the process that called ``connect``, and another user is
  refused;
* the learner's code runs as the learner too, in the kata's sandbox
  (:mod:`dojo.harness.sandbox`). Landlock confines what it writes, and on ABI
  6 the *abstract* sockets it may reach, but not ``connect`` to a socket that
  is a path. What the sandbox does leave is a mark that cannot be undone: it
  sets ``PR_SET_NO_NEW_PRIVS``, which every process it starts inherits for
  good. So a peer whose ``/proc/<pid>/status`` says ``NoNewPrivs: 1`` is
  refused, when the daemon's own says 0 (a daemon started in a place that
  sets it for everyone, a container for instance, cannot tell them apart and
  relies on the rest).

The peer is pinned by a pidfd (``SO_PEERPIDFD`` where Linux has it, else
``pidfd_open``): once its status is read, a signal 0 through the pidfd proves
the process is still the one that connected, not a new one that reused its
number.
"""

from __future__ import annotations

import os
import signal
import socket
import struct

#: ``SO_PEERPIDFD`` (Linux 6.5), which Python's socket module does not name yet.
SO_PEERPIDFD = 77


def credentials(connection: socket.socket) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` of the process that connected (``SO_PEERCRED``)."""
    data = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", data)
    return pid, uid, gid


def no_new_privs(pid: int | str = "self") -> bool | None:
    """The process's ``NoNewPrivs`` flag (True once the sandbox set it); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("NoNewPrivs:"):
                    return line.split(":", 1)[1].strip() == "1"
    except OSError:
        return None
    return None


def _pidfd(connection: socket.socket, pid: int) -> int | None:
    try:
        return int.from_bytes(connection.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD, 4), "little")
    except OSError:
        pass
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _still_there(pidfd: int | None) -> bool:
    if pidfd is None:
        return True  # no pidfds on this system: the number is all there is
    try:
        signal.pidfd_send_signal(pidfd, 0)
        return True
    except (AttributeError, OSError):
        return False


def refusal(connection: socket.socket) -> str | None:
    """Why this connection must not be served (one phrase), or None for the learner's own harness."""
    try:
        pid, uid, _ = credentials(connection)
    except OSError:
        return "its peer cannot be identified"
    if uid != os.getuid():
        return f"another user (uid {uid})"
    if no_new_privs() is True:
        return None  # this daemon runs with the flag itself: it cannot tell a sandboxed peer apart
    pidfd = _pidfd(connection, pid)
    try:
        flag = no_new_privs(pid)
        if flag is None or not _still_there(pidfd):
            return "a process that has gone, or whose status cannot be read"
        if flag:
            return "a sandboxed process (a kata's code)"
        return None
    finally:
        if pidfd is not None:
            os.close(pidfd)
