"""Load an implementation folder (``katas/``, ``solutions/``, a learner's copy).

An implementation is a folder of modules with the curriculum's layout
(``neuron.py``, ``activations.py``, ...). It is imported as a package under a
private name, so that:

* the same tests can run against ``katas/``, ``solutions/`` or any other copy
  in one process without their modules colliding in ``sys.modules``;
* modules inside it can import each other relatively
  (``from .activations import sigmoid``), whatever the folder is called.

A module that does not import (a learner's syntax error, a bad import) is not a
crash of the test run: it becomes a :class:`KataLoadError` that says which file
and line, and the harness reports it against the kata it blocks. A file that is
not UTF-8 says exactly that, and what to do (save it as UTF-8).
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import traceback
import types
from pathlib import Path

#: Every implementation folder is imported as a package whose name starts with this.
PACKAGE_PREFIX = "_kata_impl_"


class KataLoadError(Exception):
    """A module of the implementation could not be imported."""

    def __init__(self, path: Path, line: int | None, summary: str):
        self.path = path
        self.line = line
        self.summary = summary
        where = f"{path}, line {line}" if line else f"{path}"
        super().__init__(f"{where}: {summary}")


class MissingKataError(Exception):
    """The module imports, but the function or class the kata needs is not in it."""


class Implementation:
    """A folder of kata modules, imported lazily module by module."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"implementation folder {self.folder} does not exist")
        digest = hashlib.sha1(str(self.folder).encode()).hexdigest()[:10]
        self.package = f"{PACKAGE_PREFIX}{self.folder.name}_{digest}"
        self._errors: dict[str, KataLoadError] = {}

    def __repr__(self) -> str:
        return f"Implementation({str(self.folder)!r})"

    def _ensure_package(self) -> None:
        if self.package not in sys.modules:
            package = types.ModuleType(self.package)
            package.__path__ = [str(self.folder)]
            package.__file__ = None
            sys.modules[self.package] = package

    def forget_modules(self) -> None:
        """Drop this folder's modules from ``sys.modules``: the next import reads the files afresh.

        The package itself stays, so that code holding it (a notebook's relative imports) still
        resolves; the package also keeps each submodule as an attribute, and that goes too:
        ``from . import optimizers`` would otherwise find the old module while the tests import a
        new one (two different ``Adam`` classes).
        """
        prefix = self.package + "."
        package = sys.modules.get(self.package)
        for name, loaded in list(sys.modules.items()):
            if name.startswith(prefix):
                del sys.modules[name]
                attribute = name[len(prefix) :]
                if package is not None and getattr(package, attribute, None) is loaded:
                    delattr(package, attribute)

    def module(self, name: str) -> types.ModuleType:
        """Import ``<folder>/<name>.py``; raise KataLoadError if it is broken."""
        if name in self._errors:
            raise self._errors[name]
        self._ensure_package()
        qualified = f"{self.package}.{name}"
        if qualified in sys.modules:
            return sys.modules[qualified]
        path = self.folder / f"{name}.py"
        if not path.exists():
            error = KataLoadError(path, None, f"file not found (expected {name}.py in {self.folder})")
            self._errors[name] = error
            raise error
        not_utf8 = _not_utf8(path)
        if not_utf8 is not None:  # Python may accept it (a byte in a comment), the kata tools cannot
            error = _not_utf8_error(path, not_utf8)
            self._errors[name] = error
            raise error
        try:
            return importlib.import_module(qualified)
        except Exception as exc:  # the learner's code may raise anything at import time
            sys.modules.pop(qualified, None)
            error = self._describe(exc, name)
            self._errors[name] = error
            raise error from None

    def _describe(self, exc: BaseException, name: str) -> KataLoadError:
        if isinstance(exc, KataLoadError):
            return exc
        if isinstance(exc, SyntaxError) and exc.filename:
            not_utf8 = _not_utf8(Path(exc.filename))
            if not_utf8 is not None:
                return _not_utf8_error(Path(exc.filename), not_utf8)
            detail = exc.msg
            if exc.text:
                text = exc.text.rstrip("\n")
                detail += f"\n    {text}"
                if exc.offset:
                    detail += "\n    " + " " * (exc.offset - 1) + "^"
            return KataLoadError(Path(exc.filename), exc.lineno, f"{type(exc).__name__}: {detail}")
        # Any other error: blame the deepest frame inside this implementation.
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if f.filename and Path(f.filename).resolve().is_relative_to(self.folder)
        ]
        frame = frames[-1] if frames else None
        path = Path(frame.filename) if frame else self.folder / f"{name}.py"
        return KataLoadError(path, frame.lineno if frame else None, f"{type(exc).__name__}: {exc}")

    def get(self, module: str, target: str):
        """Return ``<module>.<target>`` (a function or class the kata asks for)."""
        mod = self.module(module)
        try:
            return getattr(mod, target)
        except AttributeError:
            raise MissingKataError(
                f"{self.folder.name}/{module}.py has no `{target}`: define it (the tests import it by that exact name)"
            ) from None


def _not_utf8(path: Path):
    """The :class:`~dojo.course.definitions.NotUTF8` of ``path``, or None if it is UTF-8 (or unreadable)."""
    from .definitions import NotUTF8, decode

    try:
        decode(path.read_bytes(), str(path))
    except NotUTF8 as error:
        return error
    except OSError:
        return None
    return None


def _not_utf8_error(path: Path, error) -> KataLoadError:
    return KataLoadError(
        path,
        error.line,
        f"this file is not UTF-8 text (byte 0x{error.byte:02x}): save it as "
        f"UTF-8 in your editor (Python reads source files as UTF-8), then run again",
    )


def resolve(folder: str | Path, root: Path) -> Implementation:
    """Turn ``--impl`` / ``KATAS_IMPL`` (absolute, or relative to the root) into an Implementation."""
    path = Path(folder)
    if not path.is_absolute():
        path = root / path
    return Implementation(path)
