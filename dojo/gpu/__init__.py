"""GPU kernels on every laptop: CuPy where a CUDA device is, the CPU emulator everywhere else.

A kata file writes real CuPy code against ``cp``::

    from dojo.gpu import cp          # cupy on a CUDA machine, the emulator otherwise

    _relu = cp.RawKernel(r'''
    extern "C" __global__ void relu(const double* x, double* y, int n) { ... }
    ''', "relu")

``cp`` is chosen once per process: real CuPy when :func:`kernels.gpu_available`
says a device is there, unless ``KATAS_GPU=emulator`` asks for the emulator
(``KATAS_GPU=cupy`` insists on the device). On the emulator
(:mod:`dojo.gpu.cupy_emulator`) the learner's CUDA C is compiled by the host
C++ compiler against ``emulator.h``: bounds-checked, races and hanging
barriers detected, memory traffic counted (:mod:`dojo.gpu.traffic`), and a
picture of which thread touched what on request (:mod:`dojo.gpu.picture`).
"""

from __future__ import annotations

import os

from .runtime import KernelCompileError, KernelFault, NoCompiler


def _choose():
    wanted = os.environ.get("KATAS_GPU", "").strip().lower()
    if wanted != "emulator":
        import kernels

        if kernels.gpu_available():
            import cupy

            return cupy
        if wanted == "cupy":
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
