"""What a learner reads at the end of a run: the focused report and the table.

Written with pytest's own terminal writer, so ``--color=no`` and ``NO_COLOR``
are respected and the output is plain text when piped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..course import attempts
from ..course.curriculum import Curriculum, Kata
from ..states import NOT_RUN
from ..words import plural
from . import finish, learner_warnings, outcomes
from .columns import card_width, display_width, wrap

BAR_WIDTH = 30
FIELD = " " * 9  # the card's second column: "  why    " and the lines under it
_LABELLED = re.compile(r"  [a-z]+ +(?=\S)")  # "  why    ...": a card field's first line

STATE_MARKUP = {
    outcomes.PASSED: {"green": True},
    outcomes.SKIPPED: {"cyan": True},
    outcomes.NOT_STARTED: {"yellow": True},
    outcomes.FAILING: {"red": True, "bold": True},
    outcomes.ERROR: {"red": True, "bold": True},
    NOT_RUN: {},
}


@dataclass
class KataSummary:
    kata: Kata
    state: str
    message: str
    check: str
    passed: int
    total: int
    printed: str = ""  # what the learner's code printed during the failing check


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text progress bar: ``█████░░░░░``."""
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def _arrays_on_their_own_lines(lines: list[str]) -> list[str]:
    """A multi-line array (NumPy prints rows 2.. indented by one space per bracket) starts a line of its own,
    so that its rows line up under its first row wherever the message's text put it."""
    out: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        start = line.rfind("[[")
        while start > 0 and line[start - 1] == "[":
            start -= 1
        if start > 0 and following.startswith(" ") and following.lstrip(" ").startswith("[") and line[:start].strip():
            out.extend([line[:start].rstrip(), line[start:]])
        else:
            out.append(line)
    return out


def indent(text: str, prefix: str, width: int | None = None) -> str:
    """Wrap a message to fit after ``prefix`` in the card's width, and indent every line after the first.

    ``width`` is the text's own width (default: the card's width less the prefix). A line that starts
    with spaces (an array's later rows, an indented note) keeps them when it wraps.
    """
    if width is None:
        width = card_width() - display_width(prefix)
    lines = []
    for raw in _arrays_on_their_own_lines(text.splitlines()) or [""]:
        lead = raw[: len(raw) - len(raw.lstrip(" "))]
        lines.extend(wrap(raw, width, subsequent=lead))
    return ("\n" + prefix).join(line.rstrip() for line in lines)


def fit(text: str, width: int | None = None) -> list[str]:
    """Every physical line of ``text`` within the card's width; a card field's line continues under the
    field's column, any other line two columns in from its own indentation."""
    width = width or card_width()
    lines = []
    for line in text.split("\n"):
        label = _LABELLED.match(line)
        lead = len(line) - len(line.lstrip(" "))
        under = FIELD if label and label.end() == len(FIELD) else " " * min(lead + 2, len(FIELD))
        lines.extend(wrap(line, width, subsequent=under))
    return lines


def _clip(text: str, width: int) -> str:
    """The start of ``text`` in ``width`` columns, "…" where it was cut (the table's one-line reason)."""
    if display_width(text) <= width:
        return text
    while text and display_width(text) > width - 1:
        text = text[:-1]
    return text.rstrip() + "…" if width > 0 else ""


def attempts_note(streak: int, shown: int) -> str:
    """Where the learner stands toward the next hint: attempts count, reruns of the same code do not."""
    left = attempts.attempts_until_next_hint(streak, shown)
    more = f"{plural(left, 'more attempt')} that change{'s' if left == 1 else ''} your code"
    return f"(attempt {max(streak, 1)}: the next hint comes after {more}; `kata hint` shows it now)"


class Writer:
    def __init__(self, terminalreporter, impl_name: str, hint_level: int = 0):
        self.tr = terminalreporter
        self.impl_name = impl_name
        self.hint_level = hint_level
        # Filled by the plugin from .katas/progress.json and the run itself:
        self.hint_levels: dict[str, int] = {}  # kata id -> index of the hint to show
        self.streaks: dict[str, int] = {}  # kata id -> failing attempts (runs of changed code) in a row
        self.newly_passed: list[Kata] = []  # katas that pass now and did not before
        self.artifacts: dict[str, list[str]] = {}  # kata id -> files its passing tests recorded
        self.pair_prompt = False  # workshop mode: swap driver and navigator
        self.implementation = None  # the learner's folder: only warnings of their doing are shown
        self.not_rerun: list[Kata] = []  # katas that passed before and were not rerun (unchanged code)

    def line(self, text: str = "", **markup) -> None:
        """Write ``text``, each of its lines wrapped to the card's width (an 80-column terminal at most)."""
        for physical in fit(text):
            self.tr.write_line(physical, **markup)

    # ------------------------------------------------------------- progress

    def progress(self, curriculum: Curriculum, done: set[str]) -> None:
        total = len(curriculum.katas)
        self.line(f"progress  {bar(len(done), total)}  {len(done)}/{total} katas done", bold=True)
        cells = []
        for track in curriculum.tracks:
            katas = curriculum.in_track(track)
            finished = sum(1 for kata in katas if kata.id in done)
            cells.append(
                f"{track.number:>2} {track.name:<14} {bar(finished, len(katas), 6)} {finished:>2}/{len(katas):<2}"
            )
        per_row = max(1, (card_width() - 2 + 3) // (display_width(cells[0]) + 3)) if cells else 1
        for start in range(0, len(cells), per_row):
            self.line("  " + "   ".join(cells[start : start + per_row]).rstrip())

    # ---------------------------------------------------------------- focus

    def focus(
        self,
        curriculum: Curriculum,
        summaries: dict[str, KataSummary],
        stopped_at: Kata | None,
        done: set[str] | None = None,
    ) -> None:
        """The default report: progress, then the one kata to work on now."""
        if done is None:
            done = {kid for kid, s in summaries.items() if s.state in (outcomes.PASSED, outcomes.SKIPPED)}
        self.tr.write_sep("─", "Neural Katas", bold=True)
        self.progress(curriculum, done)
        self.line()
        self.passed_news()
        if stopped_at is None:
            failing = [s for s in summaries.values() if s.state not in (outcomes.PASSED, outcomes.SKIPPED)]
            if failing:  # e.g. a --kata selection of a kata in the middle
                stopped_at = failing[0].kata
            else:
                ran = [s.kata for s in summaries.values() if s.state != NOT_RUN]
                passing = sorted({*ran, *self.not_rerun}, key=lambda kata: kata.position)
                self.line(finish.nothing_left_text(curriculum, passing, done), green=True, bold=True)
                self.warnings_note()
                return
        self.kata_card(summaries[stopped_at.id])
        self.warnings_note()

    def warnings_note(self) -> None:
        """pytest counts warnings in its last line; say what the first was and how to see them all."""
        reports = self.tr.stats.get("warnings", []) if hasattr(self.tr, "stats") else []
        root = getattr(getattr(self.tr, "config", None), "rootpath", None)
        if self.implementation is not None and root is not None:
            reports = learner_warnings.learners(reports, root, self.implementation)  # only the learner's own
        if not reports:
            return
        first = next((line.strip() for line in reports[0].message.splitlines() if line.strip()), "")
        if root is not None:
            first = first.replace(f"{root}/", "")
        count = f"{len(reports)} warnings" if len(reports) > 1 else "1 warning"
        self.line(
            f"  {count} in this run (a warning does not fail a kata; values are checked), the first: "
            f"{indent(first, '    ')}",
            yellow=True,
        )
        self.line("  See every one, with the line that caused it: `pytest -rw` (add your usual options).", yellow=True)

    def kata_card(self, summary: KataSummary) -> None:
        kata = summary.kata
        checks = ""
        if summary.state in (outcomes.FAILING, outcomes.ERROR) and summary.total:
            checks = f" ({summary.passed} of {summary.total} checks pass)"
        header = f"kata {kata.number}  {kata.title}"
        if kata.kind == "capstone":
            header += "  [capstone]"
        state = summary.state + checks
        if display_width(f"{header}   {state}") <= card_width():
            self.tr.write(header + "   ", bold=True)
            self.tr.write(state, **STATE_MARKUP.get(summary.state, {}))
            self.line()
        else:  # a long title: the state on a line of its own, under the title
            self.line(header, bold=True)
            self.line(FIELD + state, **STATE_MARKUP.get(summary.state, {}))
        self.line(f"  edit   {self.impl_name}/{kata.path}, {kata.target}")
        if kata.goal:
            self.line(f"  task   {indent(kata.goal, FIELD)}")
        if summary.state != outcomes.NOT_STARTED:
            self.line(f"  check  {summary.check}")
            self.line(f"  why    {indent(summary.message, FIELD)}", **STATE_MARKUP[summary.state])
            self.printed(summary)
        level = min(self.hint_levels.get(kata.id, self.hint_level), len(kata.hints) - 1)
        self.line(f"  hint   {indent(f'({level + 1} of {len(kata.hints)}) {kata.hints[level]}', FIELD)}", cyan=True)
        if summary.state in (outcomes.FAILING, outcomes.ERROR) and level < len(kata.hints) - 1:
            self.line(f"         {attempts_note(self.streaks.get(kata.id, 0), level)}")
        self.line()
        self.line(
            f"  Edit {self.impl_name}/{kata.path} and run `pytest` again.  More: `kata hint` for the next hint, "
            f"`pytest --all` for every kata."
        )

    PRINTED_LINES = 5

    def printed(self, summary: KataSummary) -> None:
        """The first lines the learner's code printed during the failing check, and how to see all."""
        lines = summary.printed.splitlines()
        if not lines:
            return
        shown = lines[: self.PRINTED_LINES]
        more = (
            (f"first {len(shown)} of {len(lines)} lines; all of them: pytest -s --kata {summary.kata.id}")
            if len(lines) > len(shown)
            else "your print output"
        )
        self.line(f"  print  ({more})")
        for text in shown:
            self.line(f"{FIELD}{text[: card_width() - len(FIELD)]}")

    def interrupted(self, kata: Kata) -> None:
        """Ctrl-C while a kata's checks ran: say which, so the learner knows where it was."""
        self.tr.write_sep("─", "Neural Katas", bold=True)
        self.line(
            f"kata {kata.number}  {kata.title}   interrupted (Ctrl-C) while its checks were running",
            yellow=True,
            bold=True,
        )
        self.line(f"  edit   {self.impl_name}/{kata.path}, {kata.target}")
        self.line(
            "  If it seemed stuck: a loop that never ends is stopped by the time limit by itself "
            "(--kata-timeout SECONDS)."
        )

    def passed_news(self, with_artifacts: bool = True) -> None:
        """Katas this run passed for the first time, their artifacts, and the pair prompt."""
        for kata in self.newly_passed:
            self.line(f"✓ kata {kata.number} {kata.title} passes now.", green=True, bold=True)
        shown = {kata.id for kata in self.newly_passed}
        printed: set[str] = set()  # a file two checks (or two katas) recorded is named once
        for kata_id, paths in self.artifacts.items() if with_artifacts else ():
            if self.newly_passed and kata_id not in shown:
                continue  # in a focused run, show artifacts with the news of the kata that made them
            for path in paths:
                if path not in printed:
                    printed.add(path)
                    self.line(f"  artifact: {path}", cyan=True)
        if self.newly_passed and self.pair_prompt:
            self.line(
                "⇄ Pair: swap roles now. The navigator takes the keyboard; the driver navigates.",
                purple=True,
                bold=True,
            )
        if self.newly_passed or (self.artifacts and with_artifacts):
            self.line()

    # ---------------------------------------------------------------- table

    def table(self, curriculum: Curriculum, summaries: dict[str, KataSummary], done: set[str] | None = None) -> None:
        """``--all``: every kata that ran, by track, with its state."""
        self.tr.write_sep("─", "Neural Katas: every kata", bold=True)
        if done is None:
            done = {kid for kid, s in summaries.items() if s.state in (outcomes.PASSED, outcomes.SKIPPED)}
        self.progress(curriculum, done)
        self.line()
        self.passed_news(with_artifacts=False)  # the table lists them under their kata
        counts: dict[str, int] = {}
        printed: set[str] = set()  # each artifact named once, under the first kata that recorded it
        for track in curriculum.tracks:
            rows = [summaries[k.id] for k in curriculum.in_track(track) if k.id in summaries]
            if not rows:
                continue
            self.line(f"{track.number} {track.name}", bold=True)
            for s in rows:
                counts[s.state] = counts.get(s.state, 0) + 1
                label = f"  {s.kata.number:<5} {s.kata.title:<44.44}"
                self.tr.write(label)
                self.tr.write(f" {s.state:<12}", **STATE_MARKUP.get(s.state, {}))
                self.tr.write(f" {s.passed}/{s.total}")
                reason = (
                    s.message.splitlines()[0] if s.message and s.state in (outcomes.FAILING, outcomes.ERROR) else ""
                )
                room = card_width() - display_width(f"{label} {s.state:<12} {s.passed}/{s.total}  ")
                if reason and room >= 24:
                    self.tr.write(f"  {_clip(reason, room)}", red=True)
                self.line()
                if reason and room < 24:  # no room beside the row: the reason's start on a line of its own
                    self.line(FIELD + _clip(reason, card_width() - len(FIELD)), red=True)
                for path in self.artifacts.get(s.kata.id, []):
                    if path not in printed:
                        printed.add(path)
                        self.line(f"          artifact: {path}", cyan=True)
        self.line()
        order = [outcomes.PASSED, outcomes.FAILING, outcomes.ERROR, outcomes.NOT_STARTED, outcomes.SKIPPED]
        self.line("  ".join(f"{counts.get(state, 0)} {state}" for state in order), bold=True)
