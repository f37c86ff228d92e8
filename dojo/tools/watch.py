"""Wait for the learner to save a file: watchdog events, with polling as a safety net.

Change events never arrive on some file systems (network shares, Docker
bind mounts on macOS, WSL paths under ``/mnt``). So even when watchdog runs, a
slow poll of modification times runs beside it; if the poll sees a change
that no event announced, the watcher says so and relies on polling from then
on. ``poll=True`` skips watchdog altogether (and makes tests deterministic).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path


def snapshot(folder: Path, pattern: str = "*.py") -> dict[str, tuple[int, int]]:
    """Modification time and size of each matching file under ``folder``."""
    state = {}
    for path in sorted(Path(folder).rglob(pattern)):
        if "__pycache__" in path.parts:
            continue
        try:
            info = path.stat()
        except OSError:  # deleted between listing and stat
            continue
        state[str(path)] = (info.st_mtime_ns, info.st_size)
    return state


def changed_files(before: dict, after: dict) -> list[str]:
    return sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))


class Watcher:
    """Blocks in :meth:`wait` until a ``*.py`` file under ``folder`` changes."""

    def __init__(self, folder: Path, poll: bool = False, interval: float = 1.0, say: Callable[[str], None] = print):
        self.folder = Path(folder)
        self.interval = interval
        self.say = say
        self._event = threading.Event()
        self._observer = None
        self.mode = "polling"
        if not poll:
            self._start_watchdog()
        self._state = snapshot(self.folder)

    def _start_watchdog(self) -> None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            self.say("watchdog is not installed: watching by polling.")
            return
        event = self._event

        class OnSave(FileSystemEventHandler):
            def on_any_event(self, change):
                if str(getattr(change, "src_path", "")).endswith(".py") or str(
                    getattr(change, "dest_path", "")
                ).endswith(".py"):
                    event.set()

        try:
            observer = Observer()
            observer.schedule(OnSave(), str(self.folder), recursive=True)
            observer.start()
        except Exception as error:  # e.g. the inotify watch limit is reached
            self.say(f"file events unavailable ({error}): watching by polling.")
            return
        self._observer = observer
        self.mode = "events"

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None

    def wait(self, timeout: float | None = None) -> list[str] | None:
        """Return the files that changed, or None after ``timeout`` seconds with no change."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # With events, the poll is only a safety net, so it can be slow.
        poll_every = self.interval if self.mode == "polling" else max(self.interval, 2.0)
        while True:
            step = poll_every if deadline is None else max(0.0, min(poll_every, deadline - time.monotonic()))
            announced = self._event.wait(step)
            now = snapshot(self.folder)
            changed = changed_files(self._state, now)
            if changed:
                if not announced and self.mode == "events":
                    self.say("no file events arrived for that change: watching by polling from now on.")
                    self.stop()
                    self.mode = "polling"
                    poll_every = self.interval
                self._state = now
                self._event.clear()
                time.sleep(0.05)  # let an editor finish writing before the tests read the file
                self._state = snapshot(self.folder)
                return changed
            self._event.clear()  # an event without a content change (e.g. a touch of __pycache__)
            if deadline is not None and time.monotonic() >= deadline:
                return None
