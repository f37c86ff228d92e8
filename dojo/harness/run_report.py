"""The end of a run: the kata report (:mod:`.report` draws it) fed from this run's results and the progress.

Stop mode shows the one kata the run stopped at (or that everything selected
passes); ``--all`` shows the table by track. Katas this run did not reach keep
their stored state in the progress bar.
"""

from __future__ import annotations

from pathlib import Path

from ..course.curriculum import Curriculum, Kata
from ..course.progress import Progress, workshop_settings
from ..states import DONE_STATES, NOT_RUN
from . import learner_warnings, outcomes, report
from .results import RunResults


def write(writer: report.Writer, run, root: Path, newly_passed: list[Kata]) -> None:
    """Draw the report for ``run`` (the plugin: curriculum, results, progress, stop mode) with ``writer``."""
    curriculum: Curriculum = run.curriculum
    results: RunResults = run.results
    summaries = {kata_id: results.summary(kata_id) for kata_id in results.collected}
    if run.progress is not None:
        writer.hint_levels = {kata.id: run.progress.hint_level(kata) for kata in curriculum.katas}
        writer.streaks = {kid: int(e.get("streak", 0)) for kid, e in run.progress.katas.items()}
        writer.newly_passed = newly_passed
        writer.pair_prompt = workshop_settings(root)["pair_prompts"]
    writer.artifacts = {
        kid: _relative(root, paths)
        for kid, paths in results.artifacts.items()
        if results.state(kid) == outcomes.PASSED and paths
    }
    writer.not_rerun = run.reuse.not_rerun
    writer.implementation = run.implementation.folder
    terminal = writer.tr
    if run.only_katas and "w" not in (run.config.option.reportchars or ""):
        # pytest's last line counts warnings too: there, as on the card, only the learner's (-rw: all).
        terminal.stats["warnings"] = learner_warnings.learners(
            terminal.stats.get("warnings", []), root, run.implementation.folder
        )
    done = done_for_report(curriculum, summaries, run.progress, run.config.getoption("katas_tracks"))
    if run.stop_mode:
        writer.focus(curriculum, summaries, run.stopped_at, done=done)
    else:
        writer.table(curriculum, summaries, done=done)
    for damage in getattr(run, "damaged", []):  # a learner file that went empty or stopped compiling
        writer.line(f"  {damage.line()}")
    for kata, restored in getattr(getattr(run, "runner", None), "restored", []):  # chmod: not a write
        writer.line(f"  {restored.line(kata.number)}", yellow=True)
    not_rerun = run.reuse.not_rerun
    if not_rerun:
        count = len(not_rerun)
        writer.line(
            f"  ({count} kata{'s' if count != 1 else ''} that passed before {'were' if count != 1 else 'was'} "
            f"not rerun: {'their' if count != 1 else 'its'} code has not changed. "
            f"`pytest --recheck` runs them too.)"
        )


def done_for_report(curriculum: Curriculum, summaries: dict, progress: Progress | None, tracks) -> set[str]:
    """Katas to count as done in the progress bar."""
    done = {kid for kid, s in summaries.items() if s.state in DONE_STATES}
    if progress is not None:  # katas this run did not reach keep their stored state
        done |= {kid for kid in progress.done(curriculum) if kid not in summaries or summaries[kid].state == NOT_RUN}
    if tracks and summaries:
        # A track run alone starts from a state where the earlier tracks are done.
        first = min(curriculum.by_id[kid].position for kid in summaries)
        done |= {kata.id for kata in curriculum.katas[:first]}
    return done


def _relative(root: Path, paths: list[str]) -> list[str]:
    shown = []
    for path in paths:
        try:
            shown.append(str(Path(path).resolve().relative_to(root.resolve())))
        except ValueError:
            shown.append(path)
    return list(dict.fromkeys(shown))  # one path written two ways is one artifact


def implementation_label(run) -> str:
    """The folder under test as the report names it: relative to the checkout where it can be."""
    try:
        return str(run.implementation.folder.relative_to(run.root))
    except ValueError:
        return str(run.implementation.folder)


def announce_end(run, say) -> None:
    """Whoever listens for the end of a run (the live room's plugin, ``dojo/room/plugin.py``) hears it now."""
    run.config.hook.pytest_katas_finished(
        root=run.root, curriculum=run.curriculum, progress=run.progress, results=run.results.outcomes, say=say
    )
