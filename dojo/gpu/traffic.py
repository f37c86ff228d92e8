"""Memory traffic of emulated launches, beside the ideal, and a roofline time on a named GPU.

What is counted (by ``emulator.h``, per array argument of every launch):
every load and store a thread issues to global memory, at the element's
size; a thread re-reading the element it read last from the same array is
served by a register, as a compiler would arrange; nothing else is cached.
So the figures are the traffic *your code asks for*. A real GPU's L1/L2
may serve some repeated loads; the modelled time assumes every counted byte
crosses HBM, which is what a kernel must be written for at sizes that do not
fit in cache.

The ideal for an operation is each input read once and each output written
once. The roofline bound of a run is ``max(bytes / bandwidth, flops / peak)``
on the device below, with the vendor's figures; every time from here is
labelled *modelled*: none was measured.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from . import runtime


@dataclass(frozen=True)
class Device:
    name: str
    bandwidth: float  # bytes per second (HBM)
    fp64: float  # FLOP/s, float64 without tensor cores
    source: str


#: NVIDIA's H200 SXM datasheet: 4.8 TB/s of HBM3e, 34 TFLOPS FP64 (67 with tensor cores, not used here).
H200 = Device("NVIDIA H200 SXM", 4.8e12, 34e12, "NVIDIA H200 datasheet: HBM3e 4.8 TB/s, FP64 34 TFLOPS")
#: NVIDIA's H100 SXM datasheet: 3.35 TB/s of HBM3, 34 TFLOPS FP64.
H100 = Device("NVIDIA H100 SXM", 3.35e12, 34e12, "NVIDIA H100 datasheet: HBM3 3.35 TB/s, FP64 34 TFLOPS")
DEFAULT_DEVICE = H200


@contextlib.contextmanager
def recording():
    """Collect the emulated launches made inside the block: ``with recording() as launches: ...``."""
    launches: list[runtime.Launch] = []
    runtime.RECORDERS.append(launches)
    try:
        yield launches
    finally:
        runtime.RECORDERS.remove(launches)


@dataclass
class Traffic:
    """The sum over some launches: bytes read and written per array name, and the totals."""

    read: dict[str, int]
    written: dict[str, int]
    shared_per_block: int
    launches: int
    threads: int
    sectors: dict[str, int] = field(default_factory=dict)  # 32-byte sectors per array (warp-level accesses)
    min_sectors: dict[str, int] = field(default_factory=dict)  # the fewest, were every access coalesced
    worst: dict[str, tuple[float, int, int]] = field(default_factory=dict)  # (ratio, line, lane step) per array
    bank_passes: int = 0  # shared memory: passes of the 32 banks used ...
    min_bank_passes: int = 0  # ... and the fewest possible
    conflict: tuple[int, int] = (0, 0)  # the worst bank conflict: (line, ways)

    @property
    def bank_replays(self) -> int:
        return self.bank_passes - self.min_bank_passes

    @property
    def sector_bytes(self) -> int:
        return 32 * sum(self.sectors.values())

    @property
    def bytes_read(self) -> int:
        return sum(self.read.values())

    @property
    def bytes_written(self) -> int:
        return sum(self.written.values())

    @property
    def total(self) -> int:
        return self.bytes_read + self.bytes_written


def measure(launches) -> Traffic:
    read: dict[str, int] = {}
    written: dict[str, int] = {}
    found = Traffic(
        read,
        written,
        max((launch.shared_per_block for launch in launches), default=0),
        len(launches),
        sum(launch.threads for launch in launches),
    )
    for launch in launches:
        for array in launch.arrays:
            if array.bytes_read:
                read[array.name] = read.get(array.name, 0) + array.bytes_read
            if array.bytes_written:
                written[array.name] = written.get(array.name, 0) + array.bytes_written
            found.sectors[array.name] = found.sectors.get(array.name, 0) + array.sectors
            found.min_sectors[array.name] = found.min_sectors.get(array.name, 0) + array.min_sectors
            if array.worst_ratio > found.worst.get(array.name, (0.0, 0, 0))[0]:
                found.worst[array.name] = (array.worst_ratio, array.worst_line, array.worst_stride)
        found.bank_passes += launch.shared_wavefronts
        found.min_bank_passes += launch.shared_min_wavefronts
        if launch.conflict_ways > found.conflict[1]:
            found.conflict = (launch.conflict_line, launch.conflict_ways)
    return found


def ideal_sectors(inputs, outputs) -> int:
    """Each input read once and each output written once, in whole 32-byte sectors."""
    return sum(-(-(a if isinstance(a, int) else a.nbytes) // 32) for a in (*inputs, *outputs))


def coalescing(traffic: Traffic) -> list[str]:
    """Lines on sectors and banks: how the warps' accesses were served, and where they were not at best."""
    used, fewest = sum(traffic.sectors.values()), sum(traffic.min_sectors.values())
    if not used:
        return []
    lines = [
        f"global memory: {used:,} sectors of 32 bytes for warp-level accesses that need {fewest:,} "
        f"({used / max(fewest, 1):.2g}x: 1x is fully coalesced)"
    ]
    for name in traffic.sectors:
        need = traffic.min_sectors.get(name, 0)
        if need and traffic.sectors[name] > 1.05 * need:
            ratio, line, step = traffic.worst[name]
            how = (
                f"neighbouring threads are {abs(step)} elements apart"
                if step
                else "neighbouring threads read one element, and the warp's other lanes are far from it"
            )
            lines.append(
                f"  {_verb(traffic, name)} {name} in {traffic.sectors[name] / need:.2g}x the sectors it needs "
                f"(line {line}: {how}; up to {ratio:.2g}x in one access)"
            )
    if traffic.bank_passes:
        if traffic.bank_replays:
            line, ways = traffic.conflict
            lines.append(
                f"shared memory: {traffic.bank_replays:,} bank-conflict replays on {traffic.bank_passes:,} bank passes "
                f"(the worst: line {line}, {ways}-way); pad the array (e.g. [32][33]) or change the index"
            )
        else:
            lines.append(f"shared memory: no bank conflicts ({traffic.bank_passes:,} bank passes, all at the minimum)")
    return lines


def _verb(traffic: Traffic, name: str) -> str:
    if traffic.read.get(name) and traffic.written.get(name):
        return "reads and writes"
    return "writes" if traffic.written.get(name) else "reads"


def ideal_bytes(inputs, outputs) -> int:
    """Each input read once, each output written once (NumPy/CuPy arrays, or byte counts)."""
    return sum(a if isinstance(a, int) else a.nbytes for a in (*inputs, *outputs))


def modelled_seconds(bytes_moved: float, flops: float, device: Device = DEFAULT_DEVICE) -> float:
    """The roofline lower bound: the slower of moving the bytes and doing the arithmetic."""
    return max(bytes_moved / device.bandwidth, flops / device.fp64)


def microseconds(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:.3g} µs" if us < 1000 else f"{us / 1000:.3g} ms"


def times_read(traffic: Traffic, name: str, nbytes: int) -> float:
    return traffic.read.get(name, 0) / nbytes if nbytes else 0.0


def report(
    traffic: Traffic,
    ideal: int,
    *,
    scaled_ideal: int | None = None,
    flops: float = 0.0,
    size: str = "",
    reference: tuple[str, float] | None = None,
    device: Device = DEFAULT_DEVICE,
    arrays: dict[str, int] | None = None,
    with_time: bool = True,
) -> str:
    """A few lines for a learner: traffic against the ideal, and the modelled time.

    ``arrays`` (name -> bytes) lists the inputs and outputs whose read/write
    counts to spell out; ``scaled_ideal`` is the ideal at the size the time
    is modelled for (the ratio measured on the test case carries over);
    ``reference`` is (label, traffic ratio) of the kernels/ implementation.
    """
    ratio = traffic.total / ideal if ideal else 0.0
    parts = []
    for name, nbytes in (arrays or {}).items():
        r, w = traffic.read.get(name, 0) / nbytes, traffic.written.get(name, 0) / nbytes
        if r:
            parts.append(f"reads {name} {_times(r)}")
        if w:
            parts.append(f"writes {name} {_times(w)}")
    what = ", ".join(parts) or f"moves {traffic.total:,} bytes"
    lines = [
        (
            f"your kernel {what}: {traffic.total:,} bytes for an ideal of {ideal:,} ({ratio:.1f}x the minimum "
            f"traffic); {traffic.launches} launch(es), {traffic.threads:,} threads, "
            f"{traffic.shared_per_block:,} bytes of shared memory per block"
        ),
        *coalescing(traffic),
    ]
    if not with_time:
        return "\n".join(lines)
    big = scaled_ideal or ideal
    yours = modelled_seconds(sector_ratio(traffic, ratio) * big, flops, device)
    line = (
        f"at {size or 'this size'} on an {device.name} ({device.bandwidth / 1e12:.2g} TB/s, "
        f"{device.fp64 / 1e12:.0f} TFLOPS FP64) that is at least {microseconds(yours)} (modelled)"
    )
    if reference is not None:
        label, ref_ratio = reference
        line += f", {label}'s {microseconds(modelled_seconds(ref_ratio * big, flops, device))}"
    lines.append(line)
    return "\n".join(lines)


def sector_ratio(traffic: Traffic, element_ratio: float) -> float:
    """How much more than the ideal the traffic costs, in sectors: the element ratio times the coalescing.

    A GPU moves whole 32-byte sectors: a warp reading 32 doubles 8 apart
    moves 8 times the bytes it uses. The sectors over the fewest its accesses
    could touch scale the element count; with no sector counts (a GPU run),
    the element ratio stands.
    """
    used, fewest = sum(traffic.sectors.values()), sum(traffic.min_sectors.values())
    return element_ratio * (used / fewest if fewest else 1.0)


def _times(factor: float) -> str:
    if abs(factor - 1) < 1e-9:
        return "once"
    if abs(factor - 2) < 1e-9:
        return "twice"
    return f"{factor:.3g} times"
