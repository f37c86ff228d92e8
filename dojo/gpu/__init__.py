"""GPU kernels on every laptop: CuPy where a CUDA device is, the CPU emulator everywhere else.

A kata file writes real CuPy code against ``cp``::

    from dojo.gpu import cp          # cupy on a CUDA machine, the emulator otherwise

    _relu = cp.RawKernel(r'''
    extern "C" __global__ void relu(const double* x, double* y, int n) { ... }
    ''', "relu")

``cp`` is chosen once per process: real CuPy when a CUDA device is there
(asked in a subprocess, so that CUDA is never initialised before the kata
runner forks), unless ``KATAS_GPU=emulator`` asks for the emulator
(``KATAS_GPU=cupy`` insists on the device). On the emulator
(:mod:`dojo.gpu.cupy_emulator`) the learner's CUDA C is compiled by the host
C++ compiler against ``emulator.h``: bounds-checked, races and hanging
barriers detected, memory traffic counted (:mod:`dojo.gpu.traffic`), and a
picture of which thread touched what on request (:mod:`dojo.gpu.picture`).
"""

from __future__ import annotations

import os

from .runtime import KernelCompileError, KernelFault, NoCompiler

_PROBED = "KATAS_GPU_PROBED"  # "cupy" or "emulator": the probe's answer, inherited by child processes


def _device_here() -> bool:
    """Is there a CUDA device CuPy can use? Asked in a subprocess, once.

    Asking in this process would initialise CUDA in the harness's parent,
    and a forked kata process cannot use CUDA after that. The answer is kept
    in the environment, so children (and later imports) do not ask again.
    """
    import importlib.util
    import subprocess
    import sys

    known = os.environ.get(_PROBED)
    if known in ("cupy", "emulator"):
        return known == "cupy"
    found = False
    if importlib.util.find_spec("cupy") is not None:
        probe = "import cupy, sys; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)"
        try:
            found = (
                subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120, check=False).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            found = False
    os.environ[_PROBED] = "cupy" if found else "emulator"
    return found


def _choose():
    wanted = os.environ.get("KATAS_GPU", "").strip().lower()
    if wanted != "emulator":
        if _device_here():
            import cupy

            return cupy
        if wanted == "cupy":
            import kernels

            raise RuntimeError(f"KATAS_GPU=cupy, but {kernels.why_no_gpu()}")
    from . import cupy_emulator

    return cupy_emulator


cp = _choose()


def backend() -> str:
    """``"cupy"`` (a CUDA device runs the katas) or ``"emulator"`` (the CPU runs them)."""
    return "emulator" if getattr(cp, "EMULATED", False) else "cupy"


def emulated() -> bool:
    return backend() == "emulator"


__all__ = ["KernelCompileError", "KernelFault", "NoCompiler", "backend", "cp", "emulated"]
