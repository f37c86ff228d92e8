"""Backups of a learner's file, taken before any verb rewrites it."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from ..paths import STATE_DIR


def backup(root: Path, path: Path) -> Path:
    """Copy ``path`` to ``.katas/backups/<name>-<timestamp>.py`` and return the copy."""
    folder = root / STATE_DIR / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    copy = folder / f"{path.stem}-{stamp}{path.suffix}"
    counter = 1
    while copy.exists():  # two resets within a second must not overwrite each other
        counter += 1
        copy = folder / f"{path.stem}-{stamp}-{counter}{path.suffix}"
    shutil.copy2(path, copy)
    return copy
