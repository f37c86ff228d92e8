"""The katas in Jupyter and Colab: the same harness, cards and progress in a notebook.

``%load_ext dojo`` registers ``%kata`` and ``%%kata`` (:mod:`dojo.notebook.magics`);
plain Python has the same through :func:`check`, :func:`show` and :func:`use`.

How a check works (:mod:`dojo.notebook.cells`, :mod:`dojo.notebook.runner`): the
cell's definition of the kata's function or class is written into the learner's
``katas/<module>.py`` (of the checkout, or of the folder the learner named), and
the kata's tests run on that folder through the harness's own nested pytest
session (:func:`dojo.harness.verdicts.run_katas`): the same forked, sandboxed
child, reference cache, messages, named mistakes, hints and progress as ``pytest``.
"""

from __future__ import annotations

from pathlib import Path


def _display(card) -> None:
    from IPython.display import display

    display(card)


def check(kata_id: str) -> None:
    """Check the newest cell that defines the kata's function or class, and show the verdict's card."""
    from IPython import get_ipython

    from . import magics, session

    shell = get_ipython()
    try:
        if shell is None:
            raise session.cells.CellError("check() reads the notebook's cells: call it in Jupyter, Colab or IPython")
        _display(magics.check_card(kata_id, shell))
    except session.LEARNER_ERRORS as error:
        _display(session.error_card(magics._say(error)))


def show(kata_id: str | None = None) -> None:
    """The kata's card (title, task, docstring, stub to copy); without an id, progress by track."""
    from . import magics, session

    try:
        current = session.current()
        _display(current.intro(current.kata(kata_id)) if kata_id else current.overview())
    except session.LEARNER_ERRORS as error:
        _display(session.error_card(magics._say(error)))


def use(home: str | Path | None = None) -> None:
    """Keep this kernel's katas and progress in ``home`` (default: $KATAS_NOTEBOOK_HOME, else the checkout)."""
    from . import session

    _display(session.use(home).overview())


def load_ipython_extension(ipython) -> None:
    from .magics import load

    load(ipython)
