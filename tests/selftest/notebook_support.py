"""Running the generated notebooks on a real Jupyter kernel, cheaply enough for CI.

Every notebook's cells run in order, for real, on one IPython kernel (nbclient): one
kernel start for all thirteen, instead of one each (a start costs seconds, and the
harness's caches warm once). The kernel works in a copy of the checkout (its
``katas/``, ``.katas/`` and ``notebooks/``), so the project's own files are never touched.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shutil
import textwrap
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dojo.course import definitions
from dojo.course.curriculum import load

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
    """The answer key's code for the kata's target, as a learner would write it in the stub cell: the
    definition, and before it the imports and helpers of the answer key that it needs and the stub
    module lacks (``from .activations import sigmoid`` included: a cell may import as the file does)."""
    return _answer_cell(kata.id)


@cache
def _course():
    return load(ROOT / "curriculum")


@cache
def _parsed(path: Path) -> tuple[str, ast.Module]:
    """A file of the project's answer key or stubs, read and parsed once (they do not change during a run)."""
    text = path.read_text(encoding="utf-8")
    return text, ast.parse(text)


def _definition(parsed: tuple[str, ast.Module], name: str) -> str | None:
    """The top-level definition of ``name``, as :func:`dojo.course.definitions.definition` gives it."""
    text, tree = parsed
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    node = next((node for node in tree.body if isinstance(node, kinds) and node.name == name), None)
    if node is None:
        return None
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return "\n".join(text.splitlines()[first - 1 : node.end_lineno]) + "\n"


@cache
def _answer_cell(kata_id: str) -> str:
    """:func:`answer_cell`, computed once per kata: every kernel run and the in-process test ask again."""
    kata = _course().by_id[kata_id]
    (text, solution), (_, stub) = _parsed(ROOT / "solutions" / kata.path), _parsed(ROOT / "katas" / kata.path)
    have, offered = _bound(stub), _bound(solution)
    targets = {k.target for k in _course().katas}

    def wanted(name: str) -> bool:
        """Missing from the stub module, or a helper the answer key writes differently (``_Recurrent``)."""
        if name == kata.target or name not in offered:
            return False
        if name not in have:
            return True
        return name not in targets and not definitions.same_code(
            _definition(_parsed(ROOT / "katas" / kata.path), name), _definition((text, solution), name)
        )

    needed, queue = [], [offered[kata.target]]
    while queue:
        node = queue.pop()
        if node in needed:
            continue
        needed.append(node)
        used = {leaf.id for leaf in ast.walk(node) if isinstance(leaf, ast.Name)}
        queue += [offered[n] for n in sorted(used) if wanted(n)]
    lines = text.splitlines()
    needed.sort(key=lambda node: node.lineno)
    return (
        "\n\n".join(
            "\n".join(lines[min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]) - 1 : n.end_lineno])
            for n in needed
        )
        + "\n"
    )


def mutant_cell(variant, kata) -> str:
    """A mutant as the learner's whole cell: a function renamed to the kata's target; a mutant that
    subclasses the answer (``class SGD(SGD)`` overriding ``apply``) becomes the answer key's class
    with the mutant's methods in place of its own."""
    source = textwrap.dedent(inspect.getsource(variant.obj))
    node = ast.parse(source).body[0]  # from the `def` line: the registering decorator is not the learner's
    lines = source.splitlines()
    if not isinstance(node, ast.ClassDef) or kata.target not in [getattr(b, "id", "") for b in node.bases]:
        body = "\n".join(lines[node.lineno - 1 : node.end_lineno]) + "\n"
        return re.sub(rf"^(def|class) {variant.obj.__name__}\b", rf"\1 {kata.target}", body, count=1)
    answer = definitions.definition((ROOT / "solutions" / kata.path).read_text(encoding="utf-8"), kata.target)
    for method in node.body:
        if isinstance(method, ast.FunctionDef):
            start = min([method.lineno] + [d.lineno for d in method.decorator_list])
            text = textwrap.dedent("\n".join(lines[start - 1 : method.end_lineno]))
            answer = "class _Class:\n" + textwrap.indent(
                definitions.replace_definition(_methods(answer), method.name, text), "    "
            )
            answer = _as_class(answer, kata.target, variant)
    return answer


def _methods(class_source: str) -> str:
    """The body of a class, dedented: its methods as top-level definitions."""
    tree = ast.parse(class_source).body[0]
    lines = class_source.splitlines()
    return textwrap.dedent("\n".join(lines[tree.body[0].lineno - 1 : tree.end_lineno])) + "\n"


def _as_class(wrapped: str, name: str, variant) -> str:
    answer = definitions.definition((ROOT / "solutions" / f"{variant.kata_id.split('.')[0]}.py").read_text(), name)
    header = answer.splitlines()[0] if answer else f"class {name}:"
    return header + "\n" + "\n".join(wrapped.splitlines()[1:]) + "\n"


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
    # The setup cell installs the course with %pip wherever `dojo` cannot be imported (Colab, a
    # fresh laptop). Here it must always find this checkout's: an install from the kernel would put
    # the temporary copy (which has no dojo/) into the interpreter everyone shares, and every later
    # subprocess of the suite would then fail to import dojo.
    # And should that branch ever run, pip only says what it would do (PIP_DRY_RUN): the test then fails
    # on the missing course, instead of breaking the interpreter for the rest of the suite.
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        "PIP_DRY_RUN": "1",
    }
    client = NotebookClient(
        document,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(env=environment)
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


def _bound(tree: ast.Module) -> dict[str, ast.stmt]:
    bound = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound[node.name] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                bound.update({leaf.id: node for leaf in ast.walk(target) if isinstance(leaf, ast.Name)})
    return bound
