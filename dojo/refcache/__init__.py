"""Expected values, computed once by TensorFlow and kept: the reference cache as one package.

The kata tests compare the learner's NumPy with what Keras computes on the same
seeded inputs. Those values do not depend on the learner's code, so each is
computed once and kept on disk. The modules, one concern each:

* :mod:`.store`   the cache itself: keys, the on-disk format, the
  ``cache_public_functions`` wrapper every ``reference/`` module ends with;
* :mod:`.server`  hands a missing value to a process that runs TensorFlow,
  so the harness (which forks a child per kata) never imports it: the
  checkout's daemon, or an engine of the run's own where there is none;
* :mod:`.daemon`, :mod:`.daemon_client`, :mod:`.peers`  that daemon, which
  outlives a run (one per checkout, behind a Unix socket only the learner's
  harness may use), the harness's side of it, and who may connect;
* :mod:`.warmup`  computes the rest of the course in the background;
* :mod:`.options` the pytest options (``--fresh-reference``) and the hook that
  starts the warm-up.

The public names below are loaded on first use: the pytest plugin in
:mod:`.options` is imported at every start, and a run on stubs should not pay
for NumPy and the store before a test needs them.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "CacheMiss": "store",
    "COMPUTED_STAMP": "store",
    "Store": "store",
    "cache_folder": "store",
    "cache_public_functions": "store",
    "engine_versions": "store",
    "live": "store",
    "only_cached": "store",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'dojo.refcache' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
