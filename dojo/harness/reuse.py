"""Katas that passed before and whose code has not changed are not run again.

A plain ``pytest`` on the learner's own ``katas/`` would otherwise rerun every
earlier kata on each save, capstones included. Each pass is stored with a
digest of everything the kata's checks depend on (:mod:`dojo.course.dependencies`:
the learner's definitions the tests reach, the test module, the answer's
helpers); while that digest is unchanged, the pass stands. From the first kata
not known to pass, everything runs. ``--recheck`` turns reuse off.

Computing a digest parses the kata's test module; :class:`~dojo.course.digest_memo.DigestMemo`
remembers each digest with the sizes and times of its files, so a run whose
files are untouched skips even that.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..course.curriculum import Curriculum, Kata
from ..course.dependencies import Dependencies, tests_dependencies
from ..course.digest_memo import DIGESTS_FILE, DigestMemo, kata_key
from ..course.progress import Progress
from ..paths import STATE_DIR
from . import outcomes


class PassReuse:
    """Digests of what each kata depends on, and which passed katas this run may leave alone."""

    def __init__(self, root: Path, folder: Path, recording: bool):
        self.root = root
        self.folder = folder
        self.dependencies = Dependencies(folder, root / "tests" / "katas")
        # Only runs that record the learner's progress keep digests on disk.
        self.memo = DigestMemo(root / STATE_DIR / DIGESTS_FILE) if recording else None
        self.not_rerun: list[Kata] = []

    def digest(self, kata: Kata) -> str | None:
        """The digest of everything this kata's checks depend on."""
        test_file = self.root / "tests" / "katas" / f"test_{kata.module}.py"

        def compute():
            wanted, test_text = tests_dependencies(test_file, kata.id)
            digest, files = self.dependencies.digest_and_files(kata, wanted, test_text)
            return digest, [test_file, *files]

        if self.memo is None:
            return compute()[0]
        return self.memo.digest(kata.id, kata_key(kata, self.folder), compute)

    def unchanged(
        self, curriculum: Curriculum, progress: Progress, items_by_kata: dict[str, list[pytest.Item]]
    ) -> list[pytest.Item]:
        """Items of the leading katas that passed before with the digest they have now: not to be rerun.

        Removes those katas from ``items_by_kata`` and remembers them in :attr:`not_rerun`.
        """
        skipped: list[pytest.Item] = []
        for kata in curriculum.katas:
            if kata.id not in items_by_kata:
                continue
            entry = progress.entry(kata.id)
            if entry.get("state") != outcomes.PASSED or not entry.get("digest"):
                break  # from the first kata not known to pass, everything runs
            if entry.get("digest") != self.digest(kata):
                break
            self.not_rerun.append(kata)
            skipped.extend(items_by_kata.pop(kata.id))
        return skipped

    def save(self) -> None:
        if self.memo is not None:
            self.memo.save()


def reuse_allowed(config: pytest.Config, recording: bool, stop_mode: bool) -> bool:
    """Only a plain stop-mode run on the learner's own folder skips katas whose code did not change."""
    return (
        recording
        and stop_mode
        and not config.getoption("katas_recheck")
        and not config.getoption("katas_only")
        and not config.getoption("keyword")
    )
