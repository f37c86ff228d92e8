"""What kata tests assert with, so that every failure explains itself.

A kata test calls the learner's code through :func:`call` (which also catches
in-place mutation of inputs and a wrong signature), asks the reference engine
for the expected value, and compares with :func:`assert_close`. Each helper
raises :class:`KataFailure` with a message written for the learner: what was
called, what came back, what was expected, and, where a known mistake
explains the difference, that mistake by name.

Tolerances (forward ``rtol=1e-6``, gradients ``rtol=1e-5``) are float64
tolerances: TensorFlow and a correct NumPy implementation agree to ~1e-15 on
these operations, so 1e-6 leaves room for another correct formula (a loop, a
different stable form) while still rejecting every real mistake we know of,
which are off by far more.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

FORWARD_RTOL = 1e-6
GRADIENT_RTOL = 1e-5


class KataFailure(AssertionError):
    """A kata's check failed; the message is shown to the learner as it is.

    ``mistake`` is the known mistake that explains the failure (the key of
    ``assert_close(mistakes=...)``), or None: the name the live room counts
    across pairs, without the learner's values that the message also holds.
    """

    def __init__(self, message: str, mistake: str | None = None):
        super().__init__(message)
        self.mistake = mistake


def fail(message: str, mistake: str | None = None) -> None:
    raise KataFailure(message, mistake)


def check(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        fail(message)


# ---------------------------------------------------------------- describing


def show(value: Any, precision: int = 4, limit: int = 12) -> str:
    """A short, readable rendering of a value for a failure message."""
    if isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and _is_numeric_seq(value)):
        array = np.asarray(value)
        if array.ndim == 0:
            return _number(array.item(), precision)
        if array.size <= limit:
            return np.array2string(
                array, precision=precision, separator=", ", suppress_small=False, floatmode="maxprec"
            )
        # Too big to print whole: the shape, and the first values in memory order,
        # so that a message never shows a shape alone.
        head = ", ".join(
            _number(v, precision) if array.dtype.kind in "biuf" else repr(v) for v in array.ravel()[:4].tolist()
        )
        return f"<array of shape {array.shape}, dtype {array.dtype}: {head}, ...>"
    if isinstance(value, (float, int, np.floating, np.integer)):
        return _number(value, precision)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(value: Any, precision: int) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if value != 0 and (abs(value) < 10**-precision or abs(value) >= 1e6):
        return f"{value:.{precision}e}"
    return f"{value:.{precision + 2}g}"


def _is_numeric_seq(value: Any) -> bool:
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except Exception:
        return False


# -------------------------------------------------------------------- calling


def call(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``function`` and check that it left its inputs alone.

    Katas are pure functions: a function that changes
    the arrays it was given breaks the caller's data in ways that are hard to
    find later (a training set that slowly drifts, a gradient that is applied
    twice). Raises KataFailure naming the argument that changed.
    """
    name = getattr(function, "__name__", "your function")
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except TypeError as error:
        try:
            signature = str(inspect.signature(function))
        except (TypeError, ValueError):
            signature = "(...)"
        fail(
            f"`{name}{signature}` cannot be called the way the kata calls it ({error}). "
            f"Keep the signature from the stub."
        )
    except ValueError:  # builtins without a signature
        bound = None
    before = {
        key: copy.deepcopy(value) for key, value in (bound.arguments.items() if bound else []) if _holds_array(value)
    }
    result = function(*args, **kwargs)
    for key, original in before.items():
        if not _same(bound.arguments[key], original):
            fail(
                f"`{name}` changed its input `{key}` in place. Build a new array instead "
                f"(for example `out = x * 2`, not `x *= 2`), or copy first (`x = x.copy()`)."
            )
    return result


def call_noting_warnings(function: Callable, *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """:func:`call`, and a note naming the first floating-point warning NumPy gave meanwhile.

    The course's policy on overflow (docs/CONTRIBUTING.md): a RuntimeWarning
    such as "overflow encountered in exp" is allowed when the values that come
    back are finite and right (``np.where`` computes both branches, and
    ``2 / (1 + exp(-2x)) - 1`` is exact at x = -1000 even though exp overflows);
    NaN or inf where the answer is finite fails. The note is for the failure
    message (``assert_close(..., note=note)``): it tells the learner which
    warning came before the wrong value. The warnings are passed on to pytest,
    so ``pytest -rw`` still lists them.
    """
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            result = call(function, *args, **kwargs)
    for item in caught:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    numeric = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if not numeric:
        return result, ""
    first = numeric[0]
    where = f" ({_short_path(first.filename)}, line {first.lineno})" if first.filename else ""
    return result, f'(NumPy warned while your function ran: "{first.message}"{where})'


def _short_path(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def _holds_array(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_array(item) for item in value) or _is_numeric_seq(value)
    return False


def _same(now: Any, before: Any) -> bool:
    if isinstance(before, np.ndarray):
        return isinstance(now, np.ndarray) and now.shape == before.shape and np.array_equal(now, before, equal_nan=True)
    if isinstance(before, (list, tuple)):
        return len(now) == len(before) and all(_same(a, b) for a, b in zip(now, before))
    return True


# ------------------------------------------------------------------ comparing


def as_array(got: Any, call_text: str) -> np.ndarray:
    """Turn what the learner returned into an array, or say why it cannot be one."""
    if got is None:
        fail(f"{call_text} returned None: did you forget `return`?")
    try:
        array = np.asarray(got)
    except Exception:
        if isinstance(got, (list, tuple)):
            fail(
                f"{call_text} returned a {type(got).__name__} whose items have different shapes, so NumPy "
                f"cannot make one array of it: return one array (np.stack or np.concatenate the pieces)"
            )
        fail(f"{call_text} returned {type(got).__name__}, which is not a number or array")
    if array.dtype == object:
        fail(
            f"{call_text} returned an object array (dtype=object): its items are Python objects, not numbers "
            f"(arrays of different shapes, None, or a mix put into one array?). Build a float64 array instead"
        )
    if array.dtype.kind == "c":
        fail(
            f"{call_text} returned complex numbers ({array.dtype}, e.g. {_first_complex(array)}); the answer is "
            f"real. A square root, log or power of a negative number taken in complex arithmetic "
            f"(np.emath, a complex input, 1j) makes them: use the real formula"
        )
    if array.dtype.kind not in "biuf":
        fail(f"{call_text} returned {show(got)} ({type(got).__name__}), expected numbers in a NumPy array")
    return array


def _first_complex(array: np.ndarray) -> str:
    flat = array.ravel()
    nonreal = np.flatnonzero(flat.imag != 0)
    return str(flat[nonreal[0] if nonreal.size else 0])


def first_difference(got: np.ndarray, expected: np.ndarray, rtol: float = FORWARD_RTOL, atol: float = 1e-12) -> str:
    """'at index (0, 2): 0.1234, expected 0.5678 (7 of 20 values differ)' for two arrays of one shape.

    The first index (in row-major order) where they differ, not the largest error:
    the learner reads the arrays from the start.
    """
    got = np.asarray(got, dtype=np.float64) if got.dtype.kind in "biuf" else got
    if got.shape != expected.shape:
        return ""
    differ = ~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not differ.any():
        return ""
    index = tuple(int(i) for i in np.argwhere(differ)[0])
    where = f"at index {index}: " if index else ""
    count = f" ({int(differ.sum())} of {expected.size} values differ)" if expected.size > 1 else ""
    return f"{where}{show(got[index], 6)}, expected {show(expected[index], 6)}{count}"


def shape_hint(got: tuple, expected: tuple) -> str:
    """Name the usual reason for a shape mismatch."""
    if len(got) == len(expected) and got == expected[::-1]:
        return ": is something transposed?"
    if got == () and expected != ():
        return ": you returned one number; keep one value per element (no sum or mean over everything)"
    if expected == () and got != ():
        return ": the result should be a single number (a scalar)"
    if len(got) == len(expected) - 1:
        return ": a dimension is missing. Did you reduce over an axis that must stay, or forget keepdims=True?"
    if len(got) == len(expected) + 1 and 1 in got:
        return ": there is an extra dimension of size 1. Squeeze it, or drop keepdims=True"
    if int(np.prod(got)) == int(np.prod(expected)):
        return ": the right number of values in the wrong shape. Check the reshape or transpose"
    return ""


def assert_close(
    got: Any,
    expected: Any,
    *,
    call: str = "your function",
    rtol: float = FORWARD_RTOL,
    atol: float = 1e-12,
    mistakes: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    what: str = "returned",
    note: str = "",
) -> np.ndarray:
    """Compare the learner's result with the reference's and explain any difference.

    Args:
        got: what the learner's code returned.
        expected: what the reference engine computed (float64).
        call: how the call reads in a message, e.g. ``"softmax([[2.0, 1.0, 0.1]])"``.
        rtol, atol: as in ``np.allclose``.
        mistakes: known wrong answers, as ``{explanation: wrong_value}``; if the
            learner's result matches one of them (and it is not also the right
            answer), the explanation is the message.
        what: the verb in messages ("returned", "gave dx =").
        note: added to any failure message, e.g. the warnings NumPy printed
            while the learner's code ran (:func:`call_noting_warnings`).

    Returns:
        ``got`` as a NumPy array, for further checks.
    """
    try:
        return _assert_close(got, expected, call, rtol, atol, mistakes, what)
    except KataFailure as failure:
        if "float32" in note:  # the caller names float32 in its own words: keep one explanation
            failure = KataFailure(str(failure).split(FLOAT32_HINT_START)[0], failure.mistake)
        if note:
            raise KataFailure(f"{failure}\n  {note}", failure.mistake) from None
        raise


def _assert_close(got, expected, call, rtol, atol, mistakes, what) -> np.ndarray:
    expected = np.asarray(expected)
    array = as_array(got, call)
    if (
        array.dtype.kind in "iu"
        and expected.dtype.kind == "f"
        and not (array.shape == expected.shape and np.allclose(array, expected, rtol=rtol, atol=atol))
    ):
        # Named before any known mistake: a truncated value can look like another mistake by chance.
        values = (
            f"{show(array)}, expected {show(expected)}"
            if array.size <= 12 or array.shape != expected.shape
            else first_difference(array, expected, rtol, atol)
        )
        fail(
            f"{call} {what} integers ({array.dtype}), expected floats: {values}. An integer array cannot hold "
            f"fractions: did you cast with .astype(int), use // or np.floor, or fill an integer array "
            f"(np.zeros_like of an integer input)? Keep float64"
        )
    # A known mistake explains a result better than any generic diagnosis, so
    # it is looked for first (its shape may differ from the expected one).
    items = mistakes.items() if isinstance(mistakes, Mapping) else mistakes
    for explanation, wrong in items:
        wrong = np.asarray(wrong)
        if (
            wrong.shape == array.shape
            and array.dtype.kind in "biuf"
            and np.allclose(array, wrong, rtol=rtol, atol=atol, equal_nan=True)
            and not (wrong.shape == expected.shape and np.allclose(wrong, expected, rtol=rtol, atol=atol))
        ):
            if array.size <= 12 or array.shape != expected.shape:
                fail(f"{call} {what} {show(array)}, expected {show(expected)}: {explanation}", mistake=explanation)
            fail(
                f"{call} {what} a wrong value {first_difference(array, expected, rtol, atol)}: {explanation}",
                mistake=explanation,
            )
    if array.shape != expected.shape:
        fail(f"{call} {what} shape {array.shape}, expected {expected.shape}{shape_hint(array.shape, expected.shape)}")
    if expected.dtype.kind == "f" and array.dtype.kind == "f" and array.dtype.itemsize < expected.dtype.itemsize:
        fail(
            f"{call} {what} {array.dtype} values, expected {expected.dtype}: do not cast down "
            f"(a {array.dtype} keeps only {np.finfo(array.dtype).precision} significant digits, "
            f"the reference compares to {np.finfo(expected.dtype).precision})"
        )
    bad = ~np.isfinite(array) & np.isfinite(expected) if array.dtype.kind in "fc" else np.zeros(array.shape, bool)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(array[index]) else "inf"
        where = f" at index {index}" if index else ""
        fail(
            f"{call} {what} {kind}{where} where the answer is {show(expected[index])}: "
            f"an overflow or a 0/0? Look for exp() of a large number or a log/division by zero, "
            f"and use a numerically stable form"
        )
    if not np.allclose(array, expected, rtol=rtol, atol=atol, equal_nan=True):
        fail(_difference(array, expected, call, what, rtol, atol))
    return array


def _difference(array: np.ndarray, expected: np.ndarray, call: str, what: str, rtol: float, atol: float) -> str:
    if expected.ndim == 0 or expected.size <= 12:
        text = f"{call} {what} {show(array, 6)}\n  expected {show(expected, 6)}  (rtol={rtol:g})"
    else:
        text = f"{call} {what} a wrong value {first_difference(array, expected, rtol, atol)}, rtol={rtol:g}"
    return text + float32_hint(array, expected)


#: float32 keeps about 7 significant digits: its rounding errors, summed over a few operations, stay
#: below this fraction of the largest value. A float64 formula that is wrong differs by far more.
FLOAT32_SCALE = 2e-6
FLOAT32_HINT_START = "; the differences are at float32's precision"


def float32_hint(got: np.ndarray, expected: np.ndarray) -> str:
    """'; the differences are at float32's precision ...' when they are, else ''.

    Every value within a few float32 roundings of the largest one, but not within float64's: the
    arithmetic ran in float32 somewhere (np.float32 data, a float32 buffer, astype), which a kata that
    asks for float64 must reject, and which the learner should hear named, not as a wrong formula.
    """
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape or expected.size == 0 or got.dtype.kind not in "f":
        return ""
    with np.errstate(invalid="ignore", over="ignore"):
        error = float(np.max(np.abs(got.astype(float) - expected)))
    scale = float(np.max(np.abs(expected)))
    if not (np.isfinite(error) and 0 < error <= FLOAT32_SCALE * scale):
        return ""
    return (
        f"{FLOAT32_HINT_START} (about 7 significant digits; largest {error:.1e} on "
        f"values up to {scale:.3g}): somewhere the arithmetic ran in float32 (np.float32, astype, a float32 "
        f"array filled with results). Keep every array float64"
    )


def assert_raises(
    function: Callable,
    exception: type[BaseException],
    *args: Any,
    call: str = "your function",
    match: str | None = None,
    **kwargs: Any,
) -> BaseException:
    """The learner's code must raise ``exception`` (as Keras does) for these arguments."""
    import re

    try:
        function(*args, **kwargs)
    except exception as error:
        if match and not re.search(match, str(error)):
            fail(f"{call} raised {type(error).__name__}({str(error)!r}); the message should mention {match!r}")
        return error
    except NotImplementedError:
        raise
    except Exception as error:
        fail(f"{call} raised {type(error).__name__}: {error}; expected {exception.__name__}")
    fail(
        f"{call} returned normally; it should raise {exception.__name__}"
        + (f" (mentioning {match!r})" if match else "")
    )
    raise AssertionError("unreachable")
