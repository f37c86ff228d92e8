"""Choosing the backend for a call, checking dtypes, allocating outputs.

Every public function takes either NumPy arrays (the NumPy fallback runs) or
CuPy arrays (the custom CUDA kernel runs): :func:`array_module` is
``cupy.get_array_module`` when CuPy is loaded, and a NumPy-only shim
otherwise. CuPy is never imported here: a caller holding a CuPy array has
already imported it, so ``sys.modules`` is enough to know.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

_state = threading.local()
_nan_fill = os.environ.get("KERNELS_NAN_FILL", "") not in ("", "0")


def array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy``.

    Mixing the two is refused with a message that says how to fix it: a
    silent host-device copy would make the GPU benchmarks measure PCIe.
    """
    cupy = sys.modules.get("cupy")
    if cupy is None:
        return np
    on_gpu = [isinstance(a, cupy.ndarray) for a in arrays if a is not None]
    if any(on_gpu) and not all(on_gpu):
        kinds = ", ".join(type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in arrays if a is not None)
        raise TypeError(
            f"kernels got a mix of NumPy and CuPy arrays ({kinds}): "
            "move every argument to the GPU with cupy.asarray(...) first"
        )
    return cupy if any(on_gpu) else np


def record(backend: str) -> None:
    _state.backend = backend


def last_backend() -> str | None:
    """``"cupy"`` or ``"numpy"``: which backend ran the last kernel call in this thread."""
    return getattr(_state, "backend", None)


def float_dtype(*arrays) -> np.dtype:
    """The common float dtype of the arguments: float32 or float64, nothing else.

    Integers and float16 are refused rather than silently converted: the
    kernels exist in float32 and float64 only, and a hidden cast would hide a
    bug in the caller's data pipeline.
    """
    dtypes = [np.dtype(a.dtype) if hasattr(a, "dtype") else np.asarray(a).dtype for a in arrays if a is not None]
    for dtype in dtypes:
        if dtype not in (np.float32, np.float64):
            raise TypeError(
                f"kernels work in float32 or float64; received dtype={dtype}. "
                "Cast with .astype(np.float64) (or float32) first."
            )
    return np.result_type(*dtypes)


def as_float(xp, array, dtype):
    """``array`` as a C-contiguous array of ``dtype`` (no copy when it already is one).

    Not ``ascontiguousarray`` alone: it turns a 0-d array into shape (1,).
    """
    array = xp.asarray(array, dtype=dtype)
    return array if array.flags.c_contiguous else xp.ascontiguousarray(array)


def output(xp, shape, dtype):
    """A fresh output array. Uninitialised, or NaN-filled in NaN-fill mode (see below)."""
    if _nan_fill or getattr(_state, "nan_fill", False):
        return xp.full(shape, np.nan, dtype=dtype)
    return xp.empty(shape, dtype=dtype)


@contextlib.contextmanager
def nan_filled_outputs():
    """Pre-fill every output buffer with NaN while inside this block (for tests).

    A kernel that forgets to write some output element (an off-by-one in a
    bounds check, a grid too small) then leaves a NaN behind instead of
    whatever happened to be in memory, and ``isfinite(result).all()`` catches
    it. ``KERNELS_NAN_FILL=1`` in the environment does the same for a whole run.
    """
    previous = getattr(_state, "nan_fill", False)
    _state.nan_fill = True
    try:
        yield
    finally:
        _state.nan_fill = previous


# Launch geometry for the grid-stride kernels: 256 threads a block, and enough
# blocks to cover the work, capped (each thread then loops) so that a huge
# array never asks for more blocks than a grid may have.
THREADS_PER_BLOCK = 256
MAX_BLOCKS = 65535 * 16


def blocks_for(total: int) -> int:
    return max(1, min((total + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK, MAX_BLOCKS))
