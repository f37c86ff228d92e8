"""``--bench-chart PATH``: the medians as a bar chart PNG, one panel per operation."""

from __future__ import annotations

import math
from pathlib import Path

from .operation import ANSWER_KEY, KERNELS, LEARNER, TENSORFLOW
from .records import Records

COLOURS = {LEARNER: "tab:orange", ANSWER_KEY: "tab:blue", KERNELS: "tab:green", TENSORFLOW: "tab:grey"}


def draw(records: Records, path: str | Path) -> Path | None:
    """Draw the timed rows; None when nothing was timed (for example with --benchmark-disable)."""
    tables = [t for t in records.tables.values() if any(r.median for r in t.rows)]
    if not tables:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    columns = 2 if len(tables) > 1 else 1
    rows = math.ceil(len(tables) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(7 * columns, 2.2 * rows + 0.6), squeeze=False)
    for ax, table in zip(axes.flat, tables):
        timed = [r for r in table.rows if r.median]
        labels = [r.label for r in timed]
        values = [r.median * 1e3 for r in timed]
        # Log scale (the rows differ by orders of magnitude); bars start a decade below the
        # fastest row, so their lengths compare, and only whole decades are labelled.
        floor = 10 ** math.floor(math.log10(min(values)) - 1)
        ax.barh(
            labels, [v - floor for v in values], left=floor, color=[COLOURS.get(r.kind, "tab:purple") for r in timed]
        )
        ax.set_xscale("log")
        ax.set_xlim(floor, max(values) * 8)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.invert_yaxis()
        ax.set_title(f"{table.name}: {table.size}", fontsize=9)
        ax.set_xlabel("median (ms, log scale): shorter is faster", fontsize=8)
        ax.tick_params(labelsize=7)
        for y, row in enumerate(timed):
            speedup = table.speedup(row)
            if speedup is not None:
                ax.annotate(f" {speedup:.3g}x vs TF", (row.median * 1e3, y), va="center", fontsize=7)
    for ax in list(axes.flat)[len(tables) :]:
        ax.axis("off")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
