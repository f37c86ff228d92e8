"""``notebooks/<track>.ipynb``, generated from the curriculum and the katas' stubs (never edited by hand).

``kata dev notebooks`` writes them; ``kata dev check`` fails when one differs from
what this module generates now (and names the command). A notebook is:

1. a title cell (the track, its summary, how the notebook works, the module's teaching text);
2. the setup cell: installs the course where ``dojo`` is missing (one ``%pip`` line:
   the checkout around the notebook, else a clone from :data:`REPOSITORY_URL`, so the
   same file works on a laptop and in Colab), loads ``%load_ext dojo``, and brings the
   learner's ``katas/<module>.py`` names into the notebook (``%kata track MODULE``);
3. per kata: a markdown cell (number, title, task), a code cell with the stub to
   complete (only the first kata of a function or class that several katas grow: the
   later ones edit that cell), and a check cell ``check("<id>")``.

The JSON is written with sorted keys, one-space indentation and stable cell ids, so
the same course always gives the same bytes.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from ..course import definitions
from ..course.curriculum import Curriculum, Kata, Track, load
from ..files import write_atomic

#: The repository the notebooks install from and Colab opens them from. This checkout has no
#: git remote: replace the placeholder here, run `kata dev notebooks`, and the README's
#: "Open in Colab" lines and every notebook's install line follow.
REPOSITORY_URL = "https://github.com/REPLACE-WITH-OWNER/neural-katas"
BRANCH = "main"
FOLDER = "notebooks"
REGENERATE = "kata dev notebooks"


def colab_url(track: Track) -> str:
    path = REPOSITORY_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/{FOLDER}/{track.module}.ipynb"


def readme_lines(curriculum: Curriculum) -> list[str]:
    """The README's "Open in Colab" lines, one per track (checked by ``kata dev check``)."""
    return [
        f"- [Open in Colab: {track.number} {track.name}]({colab_url(track)}) · `{FOLDER}/{track.module}.ipynb`"
        for track in curriculum.tracks
    ]


def _cell_id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", "-".join(parts))[:64]


def _markdown(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": _lines(text)}


def _code(cell_id: str, text: str, kata: Kata | None = None, role: str = "") -> dict:
    """A code cell; a kata's stub and check cells say which kata and role in their metadata."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"neural_katas": {"kata": kata.id, "role": role}} if kata is not None else {},
        "outputs": [],
        "source": _lines(text),
    }


def _lines(text: str) -> list[str]:
    lines = text.rstrip("\n").split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def setup_source(track: Track) -> str:
    return f"""# Neural Katas: installs the course where it is missing (Colab, a fresh laptop), then loads %kata.
# Your katas and progress: the checkout's katas/ and .katas/ (set KATAS_NOTEBOOK_HOME, or run
# `%kata home PATH`, to keep them elsewhere, e.g. on Google Drive).
import importlib.util, pathlib, sys
if importlib.util.find_spec("dojo") is None:
    _here = next((p for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents) if (p / "curriculum" / "course.toml").exists()), None)
    _source = str(_here) if _here else "git+{REPOSITORY_URL}#egg=neural-katas"
    %pip install -q --src src -e {{_source}}
    sys.path.insert(0, str(_here or (pathlib.Path("src") / "neural-katas").resolve()))
%load_ext dojo
from dojo.notebook import check
%kata track {track.module}"""


def _module_text(root: Path, module: str) -> tuple[str, str]:
    """The stub module's source and its docstring (the track's teaching text)."""
    source = (root / "katas" / f"{module}.py").read_text(encoding="utf-8")
    return source, ast.get_docstring(ast.parse(source)) or ""


def _title_cell(track: Track, katas: list[Kata], teaching: str) -> dict:
    count = f"{len(katas)} kata{'s' if len(katas) != 1 else ''}"
    text = (
        f"# Neural Katas · track {track.number}: {track.name}\n\n{track.summary}\n\n"
        f"{count}. Run the setup cell first. For each kata, complete the function or class in its code cell, "
        f"run that cell, then run the check cell below it: the check runs the kata's tests on your code "
        f"(the same checks, messages and hints as `pytest` in a checkout) and records your progress. "
        f"`%kata ID` shows a kata's card again; `%kata hint ID` the next hint.\n\n"
        f"*Generated from the course by `{REGENERATE}`: do not edit this notebook's source by hand.*"
    )
    if teaching:
        text += "\n\n```text\n" + teaching.strip() + "\n```"
    return _markdown(_cell_id(track.module, "title"), text)


def _kata_cells(kata: Kata, stub: str | None, grown_in: Kata | None) -> list[dict]:
    label = "  (capstone)" if kata.kind == "capstone" else ""
    text = f"## {kata.number} {kata.title}{label}\n\n**Task.** {kata.goal}"
    cells = []
    if grown_in is not None:
        text += (
            f"\n\nThis kata grows `{kata.target}`: add what it asks to your `{kata.target}` in the cell of kata "
            f"{grown_in.number} above, run that cell again, then run the check below."
        )
        cells.append(_markdown(_cell_id(kata.id, "task"), text))
    else:
        text += f"\n\nComplete `{kata.target}` below and run the cell, then run the check."
        cells.append(_markdown(_cell_id(kata.id, "task"), text))
        cells.append(
            _code(_cell_id(kata.id, "code"), stub or f"# {kata.target}: not in katas/{kata.path}", kata, "stub")
        )
    cells.append(_code(_cell_id(kata.id, "check"), f'check("{kata.id}")', kata, "check"))
    return cells


def notebook(root: Path, curriculum: Curriculum, track: Track) -> dict:
    katas = curriculum.in_track(track)
    sources: dict[str, str] = {}
    _, teaching = _module_text(root, track.module)
    cells = [_title_cell(track, katas, teaching), _code(_cell_id(track.module, "setup"), setup_source(track))]
    first_of: dict[tuple[str, str], Kata] = {}
    for kata in katas:
        if kata.module not in sources:
            sources[kata.module] = _module_text(root, kata.module)[0]
        key = (kata.module, kata.target)
        grown_in = first_of.get(key)
        first_of.setdefault(key, kata)
        cells += _kata_cells(kata, definitions.definition(sources[kata.module], kata.target), grown_in)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "neural_katas": {"track": track.module, "generated_by": REGENERATE},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def expected(root: Path) -> dict[Path, str]:
    """Every notebook as the course generates it now, by path."""
    curriculum = load(root / "curriculum")
    return {
        root / FOLDER / f"{track.module}.ipynb": render(notebook(root, curriculum, track))
        for track in curriculum.tracks
    }


def write(root: Path) -> list[Path]:
    """Write the notebooks that differ; remove generated ones of tracks that no longer exist."""
    wanted = expected(root)
    changed = []
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text, mode=0o644)  # a file to share and commit, not a secret
            changed.append(path)
    for path in sorted((root / FOLDER).glob("*.ipynb")):
        if path not in wanted:
            path.unlink()
            changed.append(path)
    return changed


def stale(root: Path) -> list[str]:
    """Notebooks that differ from what the course generates now (missing, changed, left over)."""
    wanted = expected(root)
    problems = []
    for path, text in wanted.items():
        if not path.exists():
            problems.append(f"{FOLDER}/{path.name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{FOLDER}/{path.name} is out of date with the course")
    problems += [
        f"{FOLDER}/{path.name} belongs to no track"
        for path in sorted((root / FOLDER).glob("*.ipynb"))
        if path not in wanted
    ]
    return problems
