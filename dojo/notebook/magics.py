"""``%kata`` and ``%%kata``: the IPython magics that ``%load_ext dojo`` registers.

=====================================  ==================================================
``%kata``                              progress by track and the next kata
``%kata ID``                           the kata's card: title, task, docstring, the stub
``%%kata ID`` (first line of a cell)   run the cell, then check its definition
``%kata check ID``                     check the newest cell that defines the kata's name
``%kata hint ID``                      the next hint
``%kata track MODULE``                 your katas/MODULE.py's names in the notebook (helpers, earlier katas)
``%kata home [PATH]``                  where your katas and progress live (PATH: move them)
``%kata race [WORDS]``                 race your code, kernels and TensorFlow (HTML tables)
``%kata room join URL CODE --name N``  post each check to the workshop's live room
=====================================  ==================================================
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from . import cells, gpu, session
from .card import Card

USAGE = (
    "%kata [ID | check ID | hint ID | track MODULE | home [PATH] | race [WORDS] | room join URL CODE --name NAMES]; "
    "%%kata ID on a cell's first line checks that cell"
)


@magics_class
class KataMagics(Magics):
    @line_cell_magic
    def kata(self, line: str, cell: str | None = None):
        words = line.split()
        try:
            if cell is not None:
                display(self._define_and_check(line.strip(), cell))
                return
            shown = self._line(words, line)
            for item in shown if isinstance(shown, list) else [shown]:  # a race: one table per operation
                display(item)
        except session.LEARNER_ERRORS as error:
            display(session.error_card(_say(error)))

    def _define_and_check(self, key: str, cell: str) -> Card:
        if not key:
            return session.error_card("write the kata on the first line: %%kata neuron.weighted_sum")
        current = session.current()
        kata = current.kata(key)
        result = self.shell.run_cell(cell, store_history=False)
        if not result.success:
            return session.error_card(
                f"the cell raised an error before any check (see above): fix it, then run the cell again "
                f"to check kata {kata.number}"
            )
        return current.check(kata.id, self.shell.transform_cell(cell))

    def _line(self, words: list[str], line: str):
        current = session.current()
        if not words:
            return current.overview()
        verb, rest = words[0], words[1:]
        if verb == "check" and len(rest) == 1:
            return check_card(rest[0], self.shell)
        if verb == "hint" and len(rest) <= 1:
            following = current.kata(rest[0]) if rest else current.next_kata()
            return current.hint(following) if following else current.overview()
        if verb == "track" and len(rest) == 1:
            track = current.curriculum.track(int(rest[0]) if rest[0].isdigit() else rest[0])
            self.shell.user_ns.update(current.namespace(track.module))
            return current.overview()
        if verb == "home":
            return session.use(" ".join(rest) or None).overview() if rest else current.overview()
        if verb == "race":
            return gpu.race(current.place.home, " ".join(rest) or None)
        if verb == "room":
            return _room(current, line.split(None, 1)[1] if " " in line.strip() else "")
        if len(words) == 1:
            return current.intro(current.kata(verb))
        return session.error_card(f"unknown: %kata {line.strip()}. Usage: {USAGE}")


def check_card(key: str, shell) -> Card:
    """Check the newest cell of this kernel's history that defines the kata's name."""
    current = session.current()
    kata = current.kata(key)
    history = shell.user_ns.get("In", [])
    return current.check(kata.id, cells.newest_cell_defining(history, kata.target, shell.transform_cell))


def _room(current: session.Session, arguments: str) -> Card:
    """``kata room ...`` in the home, as a terminal would run it (the room's client lives with the tool)."""
    command = [sys.executable, "-m", "dojo", "room", *shlex.split(arguments)]
    done = subprocess.run(command, cwd=current.place.home, capture_output=True, text=True, timeout=120, check=False)
    card = Card("the live room", "" if done.returncode == 0 else "error")
    card.add("room", (done.stdout + done.stderr).strip() or "(no answer)", code=True)
    if done.returncode == 0 and arguments.split()[:1] == ["join"]:
        card.footer = "Each check from this notebook now posts your kata states to the room (never your code)."
    return card


def _say(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return str(error.args[0]) if error.args else "no such kata"
    return str(error)


def load(ipython) -> None:
    ipython.register_magics(KataMagics)
