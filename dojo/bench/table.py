"""The tables printed at the end of ``pytest --bench``: one per operation.

    conv2d · x (64, 28, 28, 32) float64, kernel 3x3 32->64, valid
      contender                          median     vs TF   rate
      your code (katas/)                 -          -       not raced: kata conv.conv2d is not started
      answer key (solutions/)            151 ms     0.45x   10.5 GFLOP/s
      TensorFlow 2.21 (CPU)              68.2 ms    1.00x   23.3 GFLOP/s

"vs TF" is TensorFlow's median divided by the row's: 2.00x means twice as fast.
"""

from __future__ import annotations

from .records import SUSPICIOUS_SPEEDUP, Records, Row, Table

LABEL_WIDTH = 50


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_speedup(speedup: float | None) -> str:
    return "-" if speedup is None else f"{speedup:.3g}x"


def render(table: Table, timing: bool = True) -> list[str]:
    lines = [f"{table.name} · {table.size}"]
    if table.note:
        lines.append(f"  ({table.note})")
    lines.append(f"  {'contender':<{LABEL_WIDTH}} {'median':>10}  {'vs TF':>8}  rate")
    for row in table.rows:
        lines.append("  " + _row(table, row, timing))
        lines += [f"      {detail}" for detail in row.detail.splitlines()]
    for row, speedup in table.flagged():
        lines.append(
            f"  !! {row.label} is {speedup:.1f}x faster than TensorFlow (over {SUSPICIOUS_SPEEDUP:g}x): "
            f"take a second look. Same work and dtype? Device synchronised? Result checked?"
        )
    return lines


def _row(table: Table, row: Row, timing: bool) -> str:
    label = row.label if len(row.label) <= LABEL_WIDTH else row.label[: LABEL_WIDTH - 1] + "…"
    if row.skipped:
        return f"{label:<{LABEL_WIDTH}} {'-':>10}  {'-':>8}  not raced: {row.skipped}"
    if (not timing and row.timer != "modelled") or row.median is None:
        return f"{label:<{LABEL_WIDTH}} {'ran once':>10}  {'-':>8}  (timing disabled)"
    timer = {"CUDA events": "  (CUDA events)", "modelled": "  (modelled, not measured)"}.get(row.timer, "")
    return (
        f"{label:<{LABEL_WIDTH}} {format_time(row.median):>10}  {format_speedup(table.speedup(row)):>8}  "
        f"{row.rate()}{timer}"
    )


def write(terminal, records: Records, timing: bool) -> None:
    terminal.write_sep("=", "Neural Katas benchmarks: median time, speed-up over TensorFlow (float64)")
    if not timing:
        terminal.write_line("timing disabled (--benchmark-disable): every contender ran once, as a smoke test")
    for table in records.tables.values():
        terminal.write_line("")
        for line in render(table, timing):
            terminal.write_line(line)
