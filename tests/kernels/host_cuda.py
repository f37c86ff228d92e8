"""Run the package's CUDA code on the CPU, and a stand-in ``cupy`` module that uses it.

Test support only. :func:`build` compiles, with ``g++`` and ``host_cuda.h``,
exactly the text CuPy gives NVRTC (``device_math.cu`` + each module's
``.cu``) plus every ElementwiseKernel body in a CuPy-shaped kernel, and
generates one ``extern "C"`` launcher per kernel and float type from the
kernels' own signatures. :func:`fake_cupy` builds a module with the few
CuPy names the wrappers use (``ndarray``, ``asarray``, ``empty``, ``full``,
``zeros``, ``RawModule``, ``ElementwiseKernel``) whose kernels launch on that
library, so the public ``kernels.*`` functions can take their CuPy branch
here: argument order, scalar types, geometry, output allocation.

The stand-in is strict where CuPy is strict or silently wrong: kernel
arguments must be device arrays that are C-contiguous and of the kernel's
dtype, or NumPy scalars of the parameter's exact C type.
"""

from __future__ import annotations

import ctypes
import re
import subprocess
import types
from pathlib import Path

import numpy as np

from kernels import _sources

HERE = Path(__file__).parent
MAX_HOST_BLOCKS = 4  # the kernels loop (grid-stride), so a short grid still covers everything

_SIGNATURE = re.compile(r"__global__\s+void\s+(kernels_\w+)\s*\(([^)]*)\)", re.S)
_CTYPES = {"float": np.float32, "double": np.float64}
_SCALARS = {"long long": (np.int64, ctypes.c_longlong), "int": (np.int32, ctypes.c_int)}


def _parameters(text: str) -> list[tuple[str, str]]:
    """``const T* __restrict__ x, long long n`` -> [("const T*", "x"), ("long long", "n")]."""
    params = []
    for part in " ".join(text.split()).split(","):
        part = part.replace("__restrict__", "").strip()
        name = re.findall(r"\w+$", part)[0]
        params.append((" ".join(part[: -len(name)].split()), name))
    return params


class HostLibrary:
    def __init__(self, library: ctypes.CDLL, signatures: dict[str, list[tuple[str, str]]]):
        self.library = library
        self.signatures = signatures  # "kernels_softmax_rows_float" -> parameters with T replaced

    def launch(self, kernel: str, grid: int, block: int, *args) -> None:
        """Run ``kernel`` (``<name>_<float|double>``) on the CPU with ``args`` as CuPy would pass them."""
        params = self.signatures[kernel]
        assert len(args) == len(params), f"{kernel} takes {len(params)} arguments, got {len(args)}"
        converted = [ctypes.c_uint(min(grid, MAX_HOST_BLOCKS)), ctypes.c_uint(block)]
        for (ctype, name), value in zip(params, args):
            if ctype.endswith("*"):
                element = _CTYPES[ctype.replace("const", "").replace("*", "").strip()]
                assert isinstance(value, np.ndarray), f"{kernel}({name}=...): expected an array, got {type(value)}"
                assert value.dtype == element, f"{kernel}({name}=...): dtype {value.dtype}, kernel wants {ctype}"
                assert value.flags.c_contiguous, f"{kernel}({name}=...): array is not C-contiguous"
                converted.append(ctypes.c_void_p(value.ctypes.data))
            else:
                scalar_type, c_type = _SCALARS[ctype]
                assert type(value) is scalar_type, (
                    f"{kernel}({name}=...): pass np.{scalar_type.__name__} for a {ctype}, got {type(value).__name__}"
                )
                converted.append(c_type(int(value)))
        getattr(self.library, f"launch_{kernel}")(*converted)


def build(folder: Path, compiler: str) -> HostLibrary:
    sources = [_sources.cuda_source(f"{module}.cu") for module in sorted(_sources.RAW_MODULES)]
    sources += [_sources.elementwise_standalone_source(name) for name in sorted(_sources.ELEMENTWISE)]
    launchers, signatures = [], {}
    for source in sources:
        templated = "template" in source
        for kernel, params in _SIGNATURE.findall(source):
            for ctype in _sources.FLOAT_TYPES:
                if not templated and not kernel.endswith(f"_{ctype}"):
                    continue
                concrete = [
                    (t.replace("T", ctype) if t.replace("const", "").strip().startswith("T") else t, n)
                    for t, n in _parameters(params)
                ]
                name = f"{kernel}_{ctype}" if templated else kernel
                target = f"{kernel}<{ctype}>" if templated else kernel
                signatures[name] = concrete
                declared = ", ".join(f"{t} {n}" for t, n in concrete)
                passed = ", ".join(n for _, n in concrete)
                launchers.append(
                    f'extern "C" void launch_{name}(unsigned grid, unsigned block, {declared}) '
                    f"{{ host_cuda_launch({target}, grid, block, {passed}); }}"
                )
    text = "\n".join(['#include "host_cuda.h"', _sources.preamble(), *sources, *launchers])
    (folder / "kernels_host.cpp").write_text(text)
    library = folder / "kernels_host.so"
    command = [
        compiler,
        "-std=c++20",
        "-O1",
        "-shared",
        "-fPIC",
        "-pthread",
        "-Wall",
        "-Werror",
        f"-I{HERE}",
        "-o",
        str(library),
        str(folder / "kernels_host.cpp"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-4000:]}"
    return HostLibrary(ctypes.CDLL(str(library)), signatures)


# ------------------------------------------------------------ fake cupy


class FakeDeviceArray(np.ndarray):
    """Plays ``cupy.ndarray``: a NumPy array that the dispatcher must treat as a GPU array."""

    def get(self):
        return np.array(self)


def _device(array):
    return np.asarray(array).view(FakeDeviceArray)


def fake_cupy(host: HostLibrary) -> types.ModuleType:
    cupy = types.ModuleType("cupy")
    cupy.__version__ = "host-emulation"
    cupy.ndarray = FakeDeviceArray
    cupy.asarray = lambda a, dtype=None: _device(np.asarray(a, dtype=dtype))
    cupy.ascontiguousarray = lambda a, dtype=None: _device(np.ascontiguousarray(a, dtype=dtype))
    cupy.empty = lambda shape, dtype=float: _device(np.empty(shape, dtype))
    cupy.zeros = lambda shape, dtype=float: _device(np.zeros(shape, dtype))
    cupy.full = lambda shape, fill, dtype=None: _device(np.full(shape, fill, dtype))
    cupy.asnumpy = lambda a: np.array(a)
    cupy.launches = []  # (kernel, grid, block): what the wrappers asked for

    class RawModule:
        def __init__(self, code, name_expressions):
            self.code, self.name_expressions = code, list(name_expressions)

        def get_function(self, expression):
            assert expression in self.name_expressions, (
                f"{expression!r} was not declared in name_expressions {self.name_expressions}"
            )
            kernel, ctype = re.fullmatch(r"(\w+)<(\w+)>", expression).groups()
            assert f"void {kernel}(" in self.code, f"{kernel} is not in this module's source"

            def launch(grid, block, args):
                assert len(grid) == 1 and len(block) == 1 and grid[0] >= 1 and 1 <= block[0] <= 1024
                for value in args:
                    assert not isinstance(value, np.ndarray) or isinstance(value, FakeDeviceArray), (
                        f"{expression}: a host (NumPy) array was passed to a device kernel"
                    )
                cupy.launches.append((expression, grid[0], block[0]))
                host.launch(f"{kernel}_{ctype}", grid[0], block[0], *args)

            return launch

    class ElementwiseKernel:
        def __init__(self, in_params, out_params, operation, name, preamble=""):
            spec = next(s for s in _sources.ELEMENTWISE.values() if s.name == name)
            assert (in_params, out_params, operation) == (spec.in_params, spec.out_params, spec.operation)
            self.spec = spec

        def __call__(self, *args):
            inputs = [p.split() for p in self.spec.in_params.split(",")]
            n_out = len(self.spec.out_params.split(","))
            assert len(args) == len(inputs) + n_out, "outputs must be passed explicitly"
            outputs = args[len(inputs) :]
            shape = outputs[0].shape
            dtypes = {a.dtype for (t, _), a in zip(inputs, args) if t == "T"} | {o.dtype for o in outputs}
            assert len(dtypes) == 1, f"{self.spec.name}: T bound to several dtypes {dtypes}"
            ctype = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}[dtypes.pop()]
            launch_args = []
            for (type_name, _), value in zip(inputs, args):
                if type_name == "T":  # CuPy broadcasts array inputs to the output's shape
                    launch_args.append(np.ascontiguousarray(np.broadcast_to(value, shape)))
                else:
                    launch_args.append(value)
            for out in outputs:
                assert isinstance(out, FakeDeviceArray) and out.flags.c_contiguous
            cupy.launches.append((self.spec.name, None, None))
            host.launch(f"{self.spec.name}_{ctype}", 1, 32, *launch_args, *outputs, np.int64(int(np.prod(shape))))

    cupy.RawModule = RawModule
    cupy.ElementwiseKernel = ElementwiseKernel
    return cupy
