"""``kata dev check``: the course's structure, proved in seconds, without TensorFlow.

It reads files (TOML and Python source, parsed with ``ast``), never imports
the course's modules, so it runs before anything is installed beyond the
standard library and NumPy-free. Each problem is one line: where, what, and the
fix. What it proves:

* the manifest loads; every track file is in ``course.toml`` and has no
  hand-written number; every kata has at least three hints;
* every kata's target exists in ``katas/`` and ``solutions/``, with the same
  signature (for a class: the same methods, each with the same signature);
* every stub raises ``NotImplementedError("kata <id>")`` and does nothing else,
  and every kata has a stub of its own unless it exercises a target an earlier
  kata already asked for (capstones);
* the given (solved) parts of each ``katas/`` module are identical to the
  answer key's: a learner's file stands alone, but there is one source; a
  given class has every member the answer key's kata classes rely on (what
  catch-up writes must run beside it);
* every kata has tests carrying its marker, and at least one mutant and one
  alternative in ``tests/selftest/mutants/``; every marker and variant names a
  kata of the manifest;
* no kata number is written by hand in ``katas/``, ``solutions/`` or ``tests/``;
* the counts the README states ("74 katas", "10 tracks", "0/74") are true;
* ``notebooks/<track>.ipynb`` are what ``kata dev notebooks`` generates from the
  course now, and the README has each track's "Open in Colab" line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from ..course.curriculum import Curriculum, CurriculumError, load

#: A kata number typed by hand: "kata 2.4" (the report prints such numbers; sources never should).
HAND_NUMBER = re.compile(r"\bkata \d+\.\d+\b")


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


class Sources:
    """Parsed Python files of one folder, by module name, parsed once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._trees: dict[str, ast.Module | None] = {}
        self.errors: dict[str, str] = {}

    def tree(self, module: str) -> ast.Module | None:
        if module not in self._trees:
            path = self.folder / f"{module}.py"
            try:
                self._trees[module] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except FileNotFoundError:
                self._trees[module] = None
            except (SyntaxError, UnicodeDecodeError, ValueError) as error:
                self._trees[module] = None
                self.errors[module] = str(error)
        return self._trees[module]


def _top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    return {
        node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def _signatures(node: ast.stmt) -> dict[str, str]:
    """A function's arguments, or each method's of a class, as source text."""
    return {name: ast.unparse(function.args) for name, function in _functions(node)}


def _stub_messages(node: ast.AST) -> list[str | None]:
    """The message of each ``raise NotImplementedError("...")`` in a function (None: not a plain string)."""
    messages = []
    for raise_ in (n for n in ast.walk(node) if isinstance(n, ast.Raise) and n.exc is not None):
        exc = raise_.exc
        if (
            not (isinstance(exc, ast.Call) and getattr(exc.func, "id", "") == "NotImplementedError")
            and getattr(exc, "id", "") != "NotImplementedError"
        ):
            continue
        ok = (
            isinstance(exc, ast.Call)
            and exc.args
            and isinstance(exc.args[0], ast.Constant)
            and isinstance(exc.args[0].value, str)
        )
        messages.append(exc.args[0].value if ok else None)
    return messages


def _half_done(node: ast.AST) -> str | None:
    """What a stub does besides raising NotImplementedError, when that could make it half-work."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Return) and inner.value is not None:
            return "returns a value"
        if (
            isinstance(inner, ast.Raise)
            and inner.exc is not None
            and "NotImplementedError" not in ast.unparse(inner.exc)
        ):
            return f"raises {ast.unparse(inner.exc)}"
    return None


def _without_docstrings(node: ast.AST) -> ast.AST:
    """A copy of ``node`` without docstrings: a kata file may teach in words the answer key does not use."""
    import copy

    node = copy.deepcopy(node)
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if (
            isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            inner.body = body[1:] or [ast.Pass()]
    return node


def _functions(node: ast.stmt):
    """A function, or a class's methods, with their qualified names."""
    if isinstance(node, ast.ClassDef):
        for member in node.body:
            if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{node.name}.{member.name}", member
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield node.name, node


def _members(node: ast.ClassDef) -> list[str]:
    """Names a class body defines: methods and class attributes."""
    names = []
    for member in node.body:
        if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(member.name)
        elif isinstance(member, (ast.Assign, ast.AnnAssign)):
            targets = member.targets if isinstance(member, ast.Assign) else [member.target]
            names.extend(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _names_in_bases(node: ast.stmt) -> set[str]:
    """The names a class's bases mention (empty for a function)."""
    if not isinstance(node, ast.ClassDef):
        return set()
    return {n.id for base in node.bases for n in ast.walk(base) if isinstance(n, ast.Name)}


def _same(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(_without_docstrings(a)) == ast.dump(_without_docstrings(b))


class CourseCheck:
    """All the structural checks of one checkout."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.problems: list[Problem] = []
        self.katas = Sources(self.root / "katas")
        self.solutions = Sources(self.root / "solutions")

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(where, what))

    def run(self) -> list[Problem]:
        try:
            curriculum = load(self.root / "curriculum")
        except CurriculumError as error:
            self.add("curriculum/", f"{error}")
            return self.problems
        except (KeyError, TypeError) as error:
            self.add("curriculum/", f"a track or kata entry lacks a field ({error}): see dojo/course/curriculum.py")
            return self.problems
        self.check_targets(curriculum)
        self.check_stubs(curriculum)
        self.check_given_parts(curriculum)
        self.check_given_bases(curriculum)
        self.check_tests_and_variants(curriculum)
        self.check_hand_numbers()
        self.check_readme(curriculum)
        self.check_notebooks(curriculum)
        return self.problems

    # ------------------------------------------------------------- targets

    def check_targets(self, curriculum: Curriculum) -> None:
        for module in sorted({k.module for k in curriculum.katas}):
            for sources, name in ((self.katas, "katas"), (self.solutions, "solutions")):
                if sources.tree(module) is None:
                    why = sources.errors.get(module, "the file is missing")
                    self.add(f"{name}/{module}.py", f"cannot be read ({why}): every track needs this module")
        for kata in curriculum.katas:
            stub_tree, key_tree = self.katas.tree(kata.module), self.solutions.tree(kata.module)
            if stub_tree is None or key_tree is None:
                continue
            stub, key = _top_level(stub_tree).get(kata.target), _top_level(key_tree).get(kata.target)
            for node, folder in ((stub, "katas"), (key, "solutions")):
                if node is None:
                    self.add(
                        f"{folder}/{kata.path}",
                        f"kata {kata.id} asks for `{kata.target}`, which is not "
                        f"defined here: add it (or fix `target` in the manifest)",
                    )
            if stub is None or key is None:
                continue
            theirs = _signatures(key)
            for name, args in _signatures(stub).items():
                if name in theirs and theirs[name] != args:
                    self.add(
                        f"katas/{kata.path}",
                        f"`{name}({args})` but the answer key has `{name}({theirs[name]})`: "
                        f"make the signatures the same",
                    )

    # --------------------------------------------------------------- stubs

    def check_stubs(self, curriculum: Curriculum) -> None:
        ids_by_module: dict[str, set[str]] = {}
        for kata in curriculum.katas:
            ids_by_module.setdefault(kata.module, set()).add(kata.id)
        targets = {(k.module, k.target) for k in curriculum.katas}
        stubbed: set[str] = set()
        for module, ids in ids_by_module.items():
            tree = self.katas.tree(module)
            if tree is None:
                continue
            for node in tree.body:
                if (module, getattr(node, "name", None)) not in targets:
                    continue  # given code (an abstract base class may raise NotImplementedError)
                for name, function in _functions(node):
                    messages = _stub_messages(function)
                    if not messages:
                        continue
                    where = f"katas/{module}.py, {name}"
                    extra = _half_done(function)
                    if extra:
                        self.add(
                            where,
                            f'a stub must only raise NotImplementedError("kata <id>"), but it also '
                            f"{extra}: take that out",
                        )
                    for message in messages:
                        match = re.match(r"kata ([\w.]+)(:|$)", message or "")
                        if not match or match.group(1) not in ids:
                            self.add(
                                where,
                                f"NotImplementedError({message!r}) names no kata of this module: write "
                                f'"kata <id>" with one of {sorted(ids)}',
                            )
                            continue
                        stubbed.add(match.group(1))
        seen_targets: set[tuple[str, str]] = set()
        for kata in curriculum.katas:
            reuses = (kata.module, kata.target) in seen_targets
            seen_targets.add((kata.module, kata.target))
            if kata.id not in stubbed and not reuses and self.katas.tree(kata.module) is not None:
                self.add(
                    f"katas/{kata.path}",
                    f"kata {kata.id} has no stub: `{kata.target}` must raise "
                    f'NotImplementedError("kata {kata.id}") as shipped',
                )

    # ---------------------------------------------------------- given code

    def check_given_parts(self, curriculum: Curriculum) -> None:
        """Solved code shipped in a kata file must be the answer key's, character for character in meaning."""
        targets: dict[str, set[str]] = {}
        for kata in curriculum.katas:
            targets.setdefault(kata.module, set()).add(kata.target)
        for module, names in sorted(targets.items()):
            stub_tree, key_tree = self.katas.tree(module), self.solutions.tree(module)
            if stub_tree is None or key_tree is None:
                continue
            key_defs = _top_level(key_tree)
            for name, node in _top_level(stub_tree).items():
                where = f"katas/{module}.py, {name}"
                if name not in key_defs:
                    if name not in names:
                        self.add(
                            where,
                            f"given code that solutions/{module}.py does not have: add it there "
                            f"(the answer key is the one source of given code)",
                        )
                    continue
                if name not in names and not isinstance(node, ast.ClassDef):
                    if not _same(node, key_defs[name]):
                        self.add(
                            where,
                            f"given code differs from solutions/{module}.py: copy the answer key's "
                            f"`{name}` into the kata file (they must stay identical)",
                        )
                    continue
                if not isinstance(node, ast.ClassDef):
                    continue
                # A class: every method the kata file gives must be the answer key's (which may have more,
                # e.g. a base class that also holds what the kata asks the learner to write).
                key_methods = dict(_functions(key_defs[name]))
                for qualified, method in _functions(node):
                    if _stub_messages(method):
                        continue
                    if qualified not in key_methods:
                        self.add(f"katas/{module}.py, {qualified}", f"given method missing from solutions/{module}.py")
                    elif not _same(method, key_methods[qualified]):
                        self.add(
                            f"katas/{module}.py, {qualified}",
                            f"given method differs from solutions/{module}.py: copy the answer key's version",
                        )

    def check_given_bases(self, curriculum: Curriculum) -> None:
        """A given class must hold every member the answer key's version has, where katas build on it.

        ``kata catch-up`` and ``kata solution`` write the answer key's kata class into the learner's
        file, beside the learner's (given) base class: an answer-key subclass that relies on a member
        only the answer key's base has (``_Recurrent.build``) would not run there.
        """
        targets: dict[str, set[str]] = {}
        for kata in curriculum.katas:
            targets.setdefault(kata.module, set()).add(kata.target)
        for module, names in sorted(targets.items()):
            stub_tree, key_tree = self.katas.tree(module), self.solutions.tree(module)
            if stub_tree is None or key_tree is None:
                continue
            key_defs = _top_level(key_tree)
            for name, node in _top_level(stub_tree).items():
                if name in names or not isinstance(node, ast.ClassDef) or name not in key_defs:
                    continue
                extra = sorted(set(_members(key_defs[name])) - set(_members(node)))
                users = [t for t in sorted(names) if t in key_defs and name in _names_in_bases(key_defs[t])]
                if extra and users:
                    self.add(
                        f"katas/{module}.py, {name}",
                        f"the answer key's {name} also has {', '.join(extra)}, which its "
                        f"{', '.join(users)} rely on: what catch-up and `kata solution` write would not run "
                        f"beside this {name}; move those members into the kata classes in solutions/{module}.py, "
                        f"or give them to this class too",
                    )

    # ------------------------------------------------------ tests, variants

    def _decorated_ids(self, folder: Path, *decorators: str) -> tuple[dict[str, dict[str, int]], list[Problem]]:
        """For each of ``decorators``, how many calls of it name each kata id, over ``folder``'s modules.

        One parse and one walk per file for all the decorators; a call's name is read from its
        ``Name``/``Attribute`` chain (``ast.unparse`` of every call of the mutants, twice, was most of
        a ``kata dev check``).
        """
        counts: dict[str, dict[str, int]] = {decorator: {} for decorator in decorators}
        problems: list[Problem] = []
        for path in sorted(folder.glob("*.py")):
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError) as error:
                problems.append(Problem(str(path.relative_to(self.root)), f"cannot be parsed: {error}"))
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
                    continue
                named = counts.get(_dotted_name(node.func))
                if named is not None:
                    named[str(node.args[0].value)] = named.get(str(node.args[0].value), 0) + 1
        return counts, problems

    def check_tests_and_variants(self, curriculum: Curriculum) -> None:
        marked, problems = self._decorated_ids(self.root / "tests" / "katas", "pytest.mark.kata")
        variants, more = self._decorated_ids(self.root / "tests" / "selftest" / "mutants", "mutant", "alternative")
        markers, mutants, alternatives = marked["pytest.mark.kata"], variants["mutant"], variants["alternative"]
        self.problems.extend(problems + more)
        known = set(curriculum.by_id)
        for kata in curriculum.katas:
            if not markers.get(kata.id):
                self.add(
                    f"tests/katas/test_{kata.module}.py",
                    f"no test carries @pytest.mark.kata({kata.id!r}): every kata needs its tests",
                )
            if not mutants.get(kata.id):
                self.add(
                    f"tests/selftest/mutants/{kata.module}.py",
                    f"kata {kata.id} has no mutant: add @mutant({kata.id!r}, expect=...) with a real mistake",
                )
            if not alternatives.get(kata.id):
                self.add(
                    f"tests/selftest/mutants/{kata.module}.py",
                    f"kata {kata.id} has no alternative: add @alternative({kata.id!r}), a correct version "
                    f"written another way",
                )
        for kind, counts in (("marker", markers), ("mutant", mutants), ("alternative", alternatives)):
            for kata_id in sorted(set(counts) - known):
                self.add("tests/", f"a {kind} names {kata_id!r}, which is not in the curriculum: fix the id")

    # ---------------------------------------------------- numbers and docs

    def check_hand_numbers(self) -> None:
        for folder in ("katas", "solutions", "tests/katas", "tests/selftest/mutants"):
            for path in sorted((self.root / folder).glob("*.py")):
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                for number, line in enumerate(text.splitlines(), start=1):
                    found = HAND_NUMBER.search(line)
                    if found:
                        self.add(
                            f"{path.relative_to(self.root)}:{number}",
                            f"{found.group(0)!r} is a kata number typed by hand: name the kata by its id "
                            f"(numbers come from the manifest order)",
                        )

    def check_readme(self, curriculum: Curriculum) -> None:
        readme = self.root / "README.md"
        if not readme.exists():
            return
        text = readme.read_text(encoding="utf-8")
        katas, tracks = len(curriculum.katas), len(curriculum.tracks)
        for found in re.finditer(r"\b(\d+) katas\b", text):
            if int(found.group(1)) != katas:
                self.add("README.md", f"says {found.group(0)!r}; the course has {katas} katas: correct it")
        for found in re.finditer(r"\b(\d+) tracks\b", text):
            if int(found.group(1)) != tracks:
                self.add("README.md", f"says {found.group(0)!r}; the course has {tracks} tracks: correct it")
        for found in re.finditer(r"\b\d+/(\d+) katas done\b", text):
            if int(found.group(1)) != katas:
                self.add("README.md", f"shows {found.group(0)!r}; the course has {katas} katas: correct it")

    def check_notebooks(self, curriculum: Curriculum) -> None:
        """The generated notebooks match the course, and the README links each track's."""
        from ..notebook import generate

        if not (self.root / generate.FOLDER).is_dir():
            self.add(f"{generate.FOLDER}/", f"missing: `{generate.REGENERATE}` writes a notebook per track")
            return
        for problem in generate.stale(self.root):
            self.add(problem.split(" ", 1)[0], f"{problem.split(' ', 1)[1]}: run `{generate.REGENERATE}`")
        readme = self.root / "README.md"
        text = readme.read_text(encoding="utf-8") if readme.exists() else ""
        for line in generate.readme_lines(curriculum):
            if line not in text:
                self.add("README.md", f'lacks the line {line!r} (the "Open in Colab" list): add it as it is')


def check(root: Path) -> list[Problem]:
    """Every structural problem of the course at ``root``."""
    return CourseCheck(root).run()


def _dotted_name(node: ast.expr) -> str | None:
    """``pytest.mark.kata`` for that chain of attributes, ``mutant`` for a plain name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])
