"""Which thread touched which element: a PNG of one emulated launch, for a kata's small case.

Each array argument is a strip (or a grid, for 2-D arrays) of cells. An
output cell is coloured by the block of the thread that wrote it last and
labelled with that thread's index in its block; an input cell likewise by
its last reader. White cells were never touched; a red cell past the end of
an array is the out-of-bounds access that stopped the launch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_CELLS = 400  # per array: a picture of more says nothing


def _label(thread: int, per_block: int, block: tuple[int, int, int]) -> tuple[int, str]:
    b, t = divmod(int(thread), per_block)
    if block[1] > 1:
        return b, f"{t % block[0]},{t // block[0]}"
    return b, str(t)


def draw(launch, path: Path, title: str = "") -> Path:
    """Draw ``launch`` (a runtime.Launch with its shadow memory) into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection

    arrays = [a for a in launch.arrays if a.writers is not None][:5]
    per_block = launch.threads_per_block
    fig_rows = []
    for array in arrays:
        shape = array.shape if len(array.shape) == 2 and array.elements <= MAX_CELLS else (1, min(array.elements, 32))
        if len(array.shape) != 2 and array.elements > 32:
            shape = (int(np.ceil(min(array.elements, MAX_CELLS) / 32)), 32)
        fig_rows.append(shape)
    height = sum(r for r, _ in fig_rows) * 0.45 + 1.2 * len(arrays) + 0.8
    width = max(6.0, max((c for _, c in fig_rows), default=8) * 0.45 + 1.5)
    figure, axes = plt.subplots(
        len(arrays),
        1,
        figsize=(width, height),
        squeeze=False,
        gridspec_kw={"height_ratios": [r + 1.5 for r, _ in fig_rows]},
    )
    colours = plt.get_cmap("tab20")
    for axis, array, (rows, cols) in zip(axes[:, 0], arrays, fig_rows):
        touched = array.readers if array.const else array.writers
        verb = "read by" if array.const else "written by"
        axis.set_title(
            f"{array.name} {tuple(array.shape)}: cell = {verb} thread (colour = block)", fontsize=9, loc="left"
        )
        cells, faces = [], []
        for k in range(min(array.elements, rows * cols)):
            r, c = divmod(k, cols)
            who = int(touched[k])
            if who < 0:
                face, text = "white", ""
            else:
                block, text = _label(who, per_block, launch.block)
                face = colours(block % 20)
            cells.append(plt.Rectangle((c, rows - 1 - r), 1, 1))
            faces.append(face)
            if text:
                axis.text(c + 0.5, rows - 0.5 - r, text, ha="center", va="center", fontsize=6)
        # One collection of cells, not a patch each: drawing hundreds of separate patches was most of the time.
        axis.add_collection(PatchCollection(cells, facecolors=faces, edgecolors="0.6", zorder=0))
        if launch.fault_access and launch.fault_access[0] == array.name:
            index = launch.fault_access[1]
            r, c = divmod(index, cols) if index >= 0 else (0, -1)
            r = min(r, rows)
            axis.add_patch(plt.Rectangle((c, rows - 1 - r), 1, 1, facecolor="red", edgecolor="darkred"))
            axis.text(c + 0.5, rows - 0.5 - r, f"[{index}]", ha="center", va="center", fontsize=6, color="white")
            rows = max(rows, r + 1)
        axis.set_xlim(-1, cols + 1)
        axis.set_ylim(-1 - (1 if launch.fault_access else 0), rows + 0.2)
        axis.set_aspect("equal")
        axis.axis("off")
    figure.suptitle(title or f"{launch.kernel}: grid {launch.grid}, block {launch.block}", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
