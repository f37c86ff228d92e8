"""The run's results: one row per contender per operation, and what they mean.

A row holds a median time (or why it did not race); the records work out
each row's speed-up over TensorFlow in the same table and flag the ones that
deserve a second look.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .operation import TENSORFLOW

#: A speed-up over TensorFlow above this is flagged: real, or not the same work?
SUSPICIOUS_SPEEDUP = 10.0
#: Below this many FLOPs per byte an operation is limited by memory: report GB/s, else GFLOP/s.
MEMORY_BOUND_INTENSITY = 4.0


@dataclass
class Row:
    kind: str  # LEARNER, ANSWER_KEY, KERNELS, TENSORFLOW
    label: str  # "kernels (NumPy fallback, no GPU)"
    median: float | None = None  # seconds; None when timing was disabled or it did not race
    rounds: int = 0
    timer: str = "wall clock"  # or "CUDA events"
    skipped: str | None = None  # why it did not race
    cost: tuple[float, float] | None = None  # (bytes, flops) of one call
    detail: str = ""  # printed under the row: a modelled GPU row's sectors and bank conflicts

    def rate(self) -> str:
        if self.median is None or not self.cost or self.median <= 0:
            return ""
        bytes_moved, flops = self.cost
        if flops and flops >= MEMORY_BOUND_INTENSITY * bytes_moved:
            return f"{flops / self.median / 1e9:,.1f} GFLOP/s"
        if bytes_moved:
            return f"{bytes_moved / self.median / 1e9:,.1f} GB/s"
        return ""


@dataclass
class Table:
    name: str
    size: str
    note: str = ""
    rows: list[Row] = field(default_factory=list)

    def baseline(self) -> float | None:
        for row in self.rows:
            if row.kind == TENSORFLOW and row.median:
                return row.median
        return None

    def speedup(self, row: Row) -> float | None:
        """How many times faster than TensorFlow (above 1: faster)."""
        base = self.baseline()
        if base is None or not row.median or row.timer == "modelled":  # a model is not raced against a clock
            return None
        return base / row.median

    def flagged(self) -> list[tuple[Row, float]]:
        return [(row, s) for row in self.rows if (s := self.speedup(row)) is not None and s > SUSPICIOUS_SPEEDUP]


class Records:
    def __init__(self):
        self.tables: dict[str, Table] = {}

    def table(self, name: str, size: str, note: str = "") -> Table:
        if name not in self.tables:
            self.tables[name] = Table(name, size, note)
        return self.tables[name]

    def add(self, name: str, size: str, note: str, row: Row) -> None:
        self.table(name, size, note).rows.append(row)

    def __bool__(self) -> bool:
        return bool(self.tables)

    def as_dicts(self) -> list[dict]:
        out = []
        for table in self.tables.values():
            rows = []
            for row in table.rows:
                entry = asdict(row)
                entry["speedup_vs_tensorflow"] = table.speedup(row)
                entry["rate"] = row.rate()
                entry["flagged"] = (table.speedup(row) or 0) > SUSPICIOUS_SPEEDUP
                rows.append(entry)
            out.append({"operation": table.name, "size": table.size, "note": table.note, "rows": rows})
        return out
