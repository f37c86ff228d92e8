"""What one run found: each kata's outcomes, its state, its summary for the report, and its artifacts.

The outcomes arrive from two places: pytest's reports, when a check ran in
this process, and the kata's forked child (:mod:`.isolation`), which sends them
over its pipe. Either way they land here, and only here do states get decided.
"""

from __future__ import annotations

from ..course.curriculum import Curriculum, Kata
from ..states import NOT_RUN, KataState
from . import outcomes, report


class RunResults:
    """Outcomes of this run, by kata id, with the checks pytest collected for each kata."""

    def __init__(self, curriculum: Curriculum):
        self.curriculum = curriculum
        self.outcomes: dict[str, list[outcomes.Outcome]] = {}
        self.collected: dict[str, list] = {}  # kata id -> its pytest items in this run
        self.artifacts: dict[str, list[str]] = {}  # kata id -> files its passing checks recorded

    def add(self, kata: Kata, outcome: outcomes.Outcome) -> None:
        self.outcomes.setdefault(kata.id, []).append(outcome)

    def receive(self, kata: Kata, received: list[dict], artifacts: list[str]) -> None:
        """Outcomes of one check as the kata's child computed them: plain data, checked before use."""
        for entry in received:
            state = entry.get("state")
            if state not in outcomes.SEVERITY:
                continue
            mistake = entry.get("mistake")
            self.add(
                kata,
                outcomes.Outcome(
                    KataState(state),
                    str(entry.get("message", "")),
                    check=str(entry.get("check", "")),
                    printed=str(entry.get("printed", "")),
                    mistake=mistake if isinstance(mistake, str) else None,
                ),
            )
        self.add_artifacts(kata, artifacts)

    def add_artifacts(self, kata: Kata, artifacts) -> None:
        known = self.artifacts.setdefault(kata.id, [])
        known.extend(str(a) for a in artifacts if isinstance(a, str) and str(a) not in known)

    def state(self, kata_id: str) -> str:
        """The worst state of the kata's checks in this run, or ``NOT_RUN``."""
        found = self.outcomes.get(kata_id)
        if not found:
            return NOT_RUN
        return max((r.state for r in found), key=outcomes.SEVERITY.__getitem__)

    def summary(self, kata_id: str) -> report.KataSummary:
        """The kata as the report shows it: its state, the worst check's message, checks passed of all."""
        found = self.outcomes.get(kata_id, [])
        worst = max(found, key=lambda r: outcomes.SEVERITY[r.state], default=None)
        return report.KataSummary(
            kata=self.curriculum.by_id[kata_id],
            state=self.state(kata_id),
            message=worst.message if worst else "",
            check=worst.check if worst else "",
            printed=worst.printed if worst else "",
            passed=sum(1 for r in found if r.state == outcomes.PASSED),
            total=len(self.collected.get(kata_id, [])),
        )

    def ran(self) -> list[Kata]:
        """Katas with at least one outcome in this run, in course order."""
        return [k for k in self.curriculum.katas if self.state(k.id) != NOT_RUN]
