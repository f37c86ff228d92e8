"""What a kata's verdict depends on, as one digest: so that a passed kata is rerun only when that changed.

A kata's verdict depends on:

* the learner's definition of its target (a function or class), and every
  top-level definition that one uses, followed through the implementation's
  own modules (``from .activations import sigmoid`` leads into
  ``activations.py``), each compared as code (``ast``), so comments and blank
  lines do not count;
* whatever else of the implementation its tests ask for by name
  (``impl.get("neuron", "dense_forward")``, ``impl.module("optimizers")``);
* the kata's tests themselves and its manifest entry (a course update reruns it).

Editing one kata therefore does not rerun an earlier, unrelated capstone, while
changing a helper that a passed kata calls does. When anything cannot be read
or parsed, there is no digest, and the kata is simply rerun.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cached_property, lru_cache
from pathlib import Path

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class ModuleFacts:
    """One module of an implementation folder, parsed once."""

    def __init__(self, path: Path):
        self.path = path
        self._code: dict[str, str] = {}
        self._uses: dict[str, set[str]] = {}

    @cached_property
    def tree(self) -> ast.Module | None:
        try:
            return ast.parse(self.path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            return None

    @cached_property
    def definitions(self) -> dict[str, ast.stmt]:
        if self.tree is None:
            return {}
        found: dict[str, ast.stmt] = {}
        for node in self.tree.body:
            if isinstance(node, DEFINITIONS):
                found[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            found[name.id] = node
        return found

    @cached_property
    def sibling_imports(self) -> dict[str, tuple[str, str | None]]:
        """Local name -> (sibling module, name in it, or None for the whole module), for relative imports."""
        imports: dict[str, tuple[str, str | None]] = {}
        if self.tree is None:
            return imports
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    if node.module:
                        imports[alias.asname or alias.name] = (node.module, alias.name)
                    else:
                        imports[alias.asname or alias.name] = (alias.name, None)
        return imports

    @cached_property
    def preamble(self) -> str:
        """Module-level statements that are not definitions (imports, settings), as code."""
        if self.tree is None:
            return ""
        return "\n".join(
            ast.dump(node) for node in self.tree.body if not isinstance(node, (*DEFINITIONS, ast.Assign, ast.AnnAssign))
        )

    def code(self, name: str) -> str:
        """The definition of ``name`` as code (``ast.dump``), computed once however many katas use it."""
        if name not in self._code:
            self._code[name] = ast.dump(self.definitions[name])
        return self._code[name]

    def uses(self, name: str) -> set[str]:
        """The names the definition of ``name`` mentions, computed once."""
        if name not in self._uses:
            self._uses[name] = _names_used(self.definitions[name])
        return self._uses[name]


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class Dependencies:
    """Digests of what each kata's verdict depends on, for one implementation folder."""

    def __init__(self, folder: Path, tests_folder: Path):
        self.folder = Path(folder)
        self.tests_folder = Path(tests_folder)
        self._modules: dict[str, ModuleFacts] = {}

    def module(self, name: str) -> ModuleFacts:
        if name not in self._modules:
            self._modules[name] = ModuleFacts(self.folder / f"{name}.py")
        return self._modules[name]

    def closure(
        self, roots: list[tuple[str, str | None]], visited: set[str] | None = None
    ) -> list[tuple[str, str, str]] | None:
        """Every (module, name, code) reachable from ``roots``; None when a module cannot be parsed.

        ``visited`` (if given) receives the name of every module read on the way.
        """
        seen: dict[tuple[str, str], str] = {}
        work = list(roots)
        while work:
            module_name, name = work.pop()
            if visited is not None:
                visited.add(module_name)
            facts = self.module(module_name)
            if facts.tree is None:
                return None
            if name is None:  # the whole module
                work.extend((module_name, n) for n in facts.definitions)
                seen[(module_name, "<preamble>")] = facts.preamble
                continue
            if (module_name, name) in seen:
                continue
            node = facts.definitions.get(name)
            if node is None:
                sibling = facts.sibling_imports.get(name)
                if sibling is not None:
                    work.append(sibling)
                seen[(module_name, name)] = "<missing>" if sibling is None else "<import>"
                continue
            seen[(module_name, name)] = facts.code(name)
            seen.setdefault((module_name, "<preamble>"), facts.preamble)
            for used in facts.uses(name):
                if used in facts.definitions:
                    work.append((module_name, used))
                elif used in facts.sibling_imports:
                    work.append(facts.sibling_imports[used])
        return sorted((m, n, code) for (m, n), code in seen.items())

    def digest(self, kata, extra: list[tuple[str, str | None]] = (), test_text: str = "") -> str | None:
        """One digest for the kata's code and tests; None when it cannot be computed (then: rerun)."""
        return self.digest_and_files(kata, extra, test_text)[0]

    def digest_and_files(
        self, kata, extra: list[tuple[str, str | None]] = (), test_text: str = ""
    ) -> tuple[str | None, list[Path]]:
        """The digest, and the implementation's files it was computed from."""
        visited: set[str] = set()
        parts = self.closure([(kata.module, kata.target), *extra], visited)
        files = [self.module(name).path for name in sorted(visited)]
        if parts is None:
            return None, files
        hasher = hashlib.sha256()
        for module_name, name, code in parts:
            hasher.update(f"{module_name}.{name}\0{code}\0".encode())
        hasher.update(test_text.encode())
        hasher.update(repr((kata.id, kata.target, kata.goal, kata.hints, kata.timeout)).encode())
        return hasher.hexdigest(), files


#: The fixture through which kata tests reach the implementation: ``impl.get("module", "name")``.
IMPLEMENTATION_FIXTURE = "impl"


def tests_dependencies(test_file: Path, kata_id: str) -> tuple[list[tuple[str, str | None]], str]:
    """What a kata's tests ask of the implementation by name, and the tests' own code.

    Follows the kata's test functions (those marked ``@pytest.mark.kata(kata_id)``)
    into the test module's helper functions they call, collecting literal
    ``impl.get("module", "name")`` and ``impl.module("module")`` calls (on the
    ``impl`` fixture only: other ``.get`` calls are a dict's).
    """
    try:
        stat = test_file.stat()
    except OSError:
        return [], ""
    module = _test_module(str(test_file), stat.st_mtime_ns, stat.st_size)
    if module is None:
        return [], ""
    seen: set[str] = set()
    work = list(module.marked.get(kata_id, ()))
    while work:
        name = work.pop()
        if name in seen:
            continue
        seen.add(name)
        work.extend(n for n in module.uses(name) if n in module.functions and n not in seen)
    wanted = [request for name in sorted(seen) for request in module.requests(name)]
    # The module's own preamble (imports, constants, shared inputs) and the kata's functions.
    text = module.preamble + "\n".join(module.code(name) for name in sorted(seen))
    return wanted, text


class _TestModule:
    """One kata test module, parsed once per run however many of its katas ask for a digest."""

    def __init__(self, tree: ast.Module):
        self.functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        self.marked: dict[str, list[str]] = {}
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and ast.unparse(decorator.func) == "pytest.mark.kata"
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    self.marked.setdefault(decorator.args[0].value, []).append(node.name)
        self.preamble = "\n".join(ast.dump(n) for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef)))
        self._code: dict[str, str] = {}
        self._uses: dict[str, set[str]] = {}
        self._requests: dict[str, list[tuple[str, str | None]]] = {}

    def code(self, name: str) -> str:
        if name not in self._code:
            self._code[name] = ast.dump(self.functions[name])
        return self._code[name]

    def uses(self, name: str) -> set[str]:
        """Names a test function mentions, its parameters included (fixtures are asked for by name)."""
        if name not in self._uses:
            node = self.functions[name]
            self._uses[name] = _names_used(node) | {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        return self._uses[name]

    def requests(self, name: str) -> list[tuple[str, str | None]]:
        """The literal ``impl.get(module, name)`` / ``impl.module(module)`` calls in one test function."""
        if name not in self._requests:
            found: list[tuple[str, str | None]] = []
            for call in ast.walk(self.functions[name]):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                    continue
                if not (isinstance(call.func.value, ast.Name) and call.func.value.id == IMPLEMENTATION_FIXTURE):
                    continue  # a dict's .get("monitor", "val_loss") names no module of the learner's
                literal = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if call.func.attr == "get" and len(literal) >= 2:
                    found.append((literal[0], literal[1]))
                elif call.func.attr == "module" and len(literal) >= 1:
                    found.append((literal[0], None))
            self._requests[name] = found
        return self._requests[name]


@lru_cache(maxsize=32)
def _test_module(path: str, mtime_ns: int, size: int) -> _TestModule | None:
    """The parsed test module at ``path``; a new modification time or size parses it again."""
    try:
        return _TestModule(ast.parse(Path(path).read_bytes()))
    except (OSError, SyntaxError, ValueError):
        return None
