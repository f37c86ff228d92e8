"""A stand-in for ``cupy`` whose kernels run on the CPU emulator (the learner's CUDA C, unchanged).

The names a kernel kata uses behave as in CuPy: ``ndarray``, ``asarray``,
``asnumpy``, ``empty`` / ``zeros`` / ``full`` / ``*_like``, the NumPy scalar
types (``cp.int32(n)``), ``RawKernel(code, name)``, ``RawModule(code=...,
name_expressions=...)``, ``ElementwiseKernel(in_params, out_params, operation,
name)``, ``ReductionKernel(in_params, out_params, map_expr, reduce_expr,
post_map_expr, identity, name)``. Device arrays are NumPy arrays underneath
(so ``x @ w`` and ``x.sum()`` work, as they do in CuPy).

Stricter than CuPy where CuPy is silently wrong: a kernel argument must be a
device array that is C-contiguous and of the dtype the kernel declares, and
a scalar must have the parameter's exact C type (``np.int32`` for ``int``).
``empty`` fills new arrays with NaN, so an element a kernel forgets to write
shows up instead of hiding behind whatever memory held.
"""

from __future__ import annotations

import math
import types

import numpy as np

from . import runtime
from . import source as sources

__version__ = "dojo-emulator"
EMULATED = True

MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK = (1024, 1024, 64)
MAX_GRID = (2**31 - 1, 65535, 65535)
MAX_SHARED_PER_BLOCK = 48 * 1024  # bytes, without the opt-in for more
MAX_EMULATED_THREADS = 4_000_000

int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint32, uint64 = np.uint32, np.uint64
float32, float64 = np.float32, np.float64
bool_ = np.bool_
float_ = np.float64


class ndarray(np.ndarray):
    """A device array of the emulator: NumPy memory that plays GPU memory."""

    def get(self):
        return np.array(self, copy=True).view(np.ndarray)

    def __repr__(self) -> str:
        return "device " + repr(self.view(np.ndarray))


def _device(array) -> ndarray:
    return np.ascontiguousarray(array).view(ndarray) if not isinstance(array, ndarray) else array


def asarray(a, dtype=None) -> ndarray:
    if isinstance(a, ndarray) and (dtype is None or a.dtype == dtype):
        return a
    return np.array(a, dtype=dtype, copy=True).view(ndarray)


array = asarray


def ascontiguousarray(a, dtype=None) -> ndarray:
    return np.ascontiguousarray(a, dtype=dtype).view(ndarray)


def asnumpy(a) -> np.ndarray:
    return np.array(a, copy=True).view(np.ndarray)


def empty(shape, dtype=np.float64) -> ndarray:
    """Uninitialised on a GPU; NaN here (integers: -1), so an unwritten element is seen."""
    out = np.empty(shape, dtype=dtype)
    out.fill(np.nan if np.dtype(dtype).kind == "f" else -1)
    return out.view(ndarray)


def empty_like(a, dtype=None) -> ndarray:
    return empty(np.shape(a), dtype or a.dtype)


def zeros(shape, dtype=np.float64) -> ndarray:
    return np.zeros(shape, dtype).view(ndarray)


def zeros_like(a, dtype=None) -> ndarray:
    return zeros(np.shape(a), dtype or a.dtype)


def ones(shape, dtype=np.float64) -> ndarray:
    return np.ones(shape, dtype).view(ndarray)


def full(shape, fill_value, dtype=None) -> ndarray:
    return np.full(shape, fill_value, dtype).view(ndarray)


def arange(*args, **kwargs) -> ndarray:
    return np.arange(*args, **kwargs).view(ndarray)


def array_equal(a, b) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def get_array_module(*arrays):
    import sys

    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in arrays) else np


# numpy functions that CuPy also has and kata code may call on device arrays
for _name in (
    "exp",
    "tanh",
    "maximum",
    "minimum",
    "matmul",
    "dot",
    "sqrt",
    "abs",
    "where",
    "broadcast_to",
    "ceil",
    "floor",
    "concatenate",
    "stack",
    "isfinite",
    "allclose",
):
    globals()[_name] = getattr(np, _name)


class cuda:
    """What benchmarks touch: a stream to synchronise (nothing is asynchronous here)."""

    class Stream:
        def synchronize(self) -> None:
            pass

    @staticmethod
    def get_current_stream():
        return cuda.Stream()


# ------------------------------------------------------------------ checks


def _dims(value, what: str, limits) -> tuple[int, int, int]:
    if isinstance(value, (int, np.integer)):
        value = (value,)
    if (
        not isinstance(value, tuple)
        or not 1 <= len(value) <= 3
        or not all(isinstance(v, (int, np.integer)) for v in value)
    ):
        raise TypeError(
            f"{what} must be an int or a tuple of 1 to 3 ints, as in CuPy: received {what}={value!r}"
            + (
                " (a float? use // or math.ceil to get an int)"
                if isinstance(value, (tuple, float)) and any(isinstance(v, float) for v in np.atleast_1d(value))
                else ""
            )
        )
    dims = tuple(int(v) for v in value) + (1,) * (3 - len(value))
    for axis, (d, limit) in enumerate(zip(dims, limits)):
        if d < 1:
            raise ValueError(
                f"{what}={value!r}: every dimension must be at least 1 (a grid of 0 blocks "
                f"launches nothing: n // threads is 0 when n < threads; use a ceiling division)"
            )
        if d > limit:
            raise ValueError(f"{what}={value!r}: dimension {'xyz'[axis]} may be at most {limit}")
    return dims


def _check_arguments(name: str, kernel: sources.KernelSignature, type_argument, args) -> tuple:
    if not isinstance(args, (tuple, list)):
        raise TypeError(
            f"{name}: args must be a tuple of the kernel's arguments, e.g. (x, y, cp.int32(n)); "
            f"received {type(args).__name__}"
        )
    params = [p.concrete(type_argument) for p in kernel.params]
    if len(args) != len(params):
        declared = ", ".join(
            ("const " if p.const else "") + p.ctype + ("*" if p.pointer else "") + " " + p.shown for p in params
        )
        raise TypeError(f"{name} takes {len(params)} arguments ({declared}); {len(args)} were passed")
    checked = []
    for position, (param, value) in enumerate(zip(params, args)):
        label = f"{name}: argument {position} ({param.shown})"
        if param.pointer:
            if isinstance(value, np.ndarray) and not isinstance(value, ndarray):
                raise TypeError(
                    f"{label} is a NumPy array in host memory: a kernel reads device memory. "
                    f"Move it first with cp.asarray(...)"
                )
            if not isinstance(value, ndarray):
                raise TypeError(
                    f"{label} must be a device array for `{param.ctype}* {param.shown}`; received {type(value).__name__}"
                )
            if not value.flags.c_contiguous:
                raise ValueError(
                    f"{label} is not C-contiguous (a transpose or a slice?): the kernel would read "
                    f"its elements in the wrong order. Pass cp.ascontiguousarray(...)"
                )
            wanted = sources.SCALAR_DTYPES.get(param.ctype)
            if wanted is None:
                raise TypeError(f"{label}: the emulator does not know the pointer type `{param.ctype}*`")
            if value.dtype != np.dtype(wanted):
                raise TypeError(
                    f"{label} is a {value.dtype} array, but the kernel declares `{param.ctype}* "
                    f"{param.shown}` ({wanted}): on a GPU it would read the bytes as the wrong type. "
                    f"Pass a {wanted} array, or change the kernel's type"
                )
            if not param.const and not value.flags.writeable:
                raise ValueError(f"{label} is read-only, but the kernel may write it")
            checked.append(value)
        else:
            wanted = np.dtype(sources.SCALAR_DTYPES[param.ctype])
            if isinstance(value, (np.generic,)) and value.dtype == wanted:
                checked.append(value)
                continue
            if isinstance(value, np.ndarray):
                raise TypeError(
                    f"{label}: the kernel declares the scalar `{param.ctype} {param.shown}`, but an array was passed"
                )
            python = type(value).__name__
            raise TypeError(
                f"{label}: pass np.{wanted.name}(...) (or cp.{wanted.name}(...)) for `{param.ctype} "
                f"{param.shown}`; received {python} {value!r}. CuPy passes a Python int as a 64-bit "
                f"and a float as a double, so the kernel would read the wrong bytes"
            )
    return tuple(checked)


# ------------------------------------------------------------------ kernels


class RawKernel:
    """``cupy.RawKernel(code, name)``: compiled on first call; ``kernel(grid, block, args, shared_mem=0)``."""

    def __init__(self, code: str, name: str, options=(), backend="nvrtc", *, _where=None, _generated=False, **kwargs):
        if not isinstance(code, str) or not isinstance(name, str):
            raise TypeError("RawKernel(code, name): both must be strings")
        self.code, self.name, self.options = code, name, options
        self._where = _where or runtime.locate(code, runtime.defined_at())
        self._generated = _generated  # ElementwiseKernel/ReductionKernel text: its own #line directives
        self._type_argument = None
        self._signature = None
        self._library = None

    def _compile(self):
        if self._library is None:
            found = sources.signatures(self.code)
            if self.name not in found:
                raise runtime.KernelCompileError(
                    f"RawKernel(code, {self.name!r}): the code defines no __global__ function named {self.name!r}"
                    f" (it defines {', '.join(sorted(found)) or 'none'}). Kernels called by name need "
                    f'extern "C" __global__ void {self.name}(...)'
                )
            self._signature = found[self.name]
            symbol = f"dojo_entry_{self.name}"
            self._library = runtime.build(
                self.code,
                self.name,
                [(self._signature, self._type_argument, symbol)],
                None if self._generated else self._where,
            )
        return self._library

    def __call__(self, grid, block, args, *, shared_mem: int = 0, _reverse: bool = False):
        library = self._compile()
        grid = _dims(grid, "grid", MAX_GRID)
        block = _dims(block, "block", MAX_BLOCK)
        threads = block[0] * block[1] * block[2]
        if threads > MAX_THREADS_PER_BLOCK:
            raise ValueError(f"block={block} has {threads} threads; a block holds at most {MAX_THREADS_PER_BLOCK}")
        if math.prod(grid) * threads > MAX_EMULATED_THREADS:
            raise ValueError(
                f"grid={grid} x block={block} is {math.prod(grid) * threads:,} threads: more than the "
                f"emulator runs ({MAX_EMULATED_THREADS:,}); launch for the data you have"
            )
        if not isinstance(shared_mem, (int, np.integer)) or shared_mem < 0:
            raise TypeError(f"shared_mem must be a byte count (int >= 0); received {shared_mem!r}")
        if shared_mem > MAX_SHARED_PER_BLOCK:
            raise ValueError(
                f"shared_mem={shared_mem} bytes: a block gets at most {MAX_SHARED_PER_BLOCK} bytes "
                f"(48 KB) of shared memory without an opt-in"
            )
        checked = _check_arguments(self.name, self._signature, self._type_argument, args)
        record = runtime.launch(
            library,
            f"dojo_entry_{self.name}",
            self._signature,
            self._type_argument,
            grid,
            block,
            checked,
            int(shared_mem),
            self.name,
            self._where,
            reverse=_reverse or runtime.ORDER.reversed,
            code=None if self._generated else self.code,
        )
        if record.shared_per_block > MAX_SHARED_PER_BLOCK:
            raise runtime.KernelFault(
                f"kernel `{self.name}` uses {record.shared_per_block} bytes of shared memory per "
                f"block; a block gets at most {MAX_SHARED_PER_BLOCK}",
                record,
            )


class RawModule:
    """``cupy.RawModule(code=..., name_expressions=[...])``; ``get_function("kernel<double>")``."""

    def __init__(self, code: str | None = None, *, name_expressions=(), options=(), **kwargs):
        self.code = code
        self.name_expressions = list(name_expressions)
        self._where = runtime.locate(code, runtime.defined_at())
        self._kernels: dict[str, RawKernel] = {}

    def get_function(self, name: str) -> RawKernel:
        if name not in self._kernels:
            base, _, argument = name.partition("<")
            argument = argument.rstrip(">").strip() or None
            if argument and name not in self.name_expressions:
                raise ValueError(f"{name!r} is not in name_expressions {self.name_expressions}")
            kernel = RawKernel(self.code, base, _where=self._where)
            kernel._type_argument = argument
            self._kernels[name] = kernel
        return self._kernels[name]


def _bind_types(name, params, values) -> dict[str, np.dtype]:
    bound: dict[str, np.dtype] = {}
    for param, value in zip(params, values):
        if param.generic and isinstance(value, np.ndarray):
            dtype = value.dtype
            if param.type_name in bound and bound[param.type_name] != dtype:
                raise TypeError(
                    f"{name}: type {param.type_name} is bound to both {bound[param.type_name]} and "
                    f"{dtype} (argument {param.name}): pass arrays of one dtype"
                )
            bound[param.type_name] = dtype
    return bound


_CTYPE_OF = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "float",
    np.dtype(np.int32): "int",
    np.dtype(np.int64): "long long",
    np.dtype(np.uint32): "unsigned int",
    np.dtype(np.bool_): "bool",
}


class ElementwiseKernel:
    """``cupy.ElementwiseKernel(in_params, out_params, operation, name)``: CuPy writes the loop, you the body.

    On the emulator the generated kernel is a grid-stride loop over ``i``
    (128 threads a block), each input element read once into a ``const T``,
    each output bound as a checked reference. Inputs broadcast to the output's
    shape, as in CuPy.
    """

    BLOCK = 128

    def __init__(
        self,
        in_params: str,
        out_params: str,
        operation: str,
        name: str = "kernel",
        reduce_dims=True,
        preamble: str = "",
        no_return=False,
        return_tuple=False,
        **kwargs,
    ):
        self.in_params = sources.kernel_params(in_params)
        self.out_params = sources.kernel_params(out_params)
        self.operation, self.name, self.preamble = operation, name, preamble
        self.specification = (in_params, out_params, operation, name)  # the four strings, as given
        self.return_tuple = return_tuple
        for param in self.in_params + self.out_params:
            if param.name in ("i", "n") or param.name.startswith("_"):
                raise ValueError(f"{name}: the parameter name {param.name!r} is reserved by CuPy (i, n, _*)")
        self._where = runtime.locate(operation, runtime.defined_at())
        self._kernels: dict[tuple, RawKernel] = {}

    def _source(self, types_: dict[str, np.dtype], scalars: set[str], ndim: int | None) -> str:
        """The kernel CuPy would generate: a grid-stride loop over ``i``, the learner's operation inside.

        ``ndim`` is None when every array is C-contiguous and of the output's
        shape (element ``i`` of each); otherwise each array's element is found
        through its strides (a view, a transpose, a broadcast input), as CuPy
        indexes them: the shape and strides come in ``_geometry``.
        """
        typedefs = " ".join(f"typedef {_CTYPE_OF[d]} {t};" for t, d in types_.items())

        def ctype(p):
            return _CTYPE_OF[types_[p.type_name]] if p.generic else sources.DTYPE_CTYPES[p.type_name]

        params, binds, arrays = [], [], []
        for p in self.in_params:
            if p.name in scalars:
                params.append(f"{ctype(p)} {p.name}")
            else:
                params.append(f"const {ctype(p)}* _raw_{p.name}")
                binds.append(f"const {ctype(p)} {p.name} = _raw_{p.name}[{self._at(p, len(arrays), ndim)}];")
                arrays.append(p)
        for p in self.out_params:
            params.append(f"{ctype(p)}* _raw_{p.name}")
            binds.append(f"dojo::ref<{ctype(p)}> {p.name} = _raw_{p.name}[{self._at(p, len(arrays), ndim)}];")
            arrays.append(p)
        walk = ""
        if ndim is not None:
            params.append("unsigned long long _geometry")
            starts = " ".join(f"long long _at_{k} = _g[{ndim + k * (ndim + 1) + ndim}];" for k in range(len(arrays)))
            steps = " ".join(f"_at_{k} += _k * _g[{ndim + k * (ndim + 1)} + _d];" for k in range(len(arrays)))
            walk = (
                f"        long long _rest = i; {starts}\n"
                f"        for (int _d = {ndim - 1}; _d >= 0; --_d) {{ long long _k = _rest % _g[_d]; _rest /= _g[_d]; "
                f"{steps} }}\n"
            )
        return (
            f'#line 1 "{self.name} (generated by ElementwiseKernel)"\n{self.preamble}\n{typedefs}\n'
            f"typedef long long dojo_i64;\n"
            f'extern "C" __global__ void {self.name}({", ".join(params)}, long long n) {{\n'
            + ("    const dojo_i64* _g = reinterpret_cast<const dojo_i64*>(_geometry);\n" if ndim is not None else "")
            + f"    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;"
            f" i += (long long)blockDim.x * gridDim.x) {{\n{walk}"
            f"        {' '.join(binds)}\n"
            f'#line {self._where[1] if self._where else 1} "{self._where[0] if self._where else "operation"}"\n'
            f"{self.operation};\n"
            f"    }}\n}}\n"
        )

    @staticmethod
    def _at(param, k: int, ndim: int | None) -> str:
        """Where ``param``'s element for ``i`` is: ``i`` itself, or the offset its strides give."""
        return "i" if ndim is None else f"_at_{k}"

    def __call__(self, *args, size=None, **kwargs):
        n_in, n_out = len(self.in_params), len(self.out_params)
        if len(args) not in (n_in, n_in + n_out):
            raise TypeError(f"{self.name} takes {n_in} inputs (and optionally {n_out} outputs); {len(args)} given")
        inputs, outputs = list(args[:n_in]), list(args[n_in:])
        for p, value in zip(self.in_params, inputs):
            if isinstance(value, np.ndarray) and not isinstance(value, ndarray):
                raise TypeError(
                    f"{self.name}: input {p.name} is a NumPy array in host memory; move it to the "
                    f"device with cp.asarray(...) first"
                )
        types_ = _bind_types(self.name, self.in_params + self.out_params, inputs + outputs)
        for p in self.in_params + self.out_params:
            if p.generic and p.type_name not in types_:
                raise TypeError(
                    f"{self.name}: cannot tell which dtype {p.type_name} is: pass at least one array "
                    f"argument of type {p.type_name}"
                )
        arrays = [v for v in inputs if isinstance(v, np.ndarray)]
        try:
            shape = outputs[0].shape if outputs else np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        except ValueError:
            shapes = ", ".join(
                f"{p.name} {v.shape}" for p, v in zip(self.in_params, inputs) if isinstance(v, np.ndarray)
            )
            raise ValueError(f"{self.name}: the inputs do not broadcast to one shape: {shapes}") from None
        scalars = {p.name for p, v in zip(self.in_params, inputs) if not isinstance(v, np.ndarray)}
        if not outputs:
            for p in self.out_params:
                dtype = types_[p.type_name] if p.generic else np.dtype(p.type_name)
                outputs.append(empty(shape, dtype))
        for p, out in zip(self.out_params, outputs):
            if out.shape != shape:
                raise ValueError(
                    f"{self.name}: output {p.name} has shape {out.shape}, but the inputs broadcast to {shape}"
                )
        views, scalar_args = self._inputs(inputs, types_, scalars, shape)
        views += outputs
        strided = any(not (v.flags.c_contiguous and v.shape == shape) for v in views)
        ndim = len(shape) if strided else None
        key = (tuple(sorted((t, str(d)) for t, d in types_.items())), tuple(sorted(scalars)), ndim)
        if key not in self._kernels:
            self._kernels[key] = RawKernel(
                self._source(types_, scalars, ndim), self.name, _where=self._where or ("?", 0), _generated=True
            )
        geometry, spans = _geometry(shape, views) if strided else (None, views)
        launch_args = self._order(scalar_args, spans)
        if geometry is not None:
            launch_args.append(np.uint64(geometry.ctypes.data))
        total = int(np.prod(shape))
        blocks = max(1, min(-(-total // self.BLOCK), 1024))
        self._kernels[key]((blocks,), (self.BLOCK,), (*launch_args, np.int64(total)))
        return outputs[0] if len(outputs) == 1 and not self.return_tuple else tuple(outputs)

    def _inputs(self, inputs, types_, scalars, shape) -> tuple[list, list]:
        """Array inputs as views of the output's shape (broadcast, cast where the dtype differs), and scalars."""
        views, scalar_args = [], []
        for p, value in zip(self.in_params, inputs):
            wanted = types_[p.type_name] if p.generic else np.dtype(p.type_name)
            if p.name in scalars:
                scalar_args.append((p, wanted.type(value)))
                continue
            try:
                view = np.broadcast_to(value, shape)
            except ValueError:
                raise ValueError(
                    f"{self.name}: input {p.name} of shape {value.shape} does not broadcast to {shape}"
                ) from None
            views.append((view if value.dtype == wanted else ascontiguousarray(view, dtype=wanted)).view(ndarray))
        return views, scalar_args

    def _order(self, scalar_args, spans) -> list:
        """The arguments in the kernel's order: inputs (arrays and scalars as declared), then outputs."""
        scalars = dict((p.name, v) for p, v in scalar_args)
        arrays = iter(spans)
        ordered = [scalars[p.name] if p.name in scalars else next(arrays) for p in self.in_params]
        return ordered + list(arrays)


def _geometry(shape: tuple, views: list) -> tuple[np.ndarray, list]:
    """The int64 ``_geometry`` of a strided ElementwiseKernel launch, and each array as the span it touches.

    Layout: the shape, then per array its strides in elements and the offset
    of its element (0, ..., 0) in its span. A span is the 1-D run of memory
    from the array's lowest address to its highest, so that bounds and races
    are checked on the memory the view really reads (a broadcast input's
    stride is 0: every thread reads the same element, as on a GPU).
    """
    numbers, spans = list(shape), []
    for view in views:
        itemsize = view.itemsize
        if any(stride % itemsize for stride in view.strides):
            view = np.ascontiguousarray(view)
        strides = [stride // itemsize for stride in view.strides]
        low = sum(min(0, (size - 1) * stride) for size, stride in zip(view.shape, strides) if size)
        high = sum(max(0, (size - 1) * stride) for size, stride in zip(view.shape, strides) if size)
        flipped = view[tuple(slice(None, None, -1) if stride < 0 else slice(None) for stride in strides)]
        span = np.lib.stride_tricks.as_strided(flipped, shape=(high - low + 1,), strides=(itemsize,))
        spans.append(span.view(ndarray))
        numbers += [*strides, -low]
    return np.asarray(numbers, dtype=np.int64), spans


class ReductionKernel:
    """``cupy.ReductionKernel(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name)``.

    On the emulator: one thread per output element, walking the reduced axes
    (moved last) with ``a = reduce_expr`` over ``b = map_expr``.
    """

    BLOCK = 128

    def __init__(
        self,
        in_params,
        out_params,
        map_expr,
        reduce_expr,
        post_map_expr,
        identity,
        name="reduce_kernel",
        reduce_type=None,
        reduce_dims=True,
        preamble="",
        **kwargs,
    ):
        self.in_params = sources.kernel_params(in_params)
        self.out_params = sources.kernel_params(out_params)
        self.map_expr, self.reduce_expr, self.post_map_expr = map_expr, reduce_expr, post_map_expr
        self.identity, self.name, self.reduce_type, self.preamble = identity, name, reduce_type, preamble
        self._where = runtime.locate(map_expr, runtime.defined_at())
        self._kernels: dict[tuple, RawKernel] = {}

    def _source(self, types_):
        typedefs = " ".join(f"typedef {_CTYPE_OF[d]} {t};" for t, d in types_.items())

        def ctype(p):
            return _CTYPE_OF[types_[p.type_name]] if p.generic else sources.DTYPE_CTYPES[p.type_name]

        reduce_type = self.reduce_type or ctype(self.in_params[0])
        params = [f"const {ctype(p)}* _raw_{p.name}" for p in self.in_params]
        params += [f"{ctype(p)}* _raw_{p.name}" for p in self.out_params]
        binds_in = " ".join(f"const {ctype(p)} {p.name} = _raw_{p.name}[_j * _m + _k];" for p in self.in_params)
        binds_out = " ".join(f"dojo::ref<{ctype(p)}> {p.name} = _raw_{p.name}[_j];" for p in self.out_params)
        return (
            f"{self.preamble}\n{typedefs}\ntypedef {reduce_type} _type_reduce;\n"
            f'extern "C" __global__ void {self.name}({", ".join(params)}, long long _out_n, long long _m) {{\n'
            f"    for (long long _j = (long long)blockIdx.x * blockDim.x + threadIdx.x; _j < _out_n;"
            f" _j += (long long)blockDim.x * gridDim.x) {{\n"
            f"        _type_reduce a = _type_reduce({self.identity});\n"
            f"        for (long long _k = 0; _k < _m; ++_k) {{\n"
            f"            {binds_in}\n"
            f"            _type_reduce b = _type_reduce({self.map_expr});\n"
            f"            a = {self.reduce_expr};\n"
            f"        }}\n"
            f"        {binds_out}\n"
            f"        {self.post_map_expr};\n"
            f"    }}\n}}\n"
        )

    def __call__(self, *args, axis=None, keepdims=False, **kwargs):
        n_in = len(self.in_params)
        inputs = list(args[:n_in])
        for p, value in zip(self.in_params, inputs):
            if not isinstance(value, ndarray):
                raise TypeError(f"{self.name}: input {p.name} must be a device array (cp.asarray(...))")
        types_ = _bind_types(self.name, self.in_params, inputs)
        first = inputs[0]
        axes = tuple(range(first.ndim)) if axis is None else tuple(a % first.ndim for a in np.atleast_1d(axis))
        kept = [a for a in range(first.ndim) if a not in axes]
        moved = [ascontiguousarray(np.transpose(v, kept + list(axes))) for v in inputs]
        out_shape = tuple(first.shape[a] for a in kept)
        m = int(np.prod([first.shape[a] for a in axes])) if axes else 1
        outputs = [
            empty(out_shape, types_[p.type_name] if p.generic else np.dtype(p.type_name)) for p in self.out_params
        ]
        key = tuple(sorted((t, str(d)) for t, d in types_.items()))
        if key not in self._kernels:
            self._kernels[key] = RawKernel(
                self._source(types_), self.name, _where=self._where or ("?", 0), _generated=True
            )
        total = int(np.prod(out_shape))
        blocks = max(1, min(-(-total // self.BLOCK), 1024))
        self._kernels[key]((blocks,), (self.BLOCK,), (*moved, *outputs, np.int64(total), np.int64(m)))
        out = outputs[0]
        if keepdims:
            out = out.reshape([1 if a in axes else first.shape[a] for a in range(first.ndim)])
        return out


def as_module() -> types.ModuleType:
    import sys

    return sys.modules[__name__]
