"""The reference engine in a process of its own, so that the harness never imports TensorFlow.

The harness forks a child for every kata (:mod:`dojo.harness.isolation`), and a
fork of a process in which TensorFlow's threads run can crash in the child and
blame correct code. So when a check asks for an expected value that the
reference cache does not hold yet, the harness does not compute it itself: it
hands the call to another process, a plain new Python process (started, not
forked) that imports TensorFlow, computes the value, stores it in the
reference cache and answers. The harness's process stays free of TensorFlow
for the whole run, and every kata keeps its child, cold cache or warm.

Which process: the checkout's reference daemon (:mod:`.daemon`, reached by
:mod:`.daemon_client`), which outlives the run so that the next run's miss
finds TensorFlow imported already. Where the daemon cannot serve (not Linux,
``KATAS_REFERENCE_IDLE=0``, ``.katas/`` not writable), an engine of this run's
own, defined here: started on the first miss, stopped when the process exits
(or its stdin closes), talking over its stdin and stdout.

Either way the conversation is the child's own wire format (:mod:`dojo.wire`),
one message each way (a JSON line, then its arrays' bytes): a request ``{"module", "function", "args"}``,
a reply ``{"value"}``, ``{"raised", "message"}`` or ``{"not_data"}``. The
run's own engine's stdout carries replies only: TensorFlow's start-up chatter
goes to a log file, whose last line is quoted if the engine dies.

Both serve only functions of the trusted ``reference`` package (:func:`answer`).
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .. import wire

#: The settings of the reference cache, sent with every request: the server applies the harness's
#: values of the moment (a nested session or a self-test may change them after the server started).
CACHE_SETTINGS = ("KATAS_REFERENCE_CACHE", "KATAS_FRESH_REFERENCE")
#: The longest request or reply either side reads (the same bound as a kata child's messages).
MAX_REPLY = 256 << 20

_lock = threading.Lock()
_server: _Server | None = None


class _Server:
    """The running server process, from the harness's side."""

    command = (sys.executable, "-m", "dojo.refcache.server")

    def __init__(self, root: Path):
        self.log = tempfile.TemporaryFile()
        environment = dict(os.environ)
        # The server imports the very `reference` package (and `dojo`) that this process uses.
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(root), str(Path(__file__).resolve().parents[2])]
            + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else [])
        )
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self.process = subprocess.Popen(
            list(self.command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=root,
            env=environment,
        )

    def call(self, message: dict) -> dict:
        request = {"type": "ref", **{key: message.get(key) for key in ("module", "function", "args")}}
        request["settings"] = {name: os.environ.get(name) for name in CACHE_SETTINGS}
        try:
            self.process.stdin.write(wire.dumps(request))
            self.process.stdin.flush()
            reply = wire.read(self.process.stdout, MAX_REPLY)
        except (OSError, ValueError, wire.EndOfStream):  # TooLarge is a ValueError
            return {"raised": "RuntimeError", "message": self._death_notice()}
        if reply is None:
            return {"raised": "RuntimeError", "message": "the reference engine sent a reply that is not one"}
        reply.pop("type", None)
        return reply

    def alive(self) -> bool:
        return self.process.poll() is None

    def _death_notice(self) -> str:
        self.stop()
        try:
            self.log.seek(0)
            lines = self.log.read()[-20_000:].decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            lines = []
        last = lines[-1] if lines else f"exit status {self.process.returncode}"
        return (
            f"the reference engine (TensorFlow, in a process of its own) stopped while computing an "
            f"expected value: {last}. Run `pytest` again; if it repeats, run `kata warm` to see the error"
        )

    def stop(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def compute(message: dict) -> dict:
    """Have TensorFlow compute one reference call; the reply, as the child expects it.

    The checkout's daemon computes it (started if none runs); where it cannot, an engine of this run's own.
    """
    global _server
    with _lock:
        from . import daemon_client

        if daemon_client.usable():
            settings = {name: os.environ.get(name) for name in CACHE_SETTINGS}
            reply = daemon_client.compute(_reference_home(), message, settings)
            if reply is not None:
                return reply
        if _server is None or not _server.alive():
            _server = _Server(_reference_home())
        return _server.call(message)


def _reference_home() -> Path:
    """The folder holding the ``reference`` package this process uses: the server must import the same one."""
    package = importlib.import_module("reference")
    return Path(package.__file__).resolve().parent.parent


def shutdown() -> None:
    """Stop the server, if one runs (also done at exit)."""
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None


def own_pids() -> set[int]:
    """The engines this process started (its own, the daemon): never ended as a kata's strays."""
    from . import daemon_client

    server = _server
    return daemon_client.launched_pids() | ({server.process.pid} if server is not None else set())


def forget_in_child() -> None:
    """In a freshly forked kata child: close the pipes to the server without stopping it.

    The learner's code runs there; it must not be able to write to the server or read its replies.
    """
    global _server
    if _server is not None:
        for stream in (_server.process.stdin, _server.process.stdout):
            try:
                os.close(stream.fileno())
            except (OSError, ValueError):
                pass
        _server = None


atexit.register(shutdown)


# ------------------------------------------------------------- the server's side


def answer(message: dict, *, only_cached: bool = False) -> dict:
    """Run one reference call described by ``message``; the reply as data.

    With ``only_cached`` (the harness's own process) a value that is not in the reference
    cache raises :class:`dojo.refcache.store.CacheMiss` instead of importing TensorFlow here.
    """
    module_name, function = str(message.get("module", "")), str(message.get("function", ""))
    if not (module_name == "reference" or module_name.startswith("reference.")) or function.startswith("_"):
        return {"raised": "RuntimeError", "message": f"no reference function {module_name}.{function}"}
    try:
        target = getattr(importlib.import_module(module_name), function)
        args, kwargs = wire.decode(message.get("args"))
    except Exception as error:
        return {"raised": "RuntimeError", "message": f"bad reference request: {error}"}
    from . import store as _cache

    try:
        with _cache.only_cached(only_cached):
            value = target(*args, **kwargs)
    except _cache.CacheMiss:
        raise
    except Exception as error:
        return {"raised": type(error).__name__, "message": str(error)}
    try:
        return {"value": wire.encode(value)}
    except wire.NotData:
        return {"not_data": True}


def serve(requests, replies) -> None:
    """Answer requests (messages in the wire format on ``requests``) until it closes."""
    while True:
        try:
            message = wire.read(requests, MAX_REPLY)
        except (wire.EndOfStream, wire.TooLarge):
            return
        if message is None:
            reply = {"raised": "RuntimeError", "message": "bad reference request: not a message"}
        else:
            _apply_settings(message.get("settings"))
            reply = answer(message)
        replies.write(wire.dumps({"type": "reply", **reply}))
        replies.flush()


def _apply_settings(settings) -> None:
    """The harness's cache settings for this request (only the names in :data:`CACHE_SETTINGS`)."""
    if not isinstance(settings, dict):
        return
    for name in CACHE_SETTINGS:
        value = settings.get(name)
        if isinstance(value, str):
            os.environ[name] = value
        elif value is None:
            os.environ.pop(name, None)


def main() -> None:
    # Replies own the real stdout; anything printed by the engine goes to stderr (the log).
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
