"""The permissions of the course's files, as they were before a kata's code ran, put back after it.

Landlock (:mod:`.sandbox`) refuses every write outside the kata's temporary
folder, but not ``chmod``: changing a file's mode bits is not a write to it.
Learner code can therefore run ``os.chmod(__file__, 0)``, and the learner's
own kata file, or a test file, becomes unreadable to the next run and to
their editor. No content is lost, but the next run fails in a way that points
nowhere. So the harness notes the mode bits of the learner's folder, the
curriculum and the tests before each kata's child starts (a few hundred
``lstat`` calls, well under a millisecond each), and afterwards sets back
any that changed, parents before what they hold, and the card says which.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

#: Folders of the checkout whose permissions a kata's code must leave alone (beside the learner's folder).
WATCHED = ("curriculum", "tests")
SKIPPED = {"__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Restored:
    """A path whose mode bits a kata's code changed, and that the harness set back."""

    path: str  # as the card shows it, relative to the checkout
    was: int
    found: int

    def line(self, kata_number: str) -> str:
        return (
            f"kata {kata_number}'s code changed the permissions of {self.path} (to {self.found:03o}, with "
            f"os.chmod): the harness set them back to {self.was:03o}. A kata's code may not change the "
            f"course's files; remove the chmod."
        )


def watch(root: Path, implementation: Path) -> dict[Path, int]:
    """The mode bits of every file and folder of ``implementation`` and the checkout's watched folders."""
    modes: dict[Path, int] = {}
    for top in (Path(implementation), *(Path(root) / name for name in WATCHED)):
        for folder, dirs, files in os.walk(top, onerror=lambda error: None):
            dirs[:] = [d for d in dirs if d not in SKIPPED]
            for name in (".", *dirs, *files):
                path = Path(folder) / name if name != "." else Path(folder)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISLNK(info.st_mode):
                    modes[path] = stat.S_IMODE(info.st_mode)
    return modes


def restore(before: dict[Path, int], root: Path) -> list[Restored]:
    """Set back every mode in ``before`` that changed (a path gone is not ours to bring back: that is what
    the sandbox and the file history are for); folders first, so that what they hold is reachable again."""
    restored = []
    for path in sorted(before):
        try:
            now = stat.S_IMODE(os.lstat(path).st_mode)
        except OSError:
            continue
        if now != before[path]:
            try:
                os.chmod(path, before[path])
            except OSError:
                continue
            restored.append(Restored(_shown(path, root), before[path], now))
    return restored


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
