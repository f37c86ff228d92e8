"""Digests of passed katas, remembered between runs while the files they were computed from are untouched.

Deciding that a passed kata need not run again means computing its digest
(:mod:`dojo.course.dependencies`): parsing its test module and the learner's
modules it reaches. For sixty passed katas that is most of a plain run's time
late in the course. The digest only changes when one of those files does, so
it is kept in ``.katas/digests.json`` with each file's modification time (in
nanoseconds) and size. A run whose files all still match reuses it; any
difference (an edit, a new file where one was missing, a changed manifest
entry) computes it again. Deleting the file is always safe: it is a memo.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from ..files import write_atomic

FORMAT = 1
DIGESTS_FILE = "digests.json"  # under .katas/


def _stamp(path: Path) -> list[int]:
    """[modification time in ns, size], or [-1, -1] for a file that does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return [-1, -1]
    return [stat.st_mtime_ns, stat.st_size]


def kata_key(kata, folder: Path) -> str:
    """What else the digest depends on: the kata's manifest entry and the implementation folder."""
    text = repr((kata.id, kata.module, kata.target, kata.goal, kata.hints, kata.timeout, str(folder)))
    return hashlib.sha256(text.encode()).hexdigest()


class DigestMemo:
    """``.katas/digests.json``: kata id -> its digest, with the stamps of the files it came from."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = self._load()
        self.changed = False

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("katas"), dict):
            return {}
        return {k: v for k, v in data["katas"].items() if isinstance(v, dict)}

    def digest(self, kata_id: str, key: str, compute: Callable[[], tuple[str | None, list[Path]]]) -> str | None:
        """The remembered digest if its key and files still match, else ``compute()`` (digest, files used)."""
        entry = self.entries.get(kata_id)
        if entry is not None and entry.get("key") == key and self._untouched(entry.get("files")):
            digest = entry.get("digest")
            if isinstance(digest, str):
                return digest
        started = time.time_ns()
        digest, files = compute()
        stamps = {str(path): _stamp(Path(path)) for path in files}
        # A file written while (or just before) it was read may not be what the digest saw: not remembered,
        # so the next run computes again. (Filesystem clocks can lag by a little: a margin of 2 s.)
        fresh = any(stamp[0] >= started - 2_000_000_000 for stamp in stamps.values())
        if digest is None or fresh:
            self.entries.pop(kata_id, None)
        else:
            self.entries[kata_id] = {
                "key": key,
                "digest": digest,
                "files": stamps,
            }
        self.changed = True
        return digest

    @staticmethod
    def _untouched(files) -> bool:
        if not isinstance(files, dict) or not files:
            return False
        return all(isinstance(stamp, list) and _stamp(Path(path)) == stamp for path, stamp in files.items())

    def save(self) -> None:
        """Write the memo (atomically; a failure to write only means recomputing next time)."""
        if not self.changed:
            return
        try:
            write_atomic(self.path, json.dumps({"format": FORMAT, "katas": self.entries}), durable=False)
        except OSError:
            pass
