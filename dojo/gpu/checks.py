"""What the GPU kata tests assert with: run the learner's kernel, explain what went wrong.

:func:`run` moves the inputs to the device, calls the kata while recording
the emulated launches, and turns the emulator's faults into the course's
messages, with a picture of the small case (``.katas/gpu/<kata>.png``)
after an indexing mistake. :func:`unwritten` explains output elements that
no thread wrote (the emulator's ``empty`` leaves them NaN).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..paths import STATE_DIR
from ..testkit.checks import fail
from . import cp, emulated, runtime, traffic
from .runtime import KernelCompileError, KernelFault, NoCompiler

PICTURE_ENV = "KATAS_GPU_PICTURE"
_DRAWN: set[str] = set()
_REPORTED: set[str] = set()
#: Katas whose failure picture this process has drawn. Every check of a kata draws into the same
#: file, so only the first failing check's picture is kept: that is the check whose message the
#: report shows, and drawing the others (about a second each) only made a failing run slower.
_FAILURE_DRAWN: set[str] = set()


@dataclass
class Run:
    results: tuple  # host (NumPy) copies of what the kata returned
    launches: list = field(default_factory=list)
    picture: Path | None = None


def picture_folder() -> Path:
    root = Path(os.environ.get("KATAS_ROOT", Path(__file__).resolve().parents[2]))
    return root / STATE_DIR / "gpu"


def _picture(kata_id: str, launch, title: str, *, failure: bool = True) -> Path | None:
    if launch is None or not emulated() or (failure and kata_id in _FAILURE_DRAWN):
        return None
    if failure:
        _FAILURE_DRAWN.add(kata_id)
    try:
        from .picture import draw

        return draw(launch, picture_folder() / f"{kata_id}.png", title)
    except Exception:
        return None


def _shown(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return f"\n  picture of which thread touched which element: {path.relative_to(Path.cwd())}"
    except ValueError:
        return f"\n  picture of which thread touched which element: {path}"


def _call(kata, host_args, kwargs, *, kata_id: str, call: str, advice) -> tuple[tuple, list, list]:
    """Run ``kata`` once on fresh device copies: (its results, the launches it made, the device inputs)."""
    device = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in host_args]
    try:
        with traffic.recording() as launches:
            result = kata(*device, **kwargs)
    except KernelFault as fault:
        extra = "".join(
            f"\n  {text(fault) if callable(text) else text}"
            for pattern, text in (advice or {}).items()
            if re.search(pattern, str(fault))
        )
        picture = _picture(kata_id, fault.launch, f"{call}: the launch that stopped")
        fail(f"{call}: {fault}{extra}{_shown(picture)}")
    except (KernelCompileError, NoCompiler) as error:
        fail(str(error))
    results = result if isinstance(result, tuple) else (result,)
    for value in results:
        if not isinstance(value, cp.ndarray):
            fail(
                f"{call} returned {type(value).__name__}: return the device array your kernel wrote "
                f"(cp.empty(...) / the kernel's output), so the result stays on the GPU; no cp.asnumpy"
            )
    return results, launches, device


def run(
    kata,
    *host_args,
    kata_id: str,
    call: str,
    advice: dict[str, str] | None = None,
    request=None,
    second_order: bool = True,
    **kwargs,
) -> Run:
    """Call ``kata`` on device copies of ``host_args``; host copies of its results come back.

    ``advice`` maps a regex on a fault message to a kata-specific next step
    (a string, or a function of the KernelFault, whose ``launch`` has the details).
    On the emulator the kata runs a second time with its threads and blocks in
    reverse order (:func:`same_in_reverse`), unless ``second_order`` is False.
    """
    before = [np.array(a) if isinstance(a, np.ndarray) else None for a in host_args]
    results, launches, device = _call(kata, host_args, kwargs, kata_id=kata_id, call=call, advice=advice)
    for name_index, (old, new) in enumerate(zip(before, device)):
        if old is not None and not np.array_equal(old, cp.asnumpy(new), equal_nan=True):
            fail(
                f"{call} changed its input (argument {name_index}) in place: write into an output array "
                f"of your own (cp.empty_like(x))"
            )
    host_results = tuple(np.array(cp.asnumpy(v)) for v in results)
    if second_order and emulated() and launches:
        same_in_reverse(kata, host_args, kwargs, host_results, launches, kata_id=kata_id, call=call, advice=advice)
    picture = None
    big_enough = launches and max((a.elements for a in launches[-1].arrays), default=0) >= 6
    if request is not None and big_enough and emulated() and kata_id not in _REPORTED:
        _REPORTED.add(kata_id)
        ideal = traffic.ideal_bytes([a for a in host_args if isinstance(a, np.ndarray)], list(host_results))
        path = _traffic_note(kata_id, call, launches, ideal)
        if path is not None:
            request.node.user_properties.append(("artifact", str(path)))
    if request is not None and os.environ.get(PICTURE_ENV) and big_enough and kata_id not in _DRAWN:
        _DRAWN.add(kata_id)  # the first case with a few elements is the one drawn
        picture = _picture(kata_id, launches[-1], call, failure=False)
        if picture is not None:
            request.node.user_properties.append(("artifact", str(picture)))
    return Run(host_results, launches, picture)


def same_in_reverse(kata, host_args, kwargs, results: tuple, launches, *, kata_id: str, call: str, advice) -> None:
    """Run the kata again with threads and blocks in reverse order; a different result is a race.

    A kernel without races computes the same bits in any order. Atomics may
    add in another order, so with atomics the results need only agree to
    rounding. A difference the race detector did not pin to an element is
    still a race: it is reported as one that could not be localised.
    """
    with runtime.reversed_order():
        again, _, _ = _call(kata, host_args, kwargs, kata_id=kata_id, call=call, advice=advice)
    atomics = any(array.atomics for launch in launches for array in launch.arrays)
    for index, (first, second) in enumerate(zip(results, again)):
        second = np.asarray(cp.asnumpy(second))
        if first.shape != second.shape:
            continue
        if atomics:
            differ = ~np.isclose(first, second, rtol=1e-9, atol=1e-12, equal_nan=True)
        else:
            differ = ~((first == second) | (np.isnan(first) & np.isnan(second)))
        if differ.any():
            where = tuple(int(i) for i in np.argwhere(differ)[0])
            shown = where if len(where) > 1 else where[0]
            result = "" if len(results) == 1 else f" (result {index})"
            fail(
                f"{call}: the result{result} depends on the order the threads run in: element {shown} is "
                f"{first[where]!r} with threads run first to last and {second[where]!r} with them run last to "
                f"first. That is a data race the emulator could not pin to one element: some value is read "
                f"while another thread may still write it. Check every element that more than one thread "
                f"touches: a __syncthreads() between writes and reads in a block, atomicAdd across blocks"
            )


def unwritten(run: Run, index: int, expected: np.ndarray, call: str, kata_id: str, *, grid_stride: bool = False):
    """Fail, naming the grid, if output ``index`` has NaN where the answer has a number."""
    got = run.results[index]
    if got.shape != np.shape(expected):
        return
    missing = np.isnan(got) & np.isfinite(expected)
    written = _written(run, got.size)
    if written is not None:  # the emulator knows: a NaN a thread computed was written (assert_close names it)
        missing &= ~written.reshape(got.shape)
    if not missing.any():
        return
    first = tuple(int(i) for i in np.argwhere(missing)[0])
    launch = run.launches[-1] if run.launches else None
    config = ""
    if launch is not None:
        grid = launch.grid[:2] if launch.grid[1] > 1 else launch.grid[0]
        block = launch.block[:2] if launch.block[1] > 1 else launch.block[0]
        config = f": the launch had {launch.threads:,} threads (grid={grid}, block={block}) for {got.size:,} elements"
    why = (
        "Does each thread loop on with a stride of the whole grid (i += blockDim.x * gridDim.x), so that a small "
        "grid still covers the array (a grid-stride loop)?"
        if grid_stride
        else "Does the grid cover every element (blocks = ceiling division, (n + threads - 1) // threads)? In a 2-D "
        "grid, x runs along a row (the column index) and y down the rows: are row and column swapped?"
    )
    picture = _picture(kata_id, launch, f"{call}: elements never written stay white")
    fail(
        f"{call}: {int(missing.sum())} of {got.size} output elements were never written (the first at index "
        f"{first if len(first) > 1 else first[0]}){config}. {why}{_shown(picture)}"
    )


def _written(run: Run, size: int) -> np.ndarray | None:
    """Elements of an output of ``size`` elements that some thread wrote, from the emulator's shadow memory."""
    candidates = [
        a.writers >= 0
        for launch in run.launches
        for a in launch.arrays
        if not a.const and a.elements == size and a.writers is not None
    ]
    if not candidates:
        return None
    return np.logical_or.reduce(candidates)


def _traffic_note(kata_id: str, call: str, launches, ideal: int) -> Path | None:
    """``.katas/gpu/<kata>.traffic.txt``: what the kernel moved on this case, beside the ideal (modelled time)."""
    arrays: dict[str, int] = {}
    for launch in launches:
        for array in launch.arrays:
            arrays.setdefault(array.name, array.elements * array.itemsize)
    text = traffic.report(traffic.measure(launches), ideal, arrays=arrays, with_time=False)
    path = picture_folder() / f"{kata_id}.traffic.txt"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"{call}\n{text}\n(pytest --bench -k {kata_id}: the time this traffic takes on an H200 "
            f"at a realistic size, modelled)\n"
        )
    except OSError:
        return None
    return path
