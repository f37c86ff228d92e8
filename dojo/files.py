"""Writing a file so that no reader ever sees half of it.

Every file the project keeps for the learner (progress, digests, the reference
cache, the room's state, backups) is written the same way: the bytes go to a
temporary file in the same folder, are flushed to disk, and the temporary file
is renamed over the target with ``os.replace``. A rename within one file system
is atomic, so a run interrupted mid-write (Ctrl-C, a full disk, a crash) leaves
either the old file or the new one, and two processes writing at once (two
terminals, xdist workers) never interleave their bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path | str, data: bytes | str, *, mode: int | None = None, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (bytes, or text written as UTF-8) in one step.

    Args:
        path: the file to write; its folder is created if missing.
        data: the whole new content.
        mode: permission bits for the new file (for example ``0o600`` for a
            secret); by default the old file's bits are kept, or the
            process's default for a new file.
        durable: fsync before the rename, so that a power cut cannot leave an
            empty file behind the new name. Caches that are cheap to rebuild
            may skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        if mode is None and path.exists():
            mode = path.stat().st_mode & 0o7777
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
