"""What a kata's child process puts in place before any learner code runs.

* **Forbidden imports.** The kata is to build it yourself: while a kata runs,
  learner code that imports TensorFlow, Keras, PyTorch, JAX, the answer key or
  the reference engine gets one clear ``ImportError``. Only imports *made from
  the learner's folder* are refused (the reference engine itself may import
  TensorFlow); a kata that needs one of them says so in the manifest
  (``imports = ["cupy"]``).
* **Tampering.** The checks compare with NumPy; a learner who replaced a NumPy
  function (``np.allclose = lambda *a, **k: True``) would fool them. The
  NumPy namespace is fingerprinted before the kata and compared after each
  check; a replaced function turns the verdict into a failure that says so.
* **Resource limits.** A memory cap (on the address space the kata adds to
  what the child starts with) and a cap on the size of files written (captured
  output goes to a file: a print loop cannot fill the disk).
* **One BLAS thread.** NumPy's matrix products run on one thread: a kata's
  are small, and OpenBLAS threads that spin-wait for each other on a busy
  machine (a laptop with a browser open, CI, ``pytest -n auto``) made them
  several times slower, never faster.
"""

from __future__ import annotations

import builtins
import importlib
import os
import signal
import types
from operator import is_
from pathlib import Path

import numpy as np

try:  # imported here, once in the parent, not in every forked child
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - a dependency of scikit-learn, which the course requires
    threadpool_limits = None

#: Top-level packages a kata may not import from the learner's folder.
FORBIDDEN = ("tensorflow", "keras", "tf_keras", "torch", "jax", "jaxlib", "solutions", "reference")

#: Largest file the child may write (its captured output is one): 512 MiB.
MAX_FILE_BYTES = 512 * 2**20


class ForbiddenImport(ImportError):
    """Learner code imported a library that would do the kata for it."""


def _importer_file(globals_: dict | None) -> str:
    if not globals_:
        return ""
    return str(globals_.get("__file__") or "")


def install_import_guard(folder: Path, allowed: tuple[str, ...] = ()) -> None:
    """Refuse forbidden imports made by modules inside ``folder``."""
    folder_text = str(Path(folder).resolve()) + os.sep
    blocked = tuple(name for name in FORBIDDEN if name not in allowed)
    original_import = builtins.__import__
    original_import_module = importlib.import_module

    def refuse(name: str, where: str) -> None:
        top = name.split(".")[0]
        if top in blocked and where.startswith(folder_text):
            raise ForbiddenImport(
                f"`import {top}` is not allowed in a kata: the kata is to build it yourself with NumPy "
                f"(the checks already compare you with TensorFlow)"
            )

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0:
            refuse(name, _importer_file(globals))
        return original_import(name, globals, locals, fromlist, level)

    def guarded_import_module(name, package=None):
        import sys

        caller = sys._getframe(1).f_globals
        if not name.startswith("."):
            refuse(name, _importer_file(caller))
        return original_import_module(name, package)

    builtins.__import__ = guarded_import
    importlib.import_module = guarded_import_module


#: The builtins the fingerprint's check uses, bound when the harness imports this module, before any
#: learner code runs: a kata that rebinds ``builtins.all`` (or ``map``, ``sorted``, ...) in its child
#: cannot make a replaced NumPy function look unchanged.
_all, _callable, _getattr, _isinstance, _len, _map, _sorted, _vars, _zip = (
    all,
    callable,
    getattr,
    isinstance,
    len,
    map,
    sorted,
    vars,
    zip,
)


class NumpyFingerprint:
    """The identity of every public callable of NumPy (and a few submodules), taken before the kata."""

    MODULES = ("", "linalg", "testing", "random", "fft")
    #: Submodules the checks build their inputs with: always in the fingerprint, loaded if need be
    #: (numpy.random is lazy in NumPy 2, and a replaced default_rng could feed the checks easy inputs).
    CHECKS_USE = ("linalg", "random")
    NDARRAY_METHODS = ("__array_function__", "__eq__", "__array_ufunc__", "sum", "all", "any", "astype")

    def __init__(self) -> None:
        # Read from the modules' dicts: asking for every name in dir(np) imports all of NumPy's lazy
        # submodules (numpy.testing, numpy.ma, f2py, ...), a fifth of a second in every kata's process.
        # The others of MODULES are covered when they are loaded (by then, by whatever uses them).
        for sub in self.CHECKS_USE:
            importlib.import_module(f"numpy.{sub}")
        self.modules = {sub: self._module(sub) for sub in self.MODULES}
        # A copy of each namespace as it was: comparing a namespace with its copy, key by key and value
        # by value by identity in C (_unchanged), makes the check after every test cost microseconds, not
        # the milliseconds of walking some 600 names in Python each time.
        self.copies = {sub: dict(vars(module)) for sub, module in self.modules.items() if module is not None}
        self.methods = self._methods()

    @staticmethod
    def _module(sub: str) -> types.ModuleType | None:
        module = _vars(np).get(sub) if sub else np
        return module if _isinstance(module, types.ModuleType) else None

    @classmethod
    def _methods(cls) -> list[object]:
        return [_getattr(np.ndarray, name, None) for name in cls.NDARRAY_METHODS]

    def replaced(self) -> list[str]:
        """Names whose object changed since the fingerprint was taken."""
        names = []
        for sub, copy in self.copies.items():
            module = self._module(sub)  # np.linalg itself may have been replaced
            now = _vars(module) if module is not None else {}
            if module is self.modules[sub] and _unchanged(now, copy):
                continue
            prefix = f"numpy.{sub + '.' if sub else ''}"
            names += [
                f"{prefix}{name}"
                for name, value in copy.items()
                if not name.startswith("_") and _callable(value) and now.get(name) is not value
            ]
        methods = self._methods()
        names += [
            f"numpy.ndarray.{n}" for n, was, now in _zip(self.NDARRAY_METHODS, self.methods, methods) if was is not now
        ]
        return _sorted(names)


def _unchanged(now: dict, copy: dict) -> bool:
    """The same keys holding the same objects, in the same order: identity only, never ``==``.

    ``now == copy`` would be as fast, but it asks a replaced value's own ``__eq__``, and an object
    whose ``__eq__`` always says True would pass for the function it replaced. Any difference (even
    a key removed and added back, which moves it to the end) sends :meth:`NumpyFingerprint.replaced`
    to its name-by-name comparison.
    """
    return _len(now) == _len(copy) and _all(_map(is_, now, copy)) and _all(_map(is_, now.values(), copy.values()))


def _address_space_in_use() -> int:
    """Bytes of virtual address space this process maps now (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def limit_resources(memory_bytes: int | None) -> None:
    """Cap the child's address space and the size of any file it writes."""
    try:
        import resource
    except ImportError:  # not on this platform: no caps
        return
    if memory_bytes:
        try:
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            # The cap is on what the kata adds: the forked child already maps the harness
            # (and, in a long self-test session, TensorFlow's address space).
            cap = _address_space_in_use() + memory_bytes
            cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        except (ValueError, OSError):
            pass
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        cap = MAX_FILE_BYTES if hard == resource.RLIM_INFINITY else min(MAX_FILE_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, hard))
        # Without this, going over the cap kills the process (SIGXFSZ); ignored,
        # the write fails with "File too large" and the report can say why.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    except (ValueError, OSError, AttributeError):
        pass


def one_blas_thread() -> None:
    """Limit OpenBLAS (or MKL) inside NumPy to one thread for the rest of this (child) process.

    Measured on a loaded 2-core machine, the answer key's checks: the text
    classifier's fit-parity checks (64 x 20 ids, LSTM(64)) took 2.4-4.8 s each
    with OpenBLAS's default threads and 0.6-0.9 s with one. (A product can
    differ in its last bit with another thread count, as it can from machine
    to machine; every check compares with a tolerance far above that.)
    threadpoolctl comes with scikit-learn.
    """
    if threadpool_limits is not None:
        threadpool_limits(limits=1, user_api="blas")


class GlobalState:
    """Process-wide settings learner code may change, saved before a check and put back after it.

    In the kata's child nothing leaks to *other* katas anyway; this keeps the
    harness's own work after a check (reports, the next check of the same
    kata) from running under the learner's recursion limit, working
    directory or NumPy error settings.
    """

    def __init__(self) -> None:
        import sys

        self.recursion_limit = sys.getrecursionlimit()
        self.cwd = os.getcwd()
        self.numpy_errors = np.geterr()
        self.print_options = np.get_printoptions()

    def restore(self) -> None:
        import sys

        sys.setrecursionlimit(self.recursion_limit)
        try:
            os.chdir(self.cwd)
        except OSError:
            pass
        np.seterr(**self.numpy_errors)
        np.set_printoptions(**self.print_options)
