"""GPU reference kernels (CuPy), with a NumPy fallback on machines without a GPU.

Every operation takes NumPy arrays (the vectorised NumPy fallback runs) or
CuPy arrays (a custom CUDA kernel runs on the GPU), keeps the float dtype
(float32 or float64) and never modifies its inputs::

    import kernels
    y = kernels.softmax(x)          # NumPy in, NumPy out
    kernels.last_backend()          # "numpy"
    y = kernels.softmax(cupy.asarray(x))   # on a CUDA machine: "cupy"

``backend()`` says which one a plain call can use here: ``"cupy"`` when CuPy
imports *and* the CUDA runtime reports a device, else ``"numpy"``. Importing
this package never needs a GPU, and never imports CuPy by itself.

Operations: relu, sigmoid, tanh, softmax, dense_forward, im2col, conv2d,
max_pool2d, max_pool2d_backward, lstm_cell. For benchmarks: describe() (the
device), cost(op, *args) (bytes moved and flops). For tests:
nan_filled_outputs() (pre-fill outputs with NaN to catch unwritten elements).
See docs/KERNELS.md.
"""

from __future__ import annotations

from ._device import backend, describe, gpu_available, why_no_gpu
from ._dispatch import last_backend, nan_filled_outputs
from .activations import relu, sigmoid, softmax, tanh
from .convolution import conv2d, im2col
from .cost import OPS, Cost, cost
from .dense import dense_forward
from .pooling import max_pool2d, max_pool2d_backward
from .recurrent import lstm_cell

__all__ = [
    "backend",
    "gpu_available",
    "why_no_gpu",
    "describe",
    "last_backend",
    "nan_filled_outputs",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "dense_forward",
    "im2col",
    "conv2d",
    "max_pool2d",
    "max_pool2d_backward",
    "lstm_cell",
    "cost",
    "Cost",
    "OPS",
]
