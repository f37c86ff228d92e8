"""Is the learner's code correct? Only then is it timed.

A fast wrong answer proves nothing, so the learner's row of a table is timed
only when the kata that asks for that function passes. The check is the
kata's own tests, run once per kata in a nested pytest session (as the
mutation self-tests do), against the learner's implementation folder; the
verdict is cached for the rest of the run. Capstones (whole training runs
that take minutes) are not part of the gate: the fit benchmark gates on the
non-capstone katas of ``Sequential`` and ``Dense``.

A stub never reaches this point: the race calls the learner's function once
first (its warm-up), and a ``NotImplementedError`` there is "not started".
"""

from __future__ import annotations

from pathlib import Path

from ..harness.verdicts import run_katas


class Gate:
    def __init__(self, root: Path, curriculum, implementation_folder: Path):
        self.root = root
        self.curriculum = curriculum
        self.folder = implementation_folder
        self._cache: dict[tuple[str, ...], str | None] = {}

    def katas_for(self, pairs) -> list:
        wanted = set(pairs)
        return [
            kata for kata in self.curriculum.katas if (kata.module, kata.target) in wanted and kata.kind != "capstone"
        ]

    def why_not(self, pairs) -> str | None:
        """None when every kata for ``pairs`` passes, else a reason for the table."""
        katas = self.katas_for(pairs)
        if not katas:
            names = ", ".join(f"{m}.{t}" for m, t in pairs)
            return f"no kata for {names} in the curriculum yet"
        key = tuple(kata.id for kata in katas)
        if key not in self._cache:
            self._cache[key] = self._run(katas)
        return self._cache[key]

    def _run(self, katas) -> str | None:
        verdicts = run_katas(self.root, self.folder, [kata.id for kata in katas])
        for kata in katas:
            state, message = verdicts[kata.id].state, verdicts[kata.id].message
            if state != "passed":
                first_line = message.splitlines()[0] if message else ""
                return f"kata {kata.number} {kata.name} is {state}" + (f" ({first_line[:90]})" if first_line else "")
        return None
