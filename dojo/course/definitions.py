"""Find, compare and replace one top-level definition inside a module's source.

``kata reset``, ``kata solution`` and ``kata catch-up`` work on one top-level
definition at a time (a ``def`` or ``class`` with its decorators), so that the
rest of a learner's file, their other katas, stays exactly as they wrote it.

Files are read with :func:`read_source`: a file that is not UTF-8 (a Latin-1
byte an old editor put in a comment) raises :class:`NotUTF8`, whose text is the
one line the learner sees, instead of a ``UnicodeDecodeError`` traceback.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

# ----------------------------------------------------------------- reading


class NotUTF8(ValueError):
    """A source file that is not UTF-8 text; ``str()`` says which byte, where, and what to do."""

    def __init__(self, shown: str, line: int, byte: int):
        self.shown, self.line, self.byte = shown, line, byte
        super().__init__(
            f"{shown} is not UTF-8 text (byte 0x{byte:02x} on line {line}): save it as UTF-8 "
            f"in your editor (Python reads source files as UTF-8), then try again"
        )


def decode(data: bytes, shown: str) -> str:
    """``data`` as UTF-8 text, or :class:`NotUTF8` naming ``shown`` (the path as the learner knows it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise NotUTF8(shown, line, data[error.start]) from None


def read_source(path: Path, shown: str | None = None) -> str:
    """The text of a source file; :class:`NotUTF8` if it is not UTF-8 (``OSError`` as usual)."""
    path = Path(path)
    return decode(path.read_bytes(), shown or str(path))


def read_tolerant(path: Path) -> str | None:
    """The text of a file for *looking* (finding a stub), never for rewriting: None if unreadable,
    undecodable bytes replaced. Nothing written from this text goes back to the learner's file."""
    try:
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None


# ------------------------------------------------------------- definitions


def _top_level(tree: ast.Module, name: str) -> ast.stmt | None:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return node
    return None


def definition_lines(source: str, name: str) -> list[int]:
    """The line of every top-level ``def``/``class name`` (by header, so a file that does not parse works too).

    Python keeps the last one; more than one means the learner's edits and a
    reset would not meet.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        header = re.compile(rf"^(async\s+def|def|class)\s+{re.escape(name)}\b")
        return [index + 1 for index, line in enumerate(source.splitlines()) if header.match(line)]
    return [
        node.lineno
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name
    ]


def compile_error(source: str, shown: str) -> SyntaxError | None:
    """Why ``source`` does not compile (a SyntaxError with its line), or None when it does."""
    try:
        compile(source, shown, "exec", dont_inherit=True)
    except SyntaxError as error:
        return error
    except ValueError as error:  # e.g. a null byte
        return SyntaxError(str(error))
    return None


def _span(node: ast.stmt) -> tuple[int, int]:
    """First and last line (1-based, inclusive) of a statement, decorators included."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno


def definition(source: str, name: str) -> str | None:
    """The text of the top-level ``def``/``class`` called ``name``, or None."""
    try:
        node = _top_level(ast.parse(source), name)
    except (SyntaxError, ValueError):
        return None
    if node is None:
        return None
    first, last = _span(node)
    return "\n".join(source.splitlines()[first - 1 : last]) + "\n"


def same_code(a: str | None, b: str | None) -> bool:
    """Equal up to trailing whitespace (what an editor may add on save)."""
    if a is None or b is None:
        return False
    return [line.rstrip() for line in a.strip().splitlines()] == [line.rstrip() for line in b.strip().splitlines()]


def contains(text: str, block: str | None) -> bool:
    """``block``'s lines appear in ``text`` unchanged (works on a file that does not parse)."""
    if not block:
        return False
    lines = [line.rstrip() for line in text.splitlines()]
    wanted = [line.rstrip() for line in block.strip("\n").splitlines()]
    return any(lines[i : i + len(wanted)] == wanted for i in range(len(lines) - len(wanted) + 1))


def is_stub(text: str | None) -> bool:
    return text is not None and "NotImplementedError" in text


def _span_by_indentation(lines: list[str], name: str) -> tuple[int, int] | None:
    """Where ``def name``/``class name`` is in a file that does not parse: from its
    line (and decorators) to the last indented line before the next top-level statement."""
    header = re.compile(rf"^(async\s+def|def|class)\s+{re.escape(name)}\b")
    for index, line in enumerate(lines):
        if header.match(line):
            first = index
            while first > 0 and lines[first - 1].startswith("@"):
                first -= 1
            last = index
            for after in range(index + 1, len(lines)):
                text = lines[after]
                if text.strip() and not text[0].isspace() and not text.startswith((")", "]", "}", "#")):
                    break
                if text.strip():
                    last = after
            return first + 1, last + 1
    return None


def replace_definition(source: str, name: str, new_text: str) -> str:
    """``source`` with the definition ``name`` replaced by ``new_text`` (appended if absent).

    A file with a syntax error (perhaps in this very definition, which is why
    the learner resets it) is handled by indentation instead of by the parser.
    """
    lines = source.splitlines()
    try:
        node = _top_level(ast.parse(source), name)
        span = _span(node) if node is not None else None
    except (SyntaxError, ValueError):
        span = _span_by_indentation(lines, name)
    new_lines = new_text.rstrip("\n").splitlines()
    if span is None:
        return source.rstrip("\n") + "\n\n\n" + "\n".join(new_lines) + "\n"
    first, last = span
    return "\n".join(lines[: first - 1] + new_lines + lines[last:]) + "\n"


def _bindings(tree: ast.Module) -> dict[str, ast.stmt]:
    """Top-level names a module defines, each with the statement that binds it."""
    bound: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        bound[leaf.id] = node
    return bound


def _names_used(node: ast.AST) -> set[str]:
    return {leaf.id for leaf in ast.walk(node) if isinstance(leaf, ast.Name)}


def splice(target_source: str, donor_source: str, name: str) -> str:
    """Put the donor's definition of ``name`` into ``target_source``.

    Module-level names that the donor's code needs and the target module
    lacks (a helper function, a constant, an import) come along: imports go
    after the target's last import, everything else just before ``name``.
    """
    donor_tree = ast.parse(donor_source)
    target_tree = ast.parse(target_source)
    node = _top_level(donor_tree, name)
    if node is None:
        raise KeyError(name)
    donor_bound, target_bound = _bindings(donor_tree), _bindings(target_tree)
    needed: list[ast.stmt] = []
    queue = sorted(_names_used(node))
    seen = {name}
    while queue:
        used = queue.pop()
        if used in seen or used in target_bound or used not in donor_bound:
            seen.add(used)
            continue
        seen.add(used)
        statement = donor_bound[used]
        if statement not in needed:
            needed.append(statement)
            queue.extend(sorted(_names_used(statement)))
    donor_lines = donor_source.splitlines()

    def text(stmt: ast.stmt) -> str:
        first, last = _span(stmt)
        return "\n".join(donor_lines[first - 1 : last])

    needed.sort(key=lambda stmt: stmt.lineno)  # keep the donor's order, so helpers precede their users
    imports = [text(s) for s in needed if isinstance(s, (ast.Import, ast.ImportFrom))]
    helpers = [text(s) for s in needed if not isinstance(s, (ast.Import, ast.ImportFrom))]
    spliced = _with_docstring(donor_lines, node, target_source.splitlines(), _top_level(target_tree, name))
    body = "\n\n\n".join(helpers + [spliced])
    result = replace_definition(target_source, name, body)
    if imports:
        lines = result.splitlines()
        tree = ast.parse(result)
        anchor = 0
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                anchor = stmt.end_lineno
            elif isinstance(stmt, ast.Expr) and isinstance(getattr(stmt, "value", None), ast.Constant) and anchor == 0:
                anchor = stmt.end_lineno  # after the module docstring
        lines[anchor:anchor] = imports
        result = "\n".join(lines) + "\n"
    return result


def _docstring_span(node: ast.stmt | None) -> tuple[int, int] | None:
    body = getattr(node, "body", None)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0].lineno, body[0].end_lineno
    return None


def _with_docstring(donor_lines: list[str], donor: ast.stmt, target_lines: list[str], target: ast.stmt | None) -> str:
    """The donor's definition, but with the target's docstring (the kata's teaching text) kept."""
    first, last = _span(donor)
    donor_doc, target_doc = _docstring_span(donor), _docstring_span(target)
    if target_doc is None:
        return "\n".join(donor_lines[first - 1 : last])
    if donor_doc is None:  # the answer key has no docstring: put the kata's after the `def` line(s)
        body_start = donor.body[0].lineno
        return "\n".join(
            donor_lines[first - 1 : body_start - 1]
            + target_lines[target_doc[0] - 1 : target_doc[1]]
            + donor_lines[body_start - 1 : last]
        )
    return "\n".join(
        donor_lines[first - 1 : donor_doc[0] - 1]
        + target_lines[target_doc[0] - 1 : target_doc[1]]
        + donor_lines[donor_doc[1] : last]
    )
