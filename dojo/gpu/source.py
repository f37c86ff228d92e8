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

    @property
    def shown(self) -> str:
        """The name the learner wrote: an ElementwiseKernel's ``_raw_x`` is their ``x``."""
        return self.name.removeprefix("_raw_")

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
    learner = with_loop_ticks(rewrite(strip_allowed_includes(code)))
    poison = f"#pragma GCC poison {POISONED}\n"
    return '#include "emulator.h"\n' + poison + line + learner + '\n#line 1 "dojo-generated"\n' + "\n".join(entries)


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


# ------------------------------------------------------------ reading the text


def masked(code: str) -> str:
    """``code`` with comments, strings and character literals blanked (same length, same newlines).

    What is left is code only, so a search for ``for (`` or ``{`` never
    lands in a comment, and positions still index the original text.
    """
    out, i, n = [], 0, len(code)
    while i < n:
        two = code[i : i + 2]
        if two == "//":
            end = code.find("\n", i)
            end = n if end < 0 else end
        elif two == "/*":
            end = code.find("*/", i + 2)
            end = n if end < 0 else end + 2
        elif code[i] in "\"'":
            end = i + 1
            while end < n and code[end] != code[i] and code[end] != "\n":
                end += 2 if code[end] == "\\" else 1
            end = min(n, end + 1)
        else:
            out.append(code[i])
            i += 1
            continue
        out.append(re.sub(r"[^\n]", " ", code[i:end]))
        i = end
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """Index of the bracket that closes the one at ``start`` (or -1)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opening, closing, depth = text[start], pairs[text[start]], 0
    for k in range(start, len(text)):
        if text[k] == opening:
            depth += 1
        elif text[k] == closing:
            depth -= 1
            if depth == 0:
                return k
    return -1


def _opening(text: str, end: int) -> int:
    """Index of the bracket that opens the one at ``end`` (or -1)."""
    pairs = {")": "(", "]": "[", "}": "{"}
    closing, opening, depth = text[end], pairs[text[end]], 0
    for k in range(end, -1, -1):
        if text[k] == closing:
            depth += 1
        elif text[k] == opening:
            depth -= 1
            if depth == 0:
                return k
    return -1


_LOOP = re.compile(r"\b(for|while)\s*\(")


def with_loop_ticks(code: str) -> str:
    """Every ``for``/``while`` condition also calls ``dojo::tick(__LINE__)``, on the same line.

    So a loop that never touches memory still reaches the emulator once per
    iteration, which stops it after a bound and names its line; the loop's
    meaning is unchanged (``tick`` returns true). Range-for loops are left alone.
    """
    text = masked(code)
    edits: list[tuple[int, str]] = []
    for match in _LOOP.finditer(text):
        start = match.end() - 1
        end = _closing(text, start)
        if end < 0:
            continue
        if match.group(1) == "while":
            edits += [(start + 1, "::dojo::tick(__LINE__) && ("), (end, ")")]
            continue
        inside = text[start + 1 : end]
        depth, semicolons = 0, []
        for k, char in enumerate(inside):
            depth += char in "([{"
            depth -= char in ")]}"
            if char == ";" and depth == 0:
                semicolons.append(start + 1 + k)
        if len(semicolons) != 2:
            continue
        first, second = semicolons
        if text[first + 1 : second].strip():
            edits += [(first + 1, " ::dojo::tick(__LINE__) && ("), (second, ")")]
        else:
            edits.append((first + 1, " ::dojo::tick(__LINE__)"))
    for position, insert in sorted(edits, reverse=True):
        code = code[:position] + insert + code[position:]
    return code


_BRANCH = re.compile(r"\b(if|else|for|while|switch)\s*$")


def enclosing_branch(code: str, line_index: int) -> tuple[int, str] | None:
    """The ``if`` (or ``else``) around the ``__syncthreads()`` on ``code``'s line ``line_index`` (0-based).

    Returns (its 0-based line, its text, e.g. ``if (t < stride)``), or None
    when the barrier is in no branch. Loops around it are looked through: a
    barrier in a loop every thread runs alike is fine; one in an ``if`` is not.
    """
    text = masked(code)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    if line_index >= len(starts):
        return None
    found = text.find("__syncthreads", starts[line_index])
    if found < 0:
        return None
    position = found
    while position > 0:
        before = text[:position].rstrip()
        header = _statement_header(text, before)
        if header is not None:
            keyword, at = header
            if keyword in ("if", "else"):
                return _branch(text, keyword, at, len(before))
            position = at
            continue
        opening = _enclosing_brace(text, position)
        if opening < 0:
            return None
        position = opening
        header = _statement_header(text, text[:opening].rstrip())
        if header is None:
            continue
        keyword, at = header
        if keyword in ("if", "else"):
            return _branch(text, keyword, at, len(text[:opening].rstrip()))
        position = at
    return None


def _branch(text: str, keyword: str, at: int, end: int) -> tuple[int, str]:
    """(line, text) of an ``if (...)`` header; for an ``else``, the ``if`` it belongs to."""
    if keyword == "else":
        before = text[:at].rstrip()
        if before.endswith("}"):
            opening = _opening(text, len(before) - 1)
            header = _statement_header(text, text[:opening].rstrip()) if opening >= 0 else None
            if header is not None and header[0] == "if":
                start = header[1]
                head = " ".join(text[start : len(text[:opening].rstrip())].split())
                return text.count("\n", 0, at), f"else` of `{head}"
        return text.count("\n", 0, at), "else"
    return text.count("\n", 0, at), " ".join(text[at:end].split())


def _statement_header(text: str, before: str) -> tuple[str, int] | None:
    """If ``before`` ends with ``if (...)``, ``for (...)``, ``while (...)`` or ``else``: (keyword, its start)."""
    if before.endswith(")"):
        opening = _opening(text, len(before) - 1)
        if opening < 0:
            return None
        match = _BRANCH.search(text[:opening])
        return (match.group(1), match.start()) if match else None
    match = re.search(r"\belse$", before)
    return ("else", match.start()) if match else None


def _enclosing_brace(text: str, position: int) -> int:
    depth = 0
    for k in range(position - 1, -1, -1):
        if text[k] == "}":
            depth += 1
        elif text[k] == "{":
            if depth == 0:
                return k
            depth -= 1
    return -1


def early_return(code: str, before_index: int) -> int | None:
    """The 0-based line of the first ``return`` before line ``before_index``, or None."""
    text = masked(code)
    for number, line in enumerate(text.splitlines()[:before_index]):
        if re.search(r"\breturn\b", line):
            return number
    return None


# ------------------------------------------------------------- device code only

#: Headers a kernel may include: what NVRTC offers and the emulator provides (they are left out here).
ALLOWED_HEADERS = {"cuda_runtime.h", "math.h", "cmath", "stdint.h", "cstdint", "float.h", "cfloat"}
#: Host functions device code cannot call (nvcc: "calling a __host__ function from a __global__ function
#: is not allowed"): files, processes, the environment, the dynamic loader, raw system calls.
HOST_FUNCTIONS = (
    "system popen pclose fork vfork execl execlp execle execv execvp execvpe execve posix_spawn fopen freopen "
    "fdopen fclose fread fwrite fgets fputs fputc fgetc fprintf fscanf fseek ftell fflush remove rename unlink "
    "rmdir mkdir open openat creat close read write pread pwrite lseek dup dup2 pipe socket connect bind listen "
    "accept send recv kill raise signal sigaction exit _exit _Exit quick_exit atexit abort getenv setenv putenv "
    "unsetenv dlopen dlsym mmap munmap mprotect syscall ptrace chdir chmod chown symlink link truncate ftruncate "
    "sleep usleep nanosleep scanf gets getchar putchar puts perror tmpfile tmpnam opendir readdir stat wait "
    "waitpid pthread_create"
).split()
#: Poisoned for the compiler too (after emulator.h): a call assembled by a macro is refused as well.
POISONED = "system popen fork vfork execve execv execvp dlopen dlsym syscall ptrace posix_spawn"
_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]", re.MULTILINE)


def host_code(code: str) -> tuple[int, str] | None:
    """(0-based line, why) of the first thing in ``code`` that is not device code, or None.

    A host header, a call of a host function (one the code does not define
    itself), inline assembly or a function attribute (a constructor would
    run on the host when the kernel is loaded).
    """
    for match in _INCLUDE.finditer(code):
        if match.group(1).strip() not in ALLOWED_HEADERS:
            return code.count("\n", 0, match.start()), (
                f"includes <{match.group(1)}>, a host header: CuPy compiles kernels with NVRTC, which has no "
                "host headers, and device code could not call what they declare. Remove the #include: the "
                "math functions (exp, sqrt, fabs, ...) are built in"
            )
    text = masked(code)
    for match in re.finditer(r"\b(asm|__asm__|__asm|__attribute__)\b", text):
        return text.count("\n", 0, match.start()), (
            f"uses `{match.group(1)}`: inline assembly is PTX on a GPU and function attributes belong to the "
            "host; a kata kernel needs neither"
        )
    defined = set(re.findall(r"\b(\w+)\s*\([^;{)]*\)\s*\{", text))
    for match in re.finditer(r"(?<![\w.>])(?:::|std::)?(\w+)\s*\(", text):
        name = match.group(1)
        if name in HOST_FUNCTIONS and name not in defined:
            return text.count("\n", 0, match.start()), (
                f'calls {name}(), a host function: device code cannot call it (nvcc: "calling a __host__ '
                'function from a __global__ function is not allowed"). A kernel computes on device memory '
                "only: no files, no processes, no system calls"
            )
    return None


def strip_allowed_includes(code: str) -> str:
    """Blank the allowed ``#include`` lines (emulator.h provides them), keeping every line number."""
    return _INCLUDE.sub(lambda m: "" if m.group(1).strip() in ALLOWED_HEADERS else m.group(0), code)
