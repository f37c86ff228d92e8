"""The pristine stub of a kata: what ``katas/<module>.py`` shipped with.

It comes from git: the newest committed version of ``katas/<module>.py`` in
which that definition still raises ``NotImplementedError``. Walking back
through the file's history (rather than reading ``HEAD`` alone) keeps this
right for learners who commit their own work. A copy in
``.katas/pristine/<module>.py`` is used where there is no git.

Reading here is only for finding a stub, so it is tolerant: a file (or an old
commit) that is not UTF-8 is read with its odd bytes replaced, and a module
that is not UTF-8 is not snapshotted; nothing here raises on a learner's bytes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..paths import STATE_DIR
from .definitions import definition, is_stub, read_tolerant


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None


def pristine_definition(root: Path, module: str, name: str) -> str | None:
    """The stub of ``name`` as shipped: from git history, else ``.katas/pristine/``; None if neither has it."""
    relative = f"katas/{module}.py"
    history = _git(root, "log", "--format=%H", "--", relative)
    for commit in (history or "").split():
        text = _git(root, "show", f"{commit}:{relative}")
        stub = definition(text, name) if text else None
        if is_stub(stub):
            return stub
    text = read_tolerant(Path(root) / STATE_DIR / "pristine" / f"{module}.py")
    stub = definition(text, name) if text else None
    return stub if is_stub(stub) else None


def shipped_definitions(root: Path, module: str, name: str) -> list[str]:
    """Every version of the top-level ``name`` that ``katas/<module>.py`` shipped with (git history, newest
    first, then ``.katas/pristine/``): a given definition still in one of these the learner did not change."""
    relative = f"katas/{module}.py"
    found: list[str] = []
    history = _git(root, "log", "--format=%H", "--", relative)
    for commit in (history or "").split():
        text = _git(root, "show", f"{commit}:{relative}")
        version = definition(text, name) if text else None
        if version is not None and version not in found:
            found.append(version)
    text = read_tolerant(Path(root) / STATE_DIR / "pristine" / f"{module}.py")
    version = definition(text, name) if text else None
    if version is not None and version not in found:
        found.append(version)
    return found


def snapshot_pristine(root: Path, folder: Path, targets: dict[str, list[str]]) -> None:
    """Keep a copy of each module that is still all stubs, for checkouts without git.

    ``targets`` maps a module to the functions/classes its katas ask for. A
    module is copied to ``.katas/pristine/`` once, the first time a run sees
    every one of them still raising ``NotImplementedError``.
    """
    for module, names in targets.items():
        copy = root / STATE_DIR / "pristine" / f"{module}.py"
        source = folder / f"{module}.py"
        if copy.exists() or not source.exists():
            continue
        try:
            data = source.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # unreadable or not UTF-8: not the file as shipped, so no snapshot
        if all(is_stub(definition(text, name)) for name in names):
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
