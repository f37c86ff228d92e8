"""Where the CUDA code lives, and how it becomes CuPy kernels (lazily, once).

Two kinds of kernels:

* **RawModules** from the ``.cu`` files in ``kernels/cuda/`` (softmax, im2col,
  pooling, the fused LSTM cell). Each kernel is a C++ template over the float
  type, compiled by NVRTC for ``float`` and ``double`` through CuPy's
  ``name_expressions``.
* **ElementwiseKernels** (relu, sigmoid, tanh, the fused bias + activation of
  ``dense_forward``/``conv2d``): a one-line body each, declared in
  :data:`ELEMENTWISE` below. CuPy generates the loop around the body.

Both get ``cuda/device_math.cu`` (stable sigmoid, float/double overloads)
prepended. :func:`module_source` and :data:`ELEMENTWISE` are also what the
tests hand to ``nvcc -ptx``, so the compiler there sees the text NVRTC sees.

Nothing here imports CuPy until a kernel is first needed, so the package
imports (and the NumPy fallback runs) on machines without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

FLOAT_TYPES = ("float", "double")  # C++ names of the dtypes the kernels are built for

# RawModule name -> its kernel templates (each instantiated for FLOAT_TYPES).
RAW_MODULES: dict[str, tuple[str, ...]] = {
    "softmax": ("kernels_softmax_rows",),
    "im2col": ("kernels_im2col_nhwc",),
    "pooling": ("kernels_max_pool_forward", "kernels_max_pool_backward"),
    "lstm": ("kernels_lstm_cell",),
}


@dataclass(frozen=True)
class ElementwiseSpec:
    """The four strings of a ``cupy.ElementwiseKernel``, minus the preamble (always device_math)."""

    in_params: str
    out_params: str
    operation: str
    name: str


# Activation codes understood by the fused bias + activation kernel.
ACTIVATION_CODES = {None: 0, "linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}

ELEMENTWISE: dict[str, ElementwiseSpec] = {
    "relu": ElementwiseSpec("T x", "T y", "y = x > T(0) ? x : T(0)", "kernels_relu"),
    "sigmoid": ElementwiseSpec("T x", "T y", "y = kernels_sigmoid(x)", "kernels_sigmoid"),
    "tanh": ElementwiseSpec("T x", "T y", "y = kernels_tanh(x)", "kernels_tanh"),
    # z: the matmul output, b: the bias broadcast along the last axis. The
    # activation code is the same for every thread, so the branch never diverges.
    "bias_activation": ElementwiseSpec(
        "T z, T b, int32 activation",
        "T y",
        "T v = z + b; "
        "if (activation == 1) v = v > T(0) ? v : T(0); "
        "else if (activation == 2) v = kernels_sigmoid(v); "
        "else if (activation == 3) v = kernels_tanh(v); "
        "y = v",
        "kernels_bias_activation",
    ),
}


_C_TYPES = {"T": "T", "int32": "int", "int64": "long long", "float32": "float", "float64": "double"}


def _params(text: str) -> list[tuple[str, str]]:
    return [(_C_TYPES[part.split()[0]], part.split()[1]) for part in text.split(",")]


def elementwise_standalone_source(name: str) -> str:
    """One ElementwiseKernel body inside a plain CUDA kernel, for compilers other than CuPy's.

    The kernel is shaped like the one CuPy generates around the body: a
    ``typedef <type> T;``, each array input bound as ``const T&``, each output
    as ``T&``, scalars passed by value, a grid-stride loop over ``i``. It is
    emitted once per float type, named ``<spec.name>_float`` and
    ``<spec.name>_double``; arrays are not broadcast (pass full-size arrays).
    The tests compile it with ``nvcc -ptx`` and run it on the CPU.
    """
    spec = ELEMENTWISE[name]
    inputs, outputs = _params(spec.in_params), _params(spec.out_params)
    kernels = []
    for ctype in FLOAT_TYPES:
        arguments, bindings = [], []
        for c, param in inputs:
            if c == "T":
                arguments.append(f"const {ctype}* _raw_{param}")
                bindings.append(f"const T& {param} = _raw_{param}[i];")
            else:
                arguments.append(f"{c} {param}")
        for c, param in outputs:
            arguments.append(f"{ctype if c == 'T' else c}* _raw_{param}")
            bindings.append(f"{'T' if c == 'T' else c}& {param} = _raw_{param}[i];")
        kernels.append(
            f'extern "C" __global__ void {spec.name}_{ctype}({", ".join(arguments)}, long long n) {{\n'
            f"    typedef {ctype} T;\n"
            f"    for (long long i = kernels_thread_index(); i < n; i += kernels_grid_stride()) {{\n"
            f"        {' '.join(bindings)}\n"
            f"        {spec.operation};\n"
            f"    }}\n}}\n"
        )
    return "\n".join(kernels)


def cuda_source(filename: str) -> str:
    """The text of ``kernels/cuda/<filename>``, read as package data (works from a wheel too)."""
    return resources.files("kernels").joinpath("cuda").joinpath(filename).read_text(encoding="utf-8")


def cuda_filenames() -> list[str]:
    """Every ``.cu`` file shipped in ``kernels/cuda/``."""
    folder = resources.files("kernels").joinpath("cuda")
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".cu"))


def preamble() -> str:
    return cuda_source("device_math.cu")


def module_source(module: str) -> str:
    """The full source NVRTC compiles for one RawModule: device_math + ``<module>.cu``."""
    return preamble() + "\n" + cuda_source(f"{module}.cu")


def name_expressions(module: str) -> list[str]:
    """``kernels_softmax_rows<float>``, ``...<double>``: what NVRTC instantiates and exports."""
    return [f"{kernel}<{ctype}>" for kernel in RAW_MODULES[module] for ctype in FLOAT_TYPES]


def ctype_of(dtype) -> str:
    """The C++ type of a float32/float64 dtype."""
    import numpy as np

    return {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}[np.dtype(dtype)]


# ------------------------------------------------------------- CuPy builders
# Built on first use and cached: NVRTC compiles once per process (CuPy also
# keeps a disk cache in ~/.cupy/kernel_cache, so later processes skip it).


@cache
def raw_module(module: str):
    import cupy

    return cupy.RawModule(code=module_source(module), name_expressions=name_expressions(module))


def raw_kernel(kernel: str, dtype):
    """The compiled template ``kernel<T>`` for this dtype, as a launchable ``cupy.RawKernel``."""
    module = next(name for name, kernels in RAW_MODULES.items() if kernel in kernels)
    return raw_module(module).get_function(f"{kernel}<{ctype_of(dtype)}>")


@cache
def elementwise(name: str):
    import cupy

    spec = ELEMENTWISE[name]
    return cupy.ElementwiseKernel(spec.in_params, spec.out_params, spec.operation, spec.name, preamble=preamble())
