"""The run's own reference engine: cache misses are computed in a process of their own, only reference calls served.

These tests run with ``KATAS_REFERENCE_IDLE=0``: no daemon, each run starts an engine of its own (what a run
does where the daemon cannot serve). The daemon has its own tests (test_reference_daemon.py).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from dojo import wire
from dojo.refcache import server as reference_server
from dojo.refcache import store as _cache


def _request(module: str, function: str, *args, **kwargs) -> dict:
    return {"type": "ref", "module": module, "function": function, "args": wire.encode([list(args), kwargs])}


@pytest.fixture(scope="module", autouse=True)
def one_server_for_the_module():
    """The tests share a server (each starts TensorFlow, seconds of CPU): the cache settings travel with
    every request, so one server serves each test's private cache. Stopped when the module is done."""
    saved = os.environ.get("KATAS_REFERENCE_IDLE")
    os.environ["KATAS_REFERENCE_IDLE"] = "0"
    yield
    reference_server.shutdown()
    if saved is None:
        os.environ.pop("KATAS_REFERENCE_IDLE", None)
    else:
        os.environ["KATAS_REFERENCE_IDLE"] = saved


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KATAS_REFERENCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KATAS_FRESH_REFERENCE", raising=False)
    _cache._memory.clear()
    yield tmp_path / "cache"
    _cache._memory.clear()


@pytest.mark.parametrize(
    ("module", "function"),
    [("os", "system"), ("reference.neuron", "_private"), ("dojo.harness.plugin", "pytest_configure")],
)
def test_only_public_reference_functions_are_served(module, function):
    reply = reference_server.answer(_request(module, function, "echo hi"))
    assert reply["raised"] == "RuntimeError" and "no reference function" in reply["message"]


@pytest.mark.slow
def test_a_miss_is_not_computed_in_the_harness_but_by_the_server(private_cache):
    request = _request("reference.neuron", "weighted_sum", [0.5, 0.8, 0.3], [0.4, 0.6, 0.2])
    with pytest.raises(_cache.CacheMiss):
        reference_server.answer(request, only_cached=True)
    reply = reference_server.compute(request)
    assert wire.decode(reply["value"]) == pytest.approx(0.5 * 0.4 + 0.8 * 0.6 + 0.3 * 0.2)
    # The server stored it: the harness now answers from the cache alone.
    cached = reference_server.answer(request, only_cached=True)
    assert np.asarray(wire.decode(cached["value"])) == np.asarray(wire.decode(reply["value"]))


@pytest.mark.slow
def test_the_reference_functions_own_error_goes_back_to_the_check(private_cache):
    reply = reference_server.compute(_request("reference.neuron", "weighted_sum", [1.0, 2.0], [1.0]))
    assert reply.get("raised") and "value" not in reply, reply


@pytest.mark.slow
def test_a_server_that_dies_is_reported_in_one_line_and_restarted(private_cache, monkeypatch):
    reference_server.shutdown()  # the next call starts a server, with this command
    monkeypatch.setattr(
        reference_server._Server,
        "command",
        (sys.executable, "-c", "import sys; sys.stderr.write('out of memory\\n'); sys.exit(3)"),
    )
    reply = reference_server.compute(_request("reference.neuron", "weighted_sum", [1.0], [2.0]))
    assert reply["raised"] == "RuntimeError"
    assert "stopped while computing an expected value: out of memory" in reply["message"]
    assert "\n" not in reply["message"]
    monkeypatch.undo()
    monkeypatch.setenv("KATAS_REFERENCE_CACHE", str(private_cache))
    # The next call starts a new server, which answers. It is asked for what it refuses before importing
    # anything: a restart does not depend on TensorFlow, and a second start of it would cost seconds of CPU
    # for nothing (a server computing a value is test_a_miss_is_not_computed_in_the_harness_but_by_the_server).
    again = reference_server.compute(_request("reference.neuron", "_private", 1.0))
    assert "no reference function" in again["message"], again
    assert reference_server._server is not None and reference_server._server.alive()


def test_a_kata_child_cannot_reach_the_server(private_cache):
    # The real server, answering a request it refuses before importing anything: it is up and serving,
    # without the seconds TensorFlow takes to start (what the child can reach does not depend on them).
    refused = reference_server.compute(_request("reference.neuron", "_private", 1.0))
    assert "no reference function" in refused["message"], refused
    server = reference_server._server
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child, as isolation.py's: forget the server, then try to use its pipe
        reference_server.forget_in_child()
        try:
            server.process.stdin.write(b"{}\n")
            server.process.stdin.flush()
            os.write(write, b"reached")
        except (OSError, ValueError):
            os.write(write, b"closed")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"closed"
    assert reference_server._server is server and server.alive()
