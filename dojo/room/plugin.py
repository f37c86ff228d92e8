"""The room's pytest plugin: after a learner's run, post its state, if this checkout joined a room.

Registered by the checkout's ``conftest.py``. It costs a run one ``stat``: the
room's HTTP client and poster are imported only in a checkout that joined one
(``.katas/room.json`` exists).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..paths import ROOM_FILE, STATE_DIR


@pytest.hookimpl
def pytest_katas_finished(root: Path, curriculum, progress, results, say) -> None:
    if not (Path(root) / STATE_DIR / ROOM_FILE).exists():
        return
    from . import hook

    hook.after_run(Path(root), curriculum, progress, results, say)
