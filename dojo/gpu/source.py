"""From a learner's CUDA C to C++ the emulator can run: the rewrite, the signatures, the entry points.

Three small rewrites, each on one line so that line numbers survive (a
``#line`` directive then points the compiler's messages at the learner's
Python file):

* pointer types become bounds-checked pointers:
  ``const double* x`` -> ``dojo::ptr<const double> x`` (also for locals such as
  ``const double* row = x + r * cols``);
* ``__shared__ double partial[256];`` -> ``static dojo::shared_array<double, 256> partial{"partial"};``
  (2-D and scalars alike), ``extern __shared__ double buffer[];`` -> a view of
  the launch's dynamic shared memory;
* nothing else: ``threadIdx``, ``__syncthreads()``, ``atomicAdd`` are macros of
  ``emulator.h``.

Each ``__global__`` function's parameters are read from the *original* text,
so the Python side can check arguments the way the kernel declares them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TYPE = r"(?:unsigned\s+long\s+long|unsigned\s+int|long\s+long|unsigned|float|double|int|long|bool|char|size_t|T)"
_POINTER = re.compile(rf"(\bconst\s+)?\b({_TYPE})\s*(?:\bconst\s*)?\*(?:\s*__restrict__)?")
_SHARED_2D = re.compile(rf"__shared__\s+({_TYPE})\s+(\w+)\s*\[([^\]]+)\]\s*\[([^\]]+)\]\s*;")
_SHARED_1D = re.compile(rf"__shared__\s+({_TYPE})\s+(\w+)\s*\[([^\]]+)\]\s*;")
_SHARED_DYNAMIC = re.compile(rf"extern\s+__shared__\s+({_TYPE})\s+(\w+)\s*\[\s*\]\s*;")
_SHARED_SCALAR = re.compile(rf"__shared__\s+({_TYPE})\s+(\w+)\s*;")
_KERNEL = re.compile(r"(template\s*<\s*typename\s+(\w+)\s*>\s*)?__global__\s+void\s+(\w+)\s*\(([^)]*)\)", re.DOTALL)

# C type of a scalar parameter -> NumPy dtype name (what the argument must be)
SCALAR_DTYPES = {
    "int": "int32",
    "unsigned int": "uint32",
    "unsigned": "uint32",
    "long long": "int64",
    "long": "int64",
    "unsigned long long": "uint64",
    "size_t": "uint64",
    "float": "float32",
    "double": "float64",
    "bool": "bool",
}
# NumPy dtype name -> C type, for ElementwiseKernel parameters such as "float64 x"
DTYPE_CTYPES = {
    "float64": "double",
    "float32": "float",
    "int32": "int",
    "int64": "long long",
    "uint32": "unsigned int",
    "bool": "bool",
}


@dataclass(frozen=True)
class Param:
    ctype: str  # "double", "int", "T"
    name: str
    pointer: bool
    const: bool

    def concrete(self, type_argument: str | None) -> Param:
        if self.ctype == "T" and type_argument:
            return Param(type_argument, self.name, self.pointer, self.const)
        return self


@dataclass(frozen=True)
class KernelSignature:
    name: str
    params: tuple[Param, ...]
    template: str | None  # the template parameter's name (only `typename T` is understood)


class SourceError(ValueError):
    """The kernel text cannot be read (no such kernel, a parameter the emulator does not know)."""


def _param(text: str) -> Param:
    text = " ".join(text.replace("__restrict__", " ").split())
    pointer = "*" in text
    text = text.replace("*", " ")
    words = text.split()
    if len(words) < 2:
        raise SourceError(f"cannot read the kernel parameter {text!r}: write it as `type name`")
    name = words[-1]
    const = "const" in words[:-1]
    ctype = " ".join(w for w in words[:-1] if w != "const")
    return Param(ctype, name, pointer, const)


def signatures(code: str) -> dict[str, KernelSignature]:
    """Every ``__global__`` function of ``code``, by name."""
    found = {}
    for _template, type_name, name, params in _KERNEL.findall(code):
        parts = [p for p in params.split(",") if p.strip()]
        found[name] = KernelSignature(name, tuple(_param(p) for p in parts), type_name or None)
    return found


def rewrite(code: str) -> str:
    """The learner's CUDA C with checked pointers and shared memory; same lines, same columns where possible."""

    def pointer(match: re.Match) -> str:
        const = "const " if match.group(1) else ""
        ctype = " ".join(match.group(2).split())
        return f"dojo::ptr<{const}{ctype}> "

    code = _SHARED_DYNAMIC.sub(lambda m: f'static dojo::dynamic_shared<{m[1]}> {m[2]}{{"{m[2]}"}};', code)
    code = _SHARED_2D.sub(lambda m: f'static dojo::shared_array<{m[1]}, ({m[3]}), ({m[4]})> {m[2]}{{"{m[2]}"}};', code)
    code = _SHARED_1D.sub(lambda m: f'static dojo::shared_array<{m[1]}, ({m[3]})> {m[2]}{{"{m[2]}"}};', code)
    code = _SHARED_SCALAR.sub(lambda m: f'static dojo::shared_scalar<{m[1]}> {m[2]}{{"{m[2]}"}};', code)
    return _POINTER.sub(pointer, code)


def entry_point(kernel: KernelSignature, type_argument: str | None, symbol: str) -> str:
    """``extern "C" int <symbol>(...)``: unpack the arguments and run the grid."""
    arguments = []
    for k, param in enumerate(kernel.params):
        p = param.concrete(type_argument)
        if p.pointer:
            const = "const " if p.const else ""
            arguments.append(f"dojo::ptr<{const}{p.ctype}>{{&regions[{k}], 0}}")
        else:
            arguments.append(f"*static_cast<{p.ctype}*>(args[{k}])")
    target = f"{kernel.name}<{type_argument}>" if kernel.template else kernel.name
    call = f"{target}({', '.join(arguments)});"
    return (
        f'extern "C" int {symbol}(void** args, dojo::Region* regions, unsigned gx, unsigned gy, unsigned gz,\n'
        f"        unsigned bx, unsigned by, unsigned bz, long long shared, int reverse, dojo::Stats* stats,\n"
        f"        char* error, int error_len, long long limit) {{\n"
        f"    (void)args; (void)regions;\n"
        f"    auto body = [&] {{ {call} }};\n"
        f"    return dojo::run_grid(body, dim3(gx, gy, gz), dim3(bx, by, bz), shared, reverse != 0, stats,\n"
        f"                          error, error_len, limit);\n"
        f"}}\n"
    )


def translation_unit(code: str, where: tuple[str, int] | None, entries: list[str]) -> str:
    """The whole C++ file: the header, the learner's code (with #line), the entry points."""
    line = f'#line {where[1]} "{where[0]}"\n' if where else ""
    return '#include "emulator.h"\n' + line + rewrite(code) + '\n#line 1 "dojo-generated"\n' + "\n".join(entries)


# ----------------------------------------------------------------- elementwise


@dataclass(frozen=True)
class KernelParam:
    """One parameter of an ElementwiseKernel / ReductionKernel: ``T x`` or ``float64 slope``."""

    type_name: str  # "T" (or another single capital) or a dtype name
    name: str
    raw: bool = False

    @property
    def generic(self) -> bool:
        return self.type_name not in DTYPE_CTYPES


def kernel_params(text: str) -> tuple[KernelParam, ...]:
    params = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        raw = words[0] == "raw"
        words = words[1:] if raw else words
        if len(words) != 2:
            raise SourceError(
                f"cannot read the parameter {part.strip()!r}: write `type name`, e.g. `T x` or `float64 slope`"
            )
        type_name, name = words
        if type_name not in DTYPE_CTYPES and not re.fullmatch(r"[A-Z]\w*", type_name):
            raise SourceError(
                f"unknown type {type_name!r} in {part.strip()!r}: use a dtype name "
                f"({', '.join(DTYPE_CTYPES)}) or a type placeholder such as T"
            )
        params.append(KernelParam(type_name, name, raw))
    return tuple(params)


def elementwise_cuda(
    in_params: str, out_params: str, operation: str, name: str, ctype: str = "double", preamble: str = ""
) -> str:
    """An ElementwiseKernel as plain CUDA C, shaped like the kernel CuPy generates, for ``nvcc -ptx``.

    ``typedef <ctype> T;``, array inputs bound as ``const T&``, outputs as
    ``T&``, a grid-stride loop over ``i`` (every parameter taken as an array).
    """

    def c(p: KernelParam) -> str:
        return ctype if p.generic else DTYPE_CTYPES[p.type_name]

    ins, outs = kernel_params(in_params), kernel_params(out_params)
    arguments = [f"const {c(p)}* _raw_{p.name}" for p in ins] + [f"{c(p)}* _raw_{p.name}" for p in outs]
    bindings = [f"const {c(p)}& {p.name} = _raw_{p.name}[i];" for p in ins]
    bindings += [f"{c(p)}& {p.name} = _raw_{p.name}[i];" for p in outs]
    return (
        f"{preamble}\n"
        f'extern "C" __global__ void {name}({", ".join(arguments)}, long long n) {{\n'
        f"    typedef {ctype} T;\n"
        f"    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;"
        f" i += (long long)blockDim.x * gridDim.x) {{\n"
        f"        {' '.join(bindings)}\n"
        f"        {operation};\n"
        f"    }}\n}}\n"
    )
