"""One notebook's katas: where they live, what a kata's card says, and checking a kata.

The functions here are what the magics (:mod:`dojo.notebook.magics`) and
``dojo.notebook.check`` call; they return :class:`~dojo.notebook.card.Card`
objects and never raise for a learner's mistake: a problem the learner can fix
is a card with one line that says what to do.
"""

from __future__ import annotations

from pathlib import Path

from ..course import definitions, pristine
from ..course.curriculum import Curriculum, CurriculumError, Kata, load
from ..course.progress import Progress
from ..states import ERROR, FAILING, NOT_STARTED, PASSED
from . import cells, gpu, place
from .card import Card, progress_text
from .runner import Checked, check_kata

PRINTED_LINES = 5


class Session:
    """The course and home of this kernel, found once and changed by :meth:`use`."""

    def __init__(self, home: str | Path | None = None):
        self.place = place.find(home)
        self.curriculum: Curriculum = load(self.place.course / "curriculum")
        self.written: dict[str, str | None] = {}  # "module.target" -> the definition this kernel last wrote
        self._keep_pristine()

    def _keep_pristine(self) -> None:
        """Copy the modules that are still all stubs to ``.katas/pristine/`` before any cell changes them,
        as the harness does on its first run: without git, that is how a stub is recognised later."""
        targets: dict[str, list[str]] = {}
        for kata in self.curriculum.katas:
            targets.setdefault(kata.module, []).append(kata.target)
        try:
            pristine.snapshot_pristine(self.place.home, self.place.katas, targets)
        except OSError:
            pass  # a read-only home: the checks still run, git may still know the stubs

    # ------------------------------------------------------------ finding

    def kata(self, key: str) -> Kata:
        return self.curriculum.get(key.strip())

    def progress(self) -> Progress:
        return Progress.load(self.place.home, say=None)

    def next_kata(self) -> Kata | None:
        return self.progress().next_kata(self.curriculum)

    def where(self) -> str:
        if self.place.in_checkout:
            return f"your katas: {self.place.katas} (the checkout's, shared with pytest and kata)"
        return f"your katas: {self.place.katas}; progress: {self.place.state} (course: {self.place.course})"

    # ------------------------------------------------------------- cards

    def stub(self, kata: Kata) -> str | None:
        """The kata's stub as shipped (git history, else ``.katas/pristine/``), else None: never the
        learner's own code, which the course's file may hold by now."""
        for root in dict.fromkeys((self.place.home, self.place.course)):
            shipped = pristine.pristine_definition(root, kata.module, kata.target)
            if shipped:
                return shipped
        text = definitions.read_tolerant(self.place.course / "katas" / kata.path) or ""
        found = definitions.definition(text, kata.target)
        return found if definitions.is_stub(found) else None

    def intro(self, kata: Kata) -> Card:
        """``%kata ID``: the title, the task, the teaching docstring, the stub to copy."""
        state = self.progress().state(kata.id)
        card = Card(f"kata {kata.number}  {kata.title}" + ("  [capstone]" if kata.kind == "capstone" else ""), state)
        card.add("track", f"{kata.track.number} {kata.track.name}")
        card.add("task", kata.goal)
        card.add("write", f"`{kata.target}` in a cell, then check it: `%%kata {kata.id}` on its first line")
        if gpu.uses_gpu(kata, self.place.course):
            card.add("runs on", gpu.backend_line())
        card.add("stub", self.stub(kata) or "", code=True)
        card.footer = f"Hints come after a failing check (`%kata hint {kata.id}` shows the next one). {self.where()}"
        return card

    def namespace(self, module: str) -> dict:
        """The names of the learner's ``katas/<module>.py`` (imports, helpers, earlier katas), for the notebook.

        With them comes ``__package__``: the private package the harness imports ``katas/`` as, so
        that a cell may import a sibling module the way the file does (``from .activations import
        sigmoid``), and that import, copied into the file by the check, works there too.
        """
        from ..course.implementation import Implementation

        implementation = Implementation(self.place.katas)
        loaded = implementation.module(module)
        names = {name: value for name, value in vars(loaded).items() if not name.startswith("__")}
        names["__package__"] = implementation.package
        return names

    def hint(self, kata: Kata) -> Card:
        level = self.progress().reveal_hint(kata)
        card = Card(f"kata {kata.number}  {kata.title}", self.progress().state(kata.id))
        card.add(f"hint {level + 1}/{len(kata.hints)}", kata.hints[level], tone="hint")
        return card

    def overview(self) -> Card:
        progress = self.progress()
        done = progress.done(self.curriculum)
        card = Card("Neural Katas", detail=progress_text(len(done), len(self.curriculum.katas)))
        for track in self.curriculum.tracks:
            katas = self.curriculum.in_track(track)
            finished = sum(1 for kata in katas if kata.id in done)
            card.add(f"{track.number:>2}", f"{track.name:<15} {finished:>2}/{len(katas)}")
        following = progress.next_kata(self.curriculum)
        card.footer = (
            f"Next: kata {following.number} {following.title} (`%kata {following.id}`). " if following else ""
        ) + self.where()
        return card

    # ------------------------------------------------------------- check

    def check(self, key: str, cell: str | None) -> Card:
        """Write the cell's definition into katas/ and run the kata's tests through the harness."""
        kata = self.kata(key)
        if cell is None:
            raise cells.CellError(
                f"no cell above defines `{kata.target}`: run the cell with your `{kata.target}`, then check again"
            )
        key = f"{kata.module}.{kata.target}"
        written = cells.write_definition(
            kata,
            cell,
            self.place.katas,
            self.place.state,
            self.stub(kata),
            self.written.get(key),
            {k.target for k in self.curriculum.katas},
        )
        if not written.kept_file:  # as spliced, the kata's docstring kept: the next attempt replaces it freely
            self.written[key] = definitions.definition(definitions.read_tolerant(written.path) or "", kata.target)
        checked = check_kata(self.place.home, kata)
        return self.verdict(kata, checked, written)

    def verdict(self, kata: Kata, checked: Checked, written: cells.Written) -> Card:
        summary = checked.summary
        detail = ""
        if summary.state in (FAILING, ERROR) and summary.total:
            detail = f"({summary.passed} of {summary.total} checks pass)"
        card = Card(f"kata {kata.number}  {kata.title}", summary.state, detail)
        if checked.newly_passed:
            card.add("✓", f"kata {kata.number} passes now.", tone="good")
        where = cells.shown(written.path, self.place.home)
        if written.kept_file:
            where += f" (this cell is still the stub: the `{kata.target}` already in that file was checked)"
        card.add("checked", f"{where}, {kata.target}")
        if written.backup is not None:
            card.add("backup", f"the code it replaced: {cells.shown(written.backup, self.place.home)}")
        if gpu.uses_gpu(kata, self.place.course):
            card.add("ran on", gpu.backend_line())
        if summary.state == NOT_STARTED:
            card.add("task", kata.goal)
        elif summary.state != PASSED:
            self._failure_rows(card, kata, checked)
        total = len(self.curriculum.katas)
        card.footer = f"progress {progress_text(len(checked.done & set(self.curriculum.by_id)), total)}"
        following = self._following(kata, checked)
        if summary.state == PASSED and following is not None:
            card.footer += f". Next: kata {following.number} {following.title} (`%kata {following.id}`)."
        for line in checked.room_lines:
            card.footer += f" {line}"
        return card

    def _failure_rows(self, card: Card, kata: Kata, checked: Checked) -> None:
        summary = checked.summary
        card.add("check", summary.check)
        card.add("why", summary.message, code=True, tone="bad")
        if checked.mistake:
            card.add("mistake", checked.mistake, tone="bad")
        lines = summary.printed.splitlines()
        if lines:
            shown = "\n".join(line[:100] for line in lines[:PRINTED_LINES])
            more = f" (first {PRINTED_LINES} of {len(lines)} lines)" if len(lines) > PRINTED_LINES else ""
            card.add("print" + more, shown, code=True)
        level = min(checked.hint_level, len(kata.hints) - 1)
        card.add(f"hint {level + 1}/{len(kata.hints)}", kata.hints[level], tone="hint")
        if checked.streak >= 2:
            card.add("", f"{checked.streak} failing checks in a row: the hints go one step further every few checks.")

    def _following(self, kata: Kata, checked: Checked) -> Kata | None:
        later = self.curriculum.katas[kata.position + 1 :]
        return next((k for k in later if k.id not in checked.done), None)


def error_card(message: str) -> Card:
    card = Card("Neural Katas", ERROR)
    card.add("what", message, tone="bad")
    return card


_SESSION: Session | None = None


def current() -> Session:
    global _SESSION
    if _SESSION is None:
        _SESSION = Session()
    return _SESSION


def use(home: str | Path | None = None) -> Session:
    """Use ``home`` for this kernel's katas and progress (None: $KATAS_NOTEBOOK_HOME, else the checkout)."""
    global _SESSION
    _SESSION = Session(home)
    return _SESSION


LEARNER_ERRORS = (cells.CellError, place.PlaceError, CurriculumError, KeyError, OSError)
