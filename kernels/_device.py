"""Is there a CUDA device here? Probed once, by asking the runtime.

Whether ``import cupy`` works says little: CuPy installs fine on a laptop
without a GPU and only fails at the first kernel launch. So the probe asks the
CUDA runtime for a device count and remembers why it said no.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _probe() -> tuple[bool, str]:
    try:
        import cupy
    except Exception as error:  # ImportError, or a broken CUDA install raising anything
        return False, f"CuPy is not installed ({type(error).__name__}); pip install -e '.[gpu]' on a CUDA machine"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:
        return False, f"CuPy found no usable CUDA runtime ({type(error).__name__}: {error})"
    if count < 1:
        return False, "the CUDA runtime reports no device"
    return True, f"{count} CUDA device(s)"


def gpu_available() -> bool:
    """True when CuPy can run kernels on a CUDA device."""
    return _probe()[0]


def why_no_gpu() -> str:
    """A sentence for skipped GPU tests: why there is no GPU backend here."""
    available, reason = _probe()
    return "a CUDA device is available" if available else f"no GPU: {reason}"


def backend() -> str:
    """``"cupy"`` where kernels run on a GPU, ``"numpy"`` where the fallback runs."""
    return "cupy" if gpu_available() else "numpy"


def describe() -> dict:
    """What runs the kernels here, for benchmark headers and bug reports.

    Keys: ``backend`` ("cupy" | "numpy"), ``device`` (the GPU's name, or a
    note that the NumPy fallback runs on the CPU), ``compute_capability``
    (e.g. "9.0", None without a GPU), ``cupy_version``, ``cuda_runtime``
    (e.g. "12.4"), ``numpy_version``, and ``reason`` (why_no_gpu()).
    """
    import platform

    import numpy

    info = {
        "backend": backend(),
        "device": f"CPU ({platform.processor() or platform.machine()}), NumPy fallback",
        "compute_capability": None,
        "cupy_version": None,
        "cuda_runtime": None,
        "numpy_version": numpy.__version__,
        "reason": why_no_gpu(),
    }
    try:
        import cupy

        info["cupy_version"] = cupy.__version__
    except Exception:
        return info
    if not gpu_available():
        return info
    device = cupy.cuda.Device()
    properties = cupy.cuda.runtime.getDeviceProperties(device.id)
    name = properties["name"]
    info["device"] = name.decode() if isinstance(name, bytes) else str(name)
    major, minor = properties["major"], properties["minor"]
    info["compute_capability"] = f"{major}.{minor}"
    runtime = cupy.cuda.runtime.runtimeGetVersion()  # e.g. 12040 for 12.4
    info["cuda_runtime"] = f"{runtime // 1000}.{runtime % 1000 // 10}"
    return info
