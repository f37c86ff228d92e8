"""Compile a kernel for the emulator (once, cached by source hash) and launch it.

The compiled library lives in ``.katas/gpu-cache/<sha256>.so``: the hash
covers the rewritten source, ``emulator.h`` and the compiler command, so an
edit to the kernel (or to the emulator) compiles afresh and a rerun does not.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from . import source as sources

HERE = Path(__file__).resolve().parent
HEADER = HERE / "emulator.h"
ERROR_BYTES = 4096
ACCESS_LIMIT = 30_000_000  # memory accesses per launch before "a loop that never ends?"
SHADOW_FIELDS = 12  # as enum Shadow in emulator.h: the last writer (column 0) and reader (column 4), ...
WRITER, READER = 0, 4


class KernelFault(AssertionError):
    """The kernel did something a GPU would punish (out of bounds, a race, a hang): the message says what."""

    def __init__(self, message: str, launch=None):
        super().__init__(message)
        self.launch = launch


class KernelCompileError(AssertionError):
    """The kernel's CUDA C does not compile; the message quotes the compiler at the learner's line."""


class NoCompiler(RuntimeError):
    """No C++ compiler: the emulator cannot build kernels on this machine."""


class Region(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("base", ctypes.c_void_p),
        ("count", ctypes.c_int64),
        ("elem_size", ctypes.c_int32),
        ("kind", ctypes.c_int32),
        ("shadow", ctypes.c_void_p),
        ("loads", ctypes.c_int64),
        ("stores", ctypes.c_int64),
        ("atomics", ctypes.c_int64),
        ("slot", ctypes.c_int32),
        ("padding", ctypes.c_int32),
        ("sectors", ctypes.c_int64),
        ("min_sectors", ctypes.c_int64),
        ("worst_line", ctypes.c_int32),
        ("worst_stride", ctypes.c_int32),
        ("worst_ratio", ctypes.c_double),
        ("rows", ctypes.c_int64),
        ("cols", ctypes.c_int64),
    ]


class Stats(ctypes.Structure):
    _fields_ = [
        ("shared_loads", ctypes.c_int64),
        ("shared_stores", ctypes.c_int64),
        ("barriers", ctypes.c_int64),
        ("static_shared_bytes", ctypes.c_int64),
        ("accesses", ctypes.c_int64),
        ("blocks", ctypes.c_int64),
        ("threads", ctypes.c_int64),
        ("shared_wavefronts", ctypes.c_int64),
        ("shared_min_wavefronts", ctypes.c_int64),
        ("conflict_line", ctypes.c_int32),
        ("conflict_ways", ctypes.c_int32),
        ("block_epoch", ctypes.c_int32),
        ("launch_id", ctypes.c_int32),
        ("last_block", ctypes.c_int64),
    ]


_CTYPES = {
    "int": ctypes.c_int32,
    "unsigned int": ctypes.c_uint32,
    "unsigned": ctypes.c_uint32,
    "long long": ctypes.c_int64,
    "long": ctypes.c_int64,
    "unsigned long long": ctypes.c_uint64,
    "size_t": ctypes.c_uint64,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "bool": ctypes.c_bool,
}


def compiler() -> str:
    """The host C++ compiler, or NoCompiler with the one line that says what to install."""
    for candidate in (os.environ.get("CXX"), "g++", "clang++", "c++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise NoCompiler(
        "the GPU emulator needs a C++20 compiler and found none: install g++ "
        "(Debian/Ubuntu: sudo apt-get install g++; Fedora: sudo dnf install gcc-c++; "
        "macOS: xcode-select --install; Windows: use WSL)"
    )


def cache_dir() -> Path:
    from ..paths import STATE_DIR

    root = Path(os.environ.get("KATAS_ROOT", Path(__file__).resolve().parents[2]))
    folder = Path(os.environ.get("KATAS_GPU_CACHE", root / STATE_DIR / "gpu-cache"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_FLAGS = ["-std=c++20", "-O1", "-shared", "-fPIC", "-w"]
_LINE_FILE = re.compile(r'^(#line \d+) "[^"\n]*"$', re.MULTILINE)


def _compile_message(stderr: str, name: str, where: tuple[str, int] | None) -> str:
    """The compiler's first error, at the learner's line, without the emulator's own internals."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    shown, keep = [], False
    for line in lines:
        if ": error:" in line or ": fatal error:" in line:
            if len([s for s in shown if ": error:" in s]) >= 2:
                break
            keep = "dojo-generated" not in line and "emulator.h" not in line
            if keep:
                shown.append(_shorten(line))
            continue
        if keep and (line.startswith(" ") or line.lstrip()[:1].isdigit() or "|" in line):
            shown.append(line)
    if not shown:
        shown = [_shorten(line) for line in lines if "error" in line][:3] or lines[-5:]
    text = "\n".join(shown[:10])
    place = f" ({where[0]}, line {where[1]} onwards)" if where else ""
    return f"your kernel `{name}`{place} does not compile:\n{text}"


def _shorten(line: str) -> str:
    try:
        root = str(Path(__file__).resolve().parents[2]) + os.sep
        return line.replace(root, "")
    except IndexError:
        return line


@cache
def _load(path: str) -> ctypes.CDLL:
    return ctypes.CDLL(path)


def build(
    code: str, name: str, entries: list[tuple[sources.KernelSignature, str | None, str]], where: tuple[str, int] | None
) -> ctypes.CDLL:
    """Compile ``code`` with an entry point per (kernel, template argument, symbol); cached by hash."""
    problem = sources.host_code(code)
    if problem is not None:
        index, why = problem
        place = f" ({where[0]}, line {where[1] + index})" if where else ""
        raise KernelCompileError(f"your kernel `{name}`{place} {why}")
    cxx = compiler()
    entry_points = [sources.entry_point(k, t, s) for k, t, s in entries]
    unit = sources.translation_unit(code, where, entry_points)
    # The cache key leaves out the file names of the #line directives (they only name the file in compiler
    # errors, which a cached build never shows) but keeps their lines: the same kernel in another copy of
    # the course, as each mutation self-test's folder is, is not compiled again.
    keyed = _LINE_FILE.sub(r'\1 "<file>"', unit)
    digest = hashlib.sha256("\0".join([keyed, HEADER.read_text(), cxx, *_FLAGS]).encode()).hexdigest()[:32]
    folder = cache_dir()
    library = folder / f"{digest}.so"
    if not library.exists():
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            cpp = Path(scratch) / f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}.cpp"
            cpp.write_text(unit)
            out = Path(scratch) / "kernel.so"
            done = subprocess.run(
                [cxx, *_FLAGS, f"-I{HERE}", "-o", str(out), str(cpp)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                raise KernelCompileError(_compile_message(done.stderr, name, where))
            os.replace(out, library)  # atomic: a parallel run sees the whole file or none
    return _load(str(library))


# ------------------------------------------------------------------ launching


@dataclass
class ArrayTraffic:
    """What one launch did to one array argument."""

    name: str
    elements: int
    itemsize: int
    loads: int
    stores: int
    atomics: int
    const: bool
    writers: np.ndarray | None = None  # per element: the global thread id that wrote it last, or -1
    readers: np.ndarray | None = None
    shape: tuple = ()
    sectors: int = 0  # 32-byte sectors its warp-level accesses touched
    min_sectors: int = 0  # the fewest those accesses could touch (coalesced)
    worst_line: int = 0  # the access furthest from coalesced: its line, and the index step between lanes 0 and 1
    worst_stride: int = 0
    worst_ratio: float = 0.0
    shared: bool = False  # a __shared__ array of one block (the last block run, or the one that failed)
    intervals: np.ndarray | None = None  # shared: per element, the barrier interval of its last write
    read_intervals: np.ndarray | None = None  # ... and of its last read

    @property
    def bytes_read(self) -> int:
        return (self.loads + self.atomics) * self.itemsize

    @property
    def bytes_written(self) -> int:
        return (self.stores + self.atomics) * self.itemsize


@dataclass
class Launch:
    """One emulated kernel launch: its configuration and the traffic it made."""

    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    dynamic_shared: int
    static_shared: int
    arrays: list[ArrayTraffic] = field(default_factory=list)
    shared_loads: int = 0
    shared_stores: int = 0
    barriers: int = 0
    threads: int = 0
    fault: str | None = None
    fault_access: tuple[str, int] | None = None  # (array, index) of an out-of-bounds access
    shared_wavefronts: int = 0  # passes of the 32 banks its warp-level shared accesses needed
    shared_min_wavefronts: int = 0  # the fewest they could need: the rest are bank-conflict replays
    conflict_line: int = 0
    conflict_ways: int = 0
    shared_arrays: list[ArrayTraffic] = field(default_factory=list)
    last_block: tuple[int, int, int] = (0, 0, 0)  # the block whose shared memory shared_arrays shows

    @property
    def bank_replays(self) -> int:
        return self.shared_wavefronts - self.shared_min_wavefronts

    @property
    def shared_per_block(self) -> int:
        return self.static_shared + self.dynamic_shared

    @property
    def threads_per_block(self) -> int:
        return self.block[0] * self.block[1] * self.block[2]


@dataclass
class ThreadOrder:
    """The order the emulator runs threads and blocks in: first to last, or (for the second run) reversed."""

    reversed: bool = False


ORDER = ThreadOrder()


@contextlib.contextmanager
def reversed_order():
    """Run every launch inside the block with its blocks and threads in reverse order.

    A race-free kernel gives the same bits either way (barring atomics'
    rounding); a result that changes shows a race, even one the shadow
    memory could not pin to an element.
    """
    ORDER.reversed = True
    try:
        yield
    finally:
        ORDER.reversed = False


LAUNCHES: list[Launch] = []  # the latest emulated launches of this process, newest last
RECORDERS: list[list[Launch]] = []  # open traffic.recording() blocks: each gets every launch


def launch(
    library: ctypes.CDLL,
    symbol: str,
    kernel: sources.KernelSignature,
    type_argument: str | None,
    grid: tuple[int, int, int],
    block: tuple[int, int, int],
    args: tuple,
    shared_mem: int,
    display_name: str,
    where: tuple[str, int] | None,
    reverse: bool = False,
    code: str | None = None,
) -> Launch:
    """Run one launch; ``args`` are already checked (see cupy_emulator._check_arguments)."""
    pointers, regions, arrays, keep = _arguments(kernel, type_argument, args)
    stats = Stats()
    error = ctypes.create_string_buffer(ERROR_BYTES)
    entry = getattr(library, symbol)
    entry.restype = ctypes.c_int
    rc = entry(
        pointers,
        regions,
        *(ctypes.c_uint(v) for v in grid),
        *(ctypes.c_uint(v) for v in block),
        ctypes.c_longlong(shared_mem),
        ctypes.c_int(int(reverse)),
        ctypes.byref(stats),
        error,
        ctypes.c_int(ERROR_BYTES),
        ctypes.c_longlong(ACCESS_LIMIT),
    )
    del keep  # the shadow arrays, names and scalars lived as long as the launch
    record = _record(display_name, grid, block, shared_mem, stats, regions, arrays)
    record.shared_arrays = _shared_arrays(library, stats)
    record.last_block = _block_index(stats.last_block, grid)
    LAUNCHES.append(record)
    del LAUNCHES[:-50]
    for recorder in RECORDERS:
        recorder.append(record)
    if rc != 0:
        _raise_fault(record, explain_barrier(error.value.decode(errors="replace"), code, where), where)
    return record


def _arguments(kernel: sources.KernelSignature, type_argument: str | None, args: tuple):
    """The ctypes arguments of a launch: scalar pointers, array regions with fresh shadow memory."""
    n = len(kernel.params)
    regions = (Region * max(n, 1))()
    pointers = (ctypes.c_void_p * max(n, 1))()
    keep, arrays = [], []
    for k, (param, value) in enumerate(zip(kernel.params, args)):
        param = param.concrete(type_argument)
        if param.pointer:
            shadow = np.full((value.size, SHADOW_FIELDS), -1, dtype=np.int32)
            label = param.shown.encode()
            keep += [shadow, label, value]
            regions[k].name = label
            regions[k].base = value.ctypes.data
            regions[k].count = value.size
            regions[k].elem_size = value.itemsize
            regions[k].kind = 0
            regions[k].shadow = shadow.ctypes.data
            regions[k].slot = k
            arrays.append((k, param, value, shadow))
        else:
            scalar = _CTYPES[param.ctype](value.item() if hasattr(value, "item") else value)
            keep.append(scalar)
            pointers[k] = ctypes.cast(ctypes.pointer(scalar), ctypes.c_void_p)
    return pointers, regions, arrays, keep


def _record(display_name, grid, block, shared_mem, stats: Stats, regions, arrays) -> Launch:
    """What the launch did, from its stats and each array's region and shadow memory."""
    record = Launch(
        display_name,
        grid,
        block,
        shared_mem,
        stats.static_shared_bytes,
        shared_loads=stats.shared_loads,
        shared_stores=stats.shared_stores,
        barriers=stats.barriers,
        threads=stats.threads,
        shared_wavefronts=stats.shared_wavefronts,
        shared_min_wavefronts=stats.shared_min_wavefronts,
        conflict_line=stats.conflict_line,
        conflict_ways=stats.conflict_ways,
    )
    for k, param, value, shadow in arrays:
        region = regions[k]
        record.arrays.append(
            ArrayTraffic(
                param.shown,
                value.size,
                value.itemsize,
                region.loads,
                region.stores,
                region.atomics,
                param.const,
                writers=shadow[:, WRITER].copy(),
                readers=shadow[:, READER].copy(),
                shape=value.shape,
                sectors=region.sectors,
                min_sectors=region.min_sectors,
                worst_line=region.worst_line,
                worst_stride=region.worst_stride,
                worst_ratio=region.worst_ratio,
            )
        )
    return record


def _raise_fault(record: Launch, message: str, where: tuple[str, int] | None) -> None:
    """Keep the fault (and the element it names, for the picture) on the record, and raise it."""
    record.fault = message
    match = re.search(
        r"(?:read|wrote|updated) (?:dynamic )?(?:shared )?(\w+)\[(-?\d+)\], but"
        r"|data race on (?:shared )?(\w+)\[(\d+)\]|read shared (\w+)\[(\d+)\] on line",
        message,
    )
    if match:
        name, index = next((a, b) for a, b in zip(match.groups()[::2], match.groups()[1::2]) if a)
        record.fault_access = (name, int(index))
    place = f"{where[0]}, line {where[1]}" if where else "your code"
    raise KernelFault(
        f"{message}\n  (kernel `{record.kernel}`, launched with grid={_dims(record.grid)}, "
        f"block={_dims(record.block)}; defined in {place})",
        record,
    )


_BRANCH_MARK = re.compile(r"\[\[branch:([\d,]+)\]\]")


def explain_barrier(message: str, code: str | None, where: tuple[str, int] | None) -> str:
    """Replace the emulator's ``[[branch:lines]]`` mark with the ``if`` that keeps threads from a barrier.

    The emulator knows the barrier's line; the source knows what is around
    it. A barrier inside ``if (t < stride)`` is named with that line; one in
    no branch is missed by threads that returned early (the first ``return``).
    """
    mark = _BRANCH_MARK.search(message)
    if mark is None:
        return message
    lines = [int(v) for v in mark.group(1).split(",")]
    first = where[1] if where else None
    advice = ": keep every __syncthreads() outside `if (i < n)` and out of an early `return`"
    if code is not None and first is not None:
        for line in lines:
            branch = sources.enclosing_branch(code, line - first)
            if branch is not None:
                at, head = branch
                advice = (
                    f": the __syncthreads() on line {line} is inside `{head}` (line {first + at}), which only "
                    f"some threads enter. Move it out of the branch (after its closing brace), where every "
                    f"thread of the block passes it"
                )
                break
        else:
            returned = sources.early_return(code, lines[0] - first)
            if returned is not None:
                advice = (
                    f": the threads that returned on line {first + returned} never reach it. Instead of an early "
                    f"`return`, put the work under `if (i < n) {{ ... }}` and keep the __syncthreads() outside"
                )
    return message[: mark.start()] + advice + message[mark.end() :]


def _block_index(linear: int, grid: tuple[int, int, int]) -> tuple[int, int, int]:
    return (linear % grid[0], (linear // grid[0]) % grid[1], linear // (grid[0] * grid[1]))


def _shared_arrays(library: ctypes.CDLL, stats: Stats) -> list[ArrayTraffic]:
    """The library's __shared__ arrays as the last block run left them: who wrote and read each slot, when."""
    try:
        count = library.dojo_shared_count
    except AttributeError:
        return []
    count.restype = ctypes.c_int
    library.dojo_shared_region.restype = ctypes.POINTER(Region)
    found = []
    for k in range(count()):
        region = library.dojo_shared_region(ctypes.c_int(k)).contents
        if region.count <= 0 or region.padding != stats.launch_id or not region.shadow:  # not this launch's
            continue
        shadow = np.ctypeslib.as_array(
            ctypes.cast(region.shadow, ctypes.POINTER(ctypes.c_int32)), shape=(region.count, SHADOW_FIELDS)
        ).copy()
        writers = shadow[:, WRITER]
        found.append(
            ArrayTraffic(
                region.name.decode(errors="replace").lstrip("@"),
                region.count,
                region.elem_size,
                0,
                0,
                0,
                False,
                writers=writers,
                readers=shadow[:, READER],
                shape=(region.rows, region.cols) if region.cols else (region.count,),
                shared=True,
                intervals=np.where(writers >= 0, shadow[:, 1] - stats.block_epoch, -1),
                read_intervals=np.where(shadow[:, READER] >= 0, shadow[:, READER + 1] - stats.block_epoch, -1),
            )
        )
    return found


def _dims(d: tuple[int, int, int]) -> str:
    shown = list(d)
    while len(shown) > 1 and shown[-1] == 1:
        shown.pop()
    return "(" + ", ".join(map(str, shown)) + ("," if len(shown) == 1 else "") + ")"


def defined_at(depth: int = 2) -> tuple[str, int] | None:
    """(file, line) of the code that created a kernel: where its source string starts, if it can be found."""
    frame = sys._getframe(depth)
    while frame is not None and frame.f_code.co_filename.startswith(str(HERE)):
        frame = frame.f_back
    if frame is None:
        return None
    filename = frame.f_code.co_filename
    try:
        shown = str(Path(filename).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = filename
    return shown, frame.f_lineno


def locate(code: str, where: tuple[str, int] | None) -> tuple[str, int] | None:
    """The line of the Python file where ``code``'s first line sits (so #line maps every line exactly)."""
    if where is None:
        return None
    path = Path(where[0])
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError:
        return where
    first = next((line for line in code.splitlines() if line.strip()), "")
    if not first:
        return where
    lines = text.splitlines()
    start = max(0, where[1] - 1)
    # where the string is written: just after the call (a literal), else anywhere (a module constant)
    for number in [*range(start, min(len(lines), start + 200)), *range(len(lines))]:
        if first.strip() in lines[number]:
            # the code string's first line is lines[number]; if the string starts on the line of its
            # opening quote (r\"\"\"extern ...), that line counts too
            offset = next(i for i, line in enumerate(code.splitlines()) if line.strip())
            return where[0], number + 1 - offset
    return where
