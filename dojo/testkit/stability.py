"""A property-based search for the smallest input that breaks a learner's function.

Fixed test cases check ±1000; a learner's formula may still break somewhere
else (``exp(x) / (1 + exp(x))`` from x = 710 on, a log(0) at a probability of
exactly 1, a softmax shifted by the wrong max). :func:`smallest_breaking_input`
asks hypothesis for an input where the function returns NaN or inf, and lets it
shrink that input to the simplest one it can, so that the message shows
``x = [710.0]`` rather than a random array.

The search is deterministic (``derandomize=True``, no example database, a fixed
number of examples): the same learner's code gets the same message twice. It
is small (a few dozen examples of a few elements each), so that a passing kata
pays well under 0.2 s for it. Only the learner's function runs during the
search; the reference engine is asked once, for the input that was found.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from dojo.course.implementation import PACKAGE_PREFIX

EXAMPLES = 25  # enough to reach the ends of the ranges below; hypothesis tries the bounds early


def _settings():
    from hypothesis import HealthCheck, Phase, settings

    return settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def floats(limit: float = 1e4):
    """Finite float64 numbers in [-limit, limit]."""
    from hypothesis import strategies as st

    return st.floats(-limit, limit, allow_nan=False, allow_infinity=False)


def vectors(limit: float = 1e4, max_size: int = 4):
    """1-D float64 arrays of 1 to ``max_size`` elements."""
    from hypothesis.extra import numpy as hnp

    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=1, max_side=max_size), elements=floats(limit))


def matrices(limit: float = 1e4, max_rows: int = 3, max_columns: int = 4):
    """2-D float64 arrays (rows of scores), at least 2 columns."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    shapes = st.tuples(st.integers(1, max_rows), st.integers(2, max_columns))
    return hnp.arrays(np.float64, shapes, elements=floats(limit))


def labels_and(values, max_size: int = 4):
    """``(y_true, y_pred)`` pairs of one shape ``(1, n)``: 0/1 labels and ``values`` (a strategy of floats)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    def pair(n):
        return st.tuples(
            hnp.arrays(np.float64, (1, n), elements=st.sampled_from([0.0, 1.0])),
            hnp.arrays(np.float64, (1, n), elements=values),
        )

    return st.integers(1, max_size).flatmap(pair)


def one_hot_and_logits(limit: float = 1e4, max_rows: int = 2, max_classes: int = 4):
    """``(one-hot y_true, logits)`` pairs of shape ``(rows, classes)``."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    def pair(shape):
        rows, classes = shape
        labels = hnp.arrays(np.int64, (rows,), elements=st.integers(0, classes - 1))
        return st.tuples(
            labels.map(lambda ids: np.eye(classes)[ids]), hnp.arrays(np.float64, shape, elements=floats(limit))
        )

    return st.tuples(st.integers(1, max_rows), st.integers(2, max_classes)).flatmap(pair)


def _broken(function: Callable, args: tuple) -> bool:
    """True when the function returns NaN or inf (or raises an arithmetic error) for finite inputs."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = function(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        array = np.asarray(result, dtype=np.float64)
    except NotImplementedError:
        raise  # a stub: "not started", not a search
    except (FloatingPointError, OverflowError, ZeroDivisionError):
        return True
    except Exception:
        return False
    return not np.all(np.isfinite(array))


def _mine_only_the_learners_constants(function: Callable) -> None:
    """Let hypothesis take number constants from the learner's code alone, not from the harness's.

    Hypothesis now and then tries a constant it found in the "local" code loaded
    (every module outside the standard library and site-packages), parsing the
    source of each such module the first time it sees it. The learner's own
    constants are worth trying (``np.clip(x, -500, 500)`` is tried at 500), but in
    a checkout the harness itself (``dojo``, ``reference``, ``kernels``: about 80
    modules) is local too: parsing it cost about 0.7 s in every kata's child
    process, where the search itself takes well under 0.2 s, and its constants
    (ports, limits, sizes) are noise for a search on a formula. Every module but
    those of the implementation that ``function`` comes from is marked as already
    seen. This is hypothesis's private state: if it moves, the search is slower
    again, never wrong.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - another hypothesis layout
        return
    seen = getattr(providers, "_seen_modules", None)
    if not isinstance(seen, set):
        return
    module = getattr(function, "__module__", None) or ""
    learners = module.split(".")[0] if module.startswith(PACKAGE_PREFIX) else None
    for name, loaded in list(sys.modules.items()):
        if learners is None or name.split(".")[0] != learners:
            seen.add(id(loaded))


def smallest_breaking_input(function: Callable, strategy: Any) -> tuple | None:
    """The simplest argument tuple drawn from ``strategy`` for which ``function`` returns NaN/inf, or None.

    ``strategy`` draws a tuple of positional arguments (use ``st.tuples``).
    """
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    _mine_only_the_learners_constants(function)
    try:
        return find(strategy, lambda args: _broken(function, args), settings=_settings())
    except NoSuchExample:
        return None


def check_stable(function: Callable, strategy: Any, reference: Callable, name: str, hint: str = "") -> None:
    """Fail, showing the smallest breaking input and Keras's value there, if the search finds one.

    ``reference(*args)`` is Keras's answer for the input found; when Keras is not
    finite there either, the input is not the learner's mistake and nothing fails.
    """
    from .checks import fail, show

    found = smallest_breaking_input(function, strategy)
    if found is None:
        return
    expected = reference(*found)
    if not np.all(np.isfinite(np.asarray(expected, dtype=np.float64))):
        return
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            got = show(function(*[a.copy() if isinstance(a, np.ndarray) else a for a in found]))
        except Exception as error:
            got = f"{type(error).__name__}: {error}"
    arguments = ", ".join(show(a) for a in found)
    fail(
        f"a search for inputs that break {name} (hypothesis, the smallest it found) stopped at "
        f"{name}({arguments}): your function returned {got}, Keras gives {show(expected)}"
        + (f". {hint}" if hint else "")
    )
