"""Fair GPU timing: inputs on the device first, the device synchronised, CUDA events.

A CuPy call returns as soon as the kernel is *queued*; timing it with a
wall clock alone measures the launch, not the work. So:

* inputs move to the device before timing (a transfer is not the kernel's work);
* the timed callable ends with a stream synchronise, so pytest-benchmark's
  wall clock covers the whole kernel;
* ``event_median`` also times with CUDA events (``cupyx.profiler.benchmark``),
  after warm-up calls that keep context creation and compilation out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WARMUP_CALLS = 3
EVENT_REPEATS = 50


def to_device(value: Any) -> Any:
    """NumPy arrays (also inside tuples/lists) as CuPy arrays; other values unchanged."""
    import cupy

    if isinstance(value, np.ndarray):
        return cupy.asarray(value)
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(item) for item in value)
    return value


def synchronised(thunk):
    """``thunk`` followed by a synchronise of the current stream."""
    import cupy

    stream = cupy.cuda.get_current_stream()

    def run():
        result = thunk()
        stream.synchronize()
        return result

    return run


def event_median(thunk, repeats: int = EVENT_REPEATS) -> float:
    """Median GPU time in seconds of ``thunk``, measured with CUDA events."""
    from cupyx.profiler import benchmark

    result = benchmark(thunk, n_repeat=repeats, n_warmup=WARMUP_CALLS)
    return float(np.median(result.gpu_times[0]))


def device_name() -> str:
    import cupy

    try:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # a name is decoration; never fail a benchmark for it
        return "CUDA device"
