"""Count the Python-level work a function does, so that a loop over rows shows even when C drives it.

A vectorised function runs the same Python for 4 rows as for 64: NumPy's
compiled loops do the per-row work. A loop over rows runs some Python once per
row. The plain way to see that, counting the lines of the learner's file that
run (``sys.settrace``), misses every loop that C drives: ``list(map(np.subtract,
rows, others))``, ``functools.reduce(np.add, rows)``, ``sum(rows)``,
``np.vectorize(math.exp)``, ``np.frompyfunc(f, 1, 1)``, ``np.apply_along_axis``.
There the per-row call goes from C to C (or into NumPy's own Python), and no
line of the learner's file runs in between.

:func:`python_work` therefore counts two things while the function runs:

* the lines of the implementation folder that run (``sys.settrace``), and
* the items that the helpers which loop in C hand to a function or take from
  an iterable: ``map``, ``filter``, ``sum``, ``functools.reduce``,
  ``itertools.starmap``, ``itertools.accumulate``, ``np.vectorize``,
  ``np.frompyfunc``, ``np.apply_along_axis``, ``np.apply_over_axes`` and
  ``np.fromiter`` are swapped, for the length of the call, for versions that
  count each item. Their loops still run in C and give the same results.

Library code is not counted line by line on purpose: NumPy's own Python may
take another branch for another size (``np.einsum(..., optimize=True)`` runs
45 more calls for 8 rows than for 4 or 64), which is not a loop over rows.

The swap covers the names the learner's code reaches the helpers by: the
builtins, the attributes of the ``numpy``, ``functools`` and ``itertools``
modules, and any alias in the learner's module (``from numpy import vectorize
as vec``). Everything is put back when the call returns, whatever it did.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import itertools
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: ``name: (home module, which argument the helper loops over)``: "function" when it calls its first
#: argument once per item, "iterable" when it takes its first argument item by item.
C_LOOPS = {
    "map": (builtins, "function"),
    "filter": (builtins, "function"),
    "sum": (builtins, "iterable"),
    "reduce": (functools, "function"),
    "starmap": (itertools, "function"),
    "accumulate": (itertools, "iterable"),
    "vectorize": (np, "function"),
    "frompyfunc": (np, "function"),
    "apply_along_axis": (np, "function"),
    "apply_over_axes": (np, "function"),
    "fromiter": (np, "iterable"),
}


class _Counter:
    """Lines run inside ``folder`` (a trace function) and items handed out by the C-looping helpers."""

    def __init__(self, folder: Path):
        self.folder = str(folder)
        self.lines = 0
        self.items = 0

    def trace(self, frame, event, arg):
        return self._line if frame.f_code.co_filename.startswith(self.folder) else None

    def _line(self, frame, event, arg):
        if event == "line":
            self.lines += 1
        return self._line

    def counted_calls(self, function):
        """``function``, counting one item per call."""
        if not callable(function):
            return function

        @functools.wraps(function)
        def each_item(*args, **kwargs):
            self.items += 1
            return function(*args, **kwargs)

        return each_item

    def counted_items(self, iterable):
        """``iterable``, counting one item per item taken."""
        for item in iterable:
            self.items += 1
            yield item

    def shim(self, original, loops_over):
        """``original`` with its first argument counted."""
        wrap = self.counted_calls if loops_over == "function" else self.counted_items

        def counted(first, *args, **kwargs):
            return original(wrap(first), *args, **kwargs)

        return counted


@contextlib.contextmanager
def _c_loops_counted(function: Callable, counter: _Counter):
    """Swap the C-looping helpers for counting ones, in their modules and in ``function``'s module."""
    namespace = getattr(function, "__globals__", None)
    if namespace is None:  # a callable object: the module its class was defined in
        namespace = vars(sys.modules.get(type(function).__module__, builtins))
    undo: list[Callable[[], None]] = []
    try:
        for name, (module, loops_over) in C_LOOPS.items():
            original = getattr(module, name)
            replacement = counter.shim(original, loops_over)
            setattr(module, name, replacement)
            undo.append(functools.partial(setattr, module, name, original))
            for alias, value in list(namespace.items()):  # `from numpy import vectorize as vec`
                if value is original:
                    namespace[alias] = replacement
                    undo.append(functools.partial(namespace.__setitem__, alias, original))
        yield
    finally:
        for step in reversed(undo):
            step()


def python_work(function: Callable, folder: Path, *args) -> int:
    """How much Python runs per item while ``function(*args)`` runs: lines in ``folder``, plus the items
    that map, sum, np.vectorize, np.apply_along_axis ... hand to a function or take one by one.

    Deterministic, unlike a clock. A loop over ``n`` rows (a ``for``, a
    comprehension, or one of the C-driven helpers above) makes this grow with
    ``n``; vectorised code keeps it the same for any ``n``.
    """
    counter = _Counter(folder)
    previous = sys.gettrace()
    with _c_loops_counted(function, counter):
        sys.settrace(counter.trace)
        try:
            function(*args)
        finally:
            sys.settrace(previous)
    return counter.lines + counter.items
