"""GPU reference kernels (CuPy), with a NumPy fallback on machines without a GPU.

``backend()`` says which one runs here: ``"cupy"`` when CuPy imports *and* the
CUDA runtime reports a device, else ``"numpy"``. Importing this package never
needs a GPU.
"""

from __future__ import annotations

from ._device import backend, gpu_available, why_no_gpu

__all__ = ["backend", "gpu_available", "why_no_gpu"]
