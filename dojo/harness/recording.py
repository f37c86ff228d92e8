"""A run on the learner's own ``katas/`` becomes their progress (``.katas/progress.json``).

Only such runs count: ``--impl solutions`` and the self-tests' copies of the
course record nothing. An interrupted run leaves the stored progress as it was.
What is stored per kata: its state, checks passed, failing attempts (runs of
changed code, which the hints follow: :mod:`dojo.course.attempts`), and for a pass the digest of what it depended on
(:mod:`.reuse`).
"""

from __future__ import annotations

from pathlib import Path

from ..course import attempts, definitions, pristine
from ..course.curriculum import Curriculum, Kata
from ..course.progress import Progress, now
from ..states import DONE_STATES, NOT_RUN
from . import outcomes
from .results import RunResults
from .reuse import PassReuse


def record(run) -> list[Kata]:
    """:func:`record_run` for the plugin's run (its checkout, folder, course, progress, results and stop)."""
    return record_run(
        run.root, run.implementation.folder, run.curriculum, run.progress, run.results, run.reuse, run.stopped_at
    )


def record_run(
    root: Path,
    folder: Path,
    curriculum: Curriculum,
    progress: Progress,
    results: RunResults,
    reuse: PassReuse,
    stopped_at,
) -> list[Kata]:
    """Store this run's states in ``progress`` and save it; returns the katas that pass now and did not before.

    Raises ``OSError`` when the progress cannot be written (a read-only checkout).
    """
    when = now()
    newly_passed = []
    for kata in curriculum.katas:
        if kata.id not in results.collected or results.state(kata.id) == NOT_RUN:
            continue
        if any(r.harness_fault for r in results.outcomes.get(kata.id, ())) and progress.state(kata.id) in DONE_STATES:
            continue  # the harness failed, not the learner: a stored pass stands
        summary = results.summary(kata.id)
        state = summary.state
        if state in (outcomes.FAILING, outcomes.ERROR) and _untouched(root, folder, kata):
            state = outcomes.NOT_STARTED  # e.g. blocked by a syntax error elsewhere in the file
        failing = state in (outcomes.FAILING, outcomes.ERROR)
        attempt = attempts.code_digest(reuse.digest(kata), folder / kata.path) if failing else None
        if progress.record(kata, state, summary.passed, summary.total, when, attempt):
            newly_passed.append(kata)
        entry = progress.katas.setdefault(kata.id, {})
        digest = reuse.digest(kata) if state == outcomes.PASSED else None
        if digest:
            entry["digest"] = digest  # what this pass depended on: unchanged, it need not run again
        else:
            entry.pop("digest", None)
    _set_current(curriculum, progress, results, stopped_at)
    targets: dict[str, list[str]] = {}
    for kata in curriculum.katas:
        targets.setdefault(kata.module, []).append(kata.target)
    pristine.snapshot_pristine(root, folder, targets)
    progress.save()
    return newly_passed


def _set_current(curriculum: Curriculum, progress: Progress, results: RunResults, stopped_at: Kata | None) -> None:
    """The kata the learner is on: where the run stopped, else the first unfinished kata it ran."""
    ran = results.ran()
    unfinished = [k for k in ran if progress.state(k.id) not in DONE_STATES]
    if stopped_at is not None:
        progress.current = stopped_at.id
    elif unfinished:
        progress.current = unfinished[0].id
    elif ran:
        progress.current = None


def _untouched(root: Path, folder: Path, kata: Kata) -> bool:
    """The kata's function/class is still exactly the shipped stub."""
    try:
        text = (folder / kata.path).read_text(encoding="utf-8")
    except (OSError, ValueError):  # unreadable or not UTF-8: the load error says so
        return False
    # Compared as text: the file may not even parse (a syntax error in another kata).
    return definitions.contains(text, pristine.pristine_definition(root, kata.module, kata.target))
