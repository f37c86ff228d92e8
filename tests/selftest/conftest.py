"""The self-tests leave no reference daemon running (dojo/refcache/daemon.py).

A run that misses the reference cache starts the checkout's daemon, which
outlives the run on purpose (ten idle minutes for a learner). The self-tests
start many, on toy checkouts and on this one: here each ends after
``KATAS_REFERENCE_IDLE`` seconds without a request (30, unless the caller
chose). A session without ``-n`` stops this checkout's at its end. Under the
README's command (``pytest tests -n auto``) only the xdist workers load this
file: the controller that outlives them loads the conftests on the way to
``tests/``, and this one lies below it. No worker can know that the others are
done with the daemon, so it ends by itself after its idle seconds, and
``.ci/run`` stops it at once when CI ends. (``pytest tests/selftest -n auto``
names this folder: there the controller loads the file and stops the daemon
at the very end.) A test of the daemon stops its own.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KATAS_REFERENCE_IDLE", "30")  # inherited by every run and daemon the tests start


def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the others may still use it (it ends after its idle seconds)
    from dojo.refcache import daemon_client

    daemon_client.stop(Path(__file__).resolve().parents[2])
