"""The answer key's code in the learner's file: what it relies on, and when it is known to pass.

``kata catch-up`` and ``kata solution`` put the answer key's definition of a
kata into the learner's module. That definition may rely on other top-level
definitions of the answer key's module: a helper function, a constant, a base
class with a member (``_Recurrent.build``). :func:`support` finds them all,
followed through each other:

* ``missing``: the learner's module does not define them at all
  (:func:`dojo.course.definitions.splice` brings those along);
* ``differing``: the learner's module defines them differently, and they are
  not a kata of their own (a kata keeps the learner's code). Written as they
  are, the answer key's definition would run against the wrong helper.

A kata filled in from the answer key need not run again to be known to pass:
CI runs the answer key against every kata. That proof holds exactly when every
definition the kata's verdict depends on (:mod:`dojo.course.dependencies`) is
the answer key's, compared as code without docstrings (the learner's file
keeps the kata's teaching text). :class:`AnswerKeyPasses` says when, and gives
the digest the plugin compares on later runs.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .curriculum import Kata
from .dependencies import Dependencies, tests_dependencies

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def without_docstrings(node: ast.AST) -> str:
    """``node`` as code (``ast.dump``) with every docstring taken out.

    The docstrings are taken out of ``node`` itself (no copy: a copy of a large class costs more
    than all the rest of a catch-up), so only pass a tree this module parsed for comparing. The
    result is kept on the node: asked again, the same node gives the same answer.
    """
    known = getattr(node, "_code_without_docstrings", None)
    if known is not None:
        return known
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if (
            isinstance(inner, DEFINITIONS)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            inner.body = body[1:] or [ast.Pass()]
    node._code_without_docstrings = ast.dump(node)
    return node._code_without_docstrings


@lru_cache(maxsize=64)
def _parsed(text: str) -> ast.Module:
    """A module's tree, parsed once per text (catch-up asks about one file's text many times)."""
    return ast.parse(text)


def _top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    return {node.name: node for node in tree.body if isinstance(node, DEFINITIONS)}


def _bound(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, DEFINITIONS):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(leaf.id for target in targets for leaf in ast.walk(target) if isinstance(leaf, ast.Name))
    return names


@dataclass
class Support:
    """What the answer key's definition of one name relies on, beyond itself."""

    missing: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)


def support(learner_text: str, key_text: str, name: str, kata_targets: set[str]) -> Support:
    """The top-level definitions of ``key_text`` that ``name`` relies on and ``learner_text`` lacks or has
    differently (kata targets other than ``name`` excepted: those keep the learner's code)."""
    key_tree, learner_tree = _parsed(key_text), _parsed(learner_text)
    key_defs, learner_defs = _top_level(key_tree), _top_level(learner_tree)
    learner_bound = _bound(learner_tree)
    found = Support()
    seen = {name}
    work = [name]
    while work:
        node = key_defs.get(work.pop())
        if node is None:
            continue
        for used in sorted({leaf.id for leaf in ast.walk(node) if isinstance(leaf, ast.Name)} - seen):
            seen.add(used)
            if used not in key_defs:
                continue  # an import or a constant: splice brings the missing ones
            if used not in learner_bound:
                found.missing.append(used)
            elif used not in kata_targets and (
                used not in learner_defs or without_docstrings(learner_defs[used]) != without_docstrings(key_defs[used])
            ):
                found.differing.append(used)
            work.append(used)
    return found


def _closure_code(dependencies: Dependencies, roots: list[tuple[str, str | None]], memo: dict) -> dict | None:
    """Every definition reachable from ``roots``, as code without docstrings; None if a module does not parse.

    ``memo`` keeps each definition's code between calls on the same ``dependencies``.
    """
    parts = dependencies.closure(roots)
    if parts is None:
        return None
    code = {}
    for module, name, text in parts:
        if name == "<preamble>":
            continue  # imports and the module's docstring: the kata file's own words
        if (module, name) not in memo:
            node = dependencies.module(module).definitions.get(name)
            memo[(module, name)] = without_docstrings(node) if node is not None else text
        code[(module, name)] = memo[(module, name)]
    return code


class AnswerKeyPasses:
    """Which katas of the learner's folder are the answer key's in everything they depend on.

    Both folders are parsed once, however many katas are asked about (catch-up asks about dozens).
    """

    def __init__(self, root: Path, folder: Path | None = None):
        self.root = Path(root)
        self.tests = self.root / "tests" / "katas"
        self.learner = Dependencies(folder or self.root / "katas", self.tests)
        self.key = Dependencies(self.root / "solutions", self.tests)
        self._memos: tuple[dict, dict] = ({}, {})

    def now(self) -> AnswerKeyPasses:
        """The same question about the learner's folder as it is now (its files may have changed since this
        one parsed them); the answer key's side, parsed already, is kept."""
        fresh = copy.copy(self)
        fresh.learner = Dependencies(self.learner.folder, self.tests)
        fresh._memos = ({}, self._memos[1])
        return fresh

    def digest(self, kata: Kata) -> str | None:
        """The digest of ``kata`` in the learner's folder when everything its verdict depends on is the
        answer key's (so CI proves it passes), else None."""
        wanted, test_text = tests_dependencies(self.tests / f"test_{kata.module}.py", kata.id)
        roots = [(kata.module, kata.target), *wanted]
        ours = _closure_code(self.learner, roots, self._memos[0])
        if ours is None or ours != _closure_code(self.key, roots, self._memos[1]):
            return None
        return self.learner.digest(kata, wanted, test_text)
