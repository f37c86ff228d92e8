"""Backups of a learner's file, taken before any verb rewrites it.

A backup is the exact bytes the verb read and is about to replace (never a
re-read that another process may have changed meanwhile), under a name claimed
with ``O_EXCL``, so two verbs running at once never write the same copy.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from ..paths import STATE_DIR


def backup(root: Path, path: Path, data: bytes | None = None) -> Path:
    """Copy ``path`` (or the bytes ``data`` read from it) to ``.katas/backups/<name>-<timestamp>.py``."""
    folder = Path(root) / STATE_DIR / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = Path(path).read_bytes()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    counter = 1
    while True:  # two resets within a second (or two processes) must not overwrite each other
        copy = folder / (
            f"{path.stem}-{stamp}{path.suffix}" if counter == 1 else f"{path.stem}-{stamp}-{counter}{path.suffix}"
        )
        try:
            handle = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            counter += 1
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(path, copy)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    return copy
