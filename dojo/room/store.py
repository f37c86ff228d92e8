"""The room's state on disk: one JSON file, replaced atomically, never half written.

Standard library only (the pairs' side writes its membership file with it too).
The server writes the board after every accepted post *before* it answers,
so an acknowledged post survives a crash or a restart; concurrent posts share
one write (:class:`BoardStore`), so a busy room does not write once per post.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import write_atomic

BOARD_FILE = "board.json"


def write_json_atomic(path: Path, data, mode: int | None = None) -> None:
    """``data`` as indented JSON, written in one step (:func:`dojo.files.write_atomic`)."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n", mode=mode)


def read_json(path: Path) -> dict:
    """The JSON object in ``path``, or {} when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class BoardStore:
    """Writes the board's dict to ``state_dir/board.json``, coalescing concurrent saves.

    ``await store.save(room)`` returns once a write that includes the room's
    current version is on disk. Posts that arrive while a write is running
    wait for the next one, which then covers all of them.
    """

    def __init__(self, state_dir: Path):
        import asyncio  # here, not at the top: the pairs' poster imports this module and needs no event loop

        self._to_thread = asyncio.to_thread
        self.path = Path(state_dir) / BOARD_FILE
        self.saved_version = -1
        self._lock = asyncio.Lock()
        self.writes = 0

    def load(self) -> dict:
        return read_json(self.path)

    async def save(self, room) -> None:
        wanted = room.version
        async with self._lock:
            if self.saved_version >= wanted:
                return  # a write that started after our change already covered it
            version, data = room.version, room.to_dict()
            await self._to_thread(write_json_atomic, self.path, data)
            self.saved_version = version
            self.writes += 1

    def save_now(self, room) -> None:
        """Blocking write, for the shutdown."""
        write_json_atomic(self.path, room.to_dict())
        self.saved_version = room.version
