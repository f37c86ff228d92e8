"""Running the generated notebooks on a real Jupyter kernel, cheaply enough for CI.

Every notebook's cells run in order, for real, on one IPython kernel (nbclient): one
kernel start for all thirteen, instead of one each (a start costs seconds, and the
harness's caches warm once). The kernel works in a copy of the checkout (its
``katas/``, ``.katas/`` and ``notebooks/``), so the project's own files are never touched.
"""

from __future__ import annotations

import inspect
import re
import shutil
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("curriculum", "katas", "notebooks", "pyproject.toml", "conftest.py")


def course_copy(folder: Path) -> Path:
    """A checkout of the course in ``folder`` (the kata tests, stubs, manifest and notebooks)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(source, folder / name)
    shutil.copytree(ROOT / "tests" / "katas", folder / "tests" / "katas", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def notebooks(checkout: Path) -> list[dict]:
    """The generated notebooks of ``checkout``, in course order."""
    order = tomllib.loads((checkout / "curriculum" / "course.toml").read_text(encoding="utf-8"))["tracks"]
    import nbformat

    return [nbformat.read(checkout / "notebooks" / f"{name}.ipynb", as_version=4) for name in order]


def kata_of(cell: dict) -> tuple[str, str]:
    meta = cell.get("metadata", {}).get("neural_katas", {})
    return meta.get("kata", ""), meta.get("role", "")


def answer_cell(kata) -> str:
    """The answer key's definition of the kata's target, as a learner would paste it into the stub cell."""
    from dojo.course import definitions

    text = (ROOT / "solutions" / kata.path).read_text(encoding="utf-8")
    return definitions.definition(text, kata.target)


def mutant_cell(variant, target: str) -> str:
    """A mutant's source, renamed to the kata's target: the learner's wrong cell."""
    source = textwrap.dedent(inspect.getsource(variant.obj))
    return re.sub(rf"^(def|class) {variant.obj.__name__}\b", rf"\1 {target}", source, count=1, flags=re.M)


@dataclass
class Ran:
    """What the kernel showed for each check cell, by kata id (the text/plain of its card)."""

    cards: dict[str, str]
    errors: list[str]
    seconds: float


def execute(cells: list[dict], workdir: Path, timeout: float = 1800) -> Ran:
    """Run ``cells`` in order on one fresh IPython kernel started in ``workdir``."""
    import time

    import nbformat
    from nbclient import NotebookClient

    document = nbformat.v4.new_notebook()
    document.cells = [nbformat.from_dict(dict(cell)) for cell in cells]
    for cell in document.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    started = time.monotonic()
    client = NotebookClient(
        document,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    cards, errors = {}, []
    for cell in document.cells:
        if cell.cell_type != "code":
            continue
        text = "\n".join(
            output.get("data", {}).get("text/plain", "") if output.output_type != "stream" else output.text
            for output in cell.outputs
        )
        errors += [f"{cell.source[:60]!r}: {o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
        kata_id, role = kata_of(cell)
        if role == "check":
            cards[kata_id] = text
    return Ran(cards, errors, time.monotonic() - started)
