"""Which thread touched which element: a PNG of one emulated launch, for a kata's small case.

Each array argument is a grid of cells: a 2-D array as its rows and columns,
anything else in memory order, 32 cells to a row. An output cell is coloured
by the block of the thread that wrote it last and labelled with that thread's
index in its block (``x,y`` in a 2-D block); an input cell likewise by its last
reader. White cells were never touched; a red cell past the end of an array
is the out-of-bounds access that stopped the launch.

The picture is drawn with Pillow, pixel by pixel, not with Matplotlib: it is
drawn in the learner's failing run, and a Matplotlib figure with a label in
each of a few hundred cells took over a second to lay out and save, most of a
failing GPU kata's time. Pillow draws the same in a few hundredths of a second.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MAX_CELLS = 400  # per array: a picture of more says nothing
ROW_CELLS = 32  # cells per row for an array that is not drawn as its own 2-D shape
MAX_ARRAYS = 5

#: Matplotlib's "tab20" colours (the Tableau 20 palette) without its two reds, which a learner would
#: read as the red of an out-of-bounds access: block b is colour b % 18, so neighbouring blocks differ
#: in hue or in shade.
BLOCK_COLOURS = tuple(
    tuple(int(code[i : i + 2], 16) for i in (1, 3, 5))
    for code in (
        "#1f77b4 #aec7e8 #ff7f0e #ffbb78 #2ca02c #98df8a #9467bd #c5b0d5 "
        "#8c564b #c49c94 #e377c2 #f7b6d2 #7f7f7f #c7c7c7 #bcbd22 #dbdb8d #17becf #9edae5"
    ).split()
)
UNTOUCHED = (255, 255, 255)
FAULT, FAULT_EDGE = (255, 0, 0), (139, 0, 0)
GRID_LINE, INK, BACKGROUND = (153, 153, 153), (0, 0, 0), (255, 255, 255)

MARGIN, CELL_HEIGHT, MIN_CELL_WIDTH = 14, 22, 26
LABEL_SIZE, HEADING_SIZE, TITLE_SIZE = 11, 13, 15


@cache
def _font(size: int):
    """DejaVu Sans at ``size`` pixels (the font Matplotlib ships), or Pillow's own if it is not there."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")  # found, not imported: its import costs more than the drawing
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _label(thread: int, per_block: int, block: tuple[int, int, int]) -> tuple[int, str]:
    """``(block number, index in the block)`` of a global thread id; the index is ``x,y`` in a 2-D block."""
    b, t = divmod(int(thread), per_block)
    if block[1] > 1:
        return b, f"{t % block[0]},{t // block[0]}"
    return b, str(t)


def _ink_on(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on a light cell, white on a dark one (by perceived brightness)."""
    r, g, b = colour
    return INK if 0.299 * r + 0.587 * g + 0.114 * b > 140 else BACKGROUND


@dataclass
class Panel:
    """Where one array's cells go in the picture: a window of ``rows`` x ``cols`` cells of the array."""

    array: object  # a runtime.ArrayTraffic
    rows: int
    cols: int
    stride: int  # elements from one row of cells to the next (a 2-D array's row length)
    top: int  # y of the panel's heading
    cell_width: int
    fault_index: int | None  # the out-of-bounds index, when the launch stopped in this array
    block: tuple[int, int, int] = (0, 0, 0)  # shared memory: the block it belongs to

    def cells(self):
        """``(row, col, element index)`` of every cell shown."""
        for row in range(self.rows):
            for col in range(self.cols):
                k = row * self.stride + col
                if k < self.array.elements and row * self.cols + col < MAX_CELLS:
                    yield row, col, k

    @property
    def grid_top(self) -> int:
        return self.top + HEADING_SIZE + 10

    def cell_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """The pixel box ``(left, top, right, bottom)`` of the cell at ``row``, ``col`` of the window."""
        left = MARGIN + (col + 1) * self.cell_width  # one cell of room on the left, for index -1
        top = self.grid_top + row * CELL_HEIGHT
        return left, top, left + self.cell_width, top + CELL_HEIGHT

    def fault_cell(self) -> tuple[int, int]:
        """Where the out-of-bounds index is drawn: its own place, or just past the window's edge."""
        if self.fault_index < 0:
            return 0, -1
        row, col = divmod(self.fault_index, self.stride)
        return min(row, self.rows), min(col, self.cols)

    @property
    def height(self) -> int:
        rows = self.rows + (1 if self.fault_index is not None else 0)
        return HEADING_SIZE + 10 + rows * CELL_HEIGHT + 18

    def heading(self) -> str:
        array = self.array
        if getattr(array, "shared", False):
            verb = "read" if array.const else "written"
            return (
                f"shared {array.name} {tuple(int(d) for d in array.shape)} of block {self.block}: cell = last {verb} "
                f"by thread · in barrier interval (0 = before the first __syncthreads())"
            )
        verb = "read by" if array.const else "written by"
        if len(array.shape) == 2:
            total_rows, total_cols = array.shape
            parts = [f"the first {self.rows} of {total_rows} rows"] if self.rows < total_rows else []
            parts += [f"the first {self.cols} of {total_cols} columns"] if self.cols < total_cols else []
        else:
            shown = min(array.elements, self.rows * self.cols, MAX_CELLS)
            parts = [f"the first {shown} of {array.elements:,} elements"] if shown < array.elements else []
        more = "".join(f", {part}" for part in parts)
        return f"{array.name} {tuple(array.shape)}: cell = {verb} thread (colour = block){more}"


def _window(array) -> tuple[int, int, int]:
    """``(rows, cols, stride)``: a 2-D array in its own rows and columns, anything else 32 cells to a row."""
    if len(array.shape) == 2 and array.shape[1] > 0:
        cols = min(int(array.shape[1]), 2 * ROW_CELLS)
        rows = max(1, min(int(array.shape[0]), MAX_CELLS // cols))
        return rows, cols, int(array.shape[1])
    shown = max(1, min(array.elements, MAX_CELLS))
    cols = min(shown, ROW_CELLS)
    return -(-shown // cols), cols, cols


def layout(launch) -> list[Panel]:
    """The panels of ``launch``'s picture, top to bottom (at most five arrays)."""
    shared = [
        panel
        for array in list(getattr(launch, "shared_arrays", []))[:2]
        for panel in (array, dataclasses.replace(array, const=True))  # who wrote each slot, then who read it
    ]
    arrays = [a for a in launch.arrays if a.writers is not None][: MAX_ARRAYS - len(shared)] + shared
    per_block = launch.threads_per_block
    labels = [_label(t, per_block, launch.block)[1] for t in (0, per_block - 1)]
    if shared:
        labels.append(f"{labels[-1]}·{max(int(np.max(a.intervals, initial=0)) for a in shared)}")
    widest = max(_font(LABEL_SIZE).getlength(text) for text in labels + ["[0000]"])
    cell_width = max(MIN_CELL_WIDTH, int(widest) + 8)
    panels, top = [], MARGIN + TITLE_SIZE + 16
    for array in arrays:
        rows, cols, stride = _window(array)
        fault = launch.fault_access[1] if launch.fault_access and launch.fault_access[0] == array.name else None
        if fault is not None and not getattr(array, "shared", False) and any(a.name == array.name for a in shared):
            fault = None  # the shared array of that name is the one that failed
        panel = Panel(array, rows, cols, stride, top, cell_width, fault, getattr(launch, "last_block", (0, 0, 0)))
        panels.append(panel)
        top += panel.height
    return panels


def draw(launch, path: Path, title: str = "") -> Path:
    """Draw ``launch`` (a runtime.Launch with its shadow memory) into ``path`` as a PNG."""
    from PIL import Image, ImageDraw

    panels = layout(launch)
    title = title or f"{launch.kernel}: grid {launch.grid}, block {launch.block}"
    text_width = max(
        [_font(TITLE_SIZE).getlength(title)] + [_font(HEADING_SIZE).getlength(p.heading()) for p in panels]
    )
    grid_width = max(((p.cols + 2) * p.cell_width for p in panels), default=0)  # a spare cell each side
    width = int(max(text_width, grid_width)) + 2 * MARGIN
    height = (panels[-1].top + panels[-1].height if panels else MARGIN + TITLE_SIZE + 16) + MARGIN
    image = Image.new("RGB", (width, height), BACKGROUND)
    pen = ImageDraw.Draw(image)
    pen.text((MARGIN, MARGIN), title, fill=INK, font=_font(TITLE_SIZE))
    per_block = launch.threads_per_block
    label_font = _font(LABEL_SIZE)
    for panel in panels:
        array = panel.array
        pen.text((MARGIN, panel.top), panel.heading(), fill=INK, font=_font(HEADING_SIZE))
        touched = np.asarray(array.readers if array.const else array.writers)
        for row, col, k in panel.cells():
            who = int(touched[k])
            box = panel.cell_box(row, col)
            if who < 0:
                pen.rectangle(box, fill=UNTOUCHED, outline=GRID_LINE)
                continue
            block, text = _label(who, per_block, launch.block)
            if getattr(array, "shared", False):
                text = f"{text}·{int((array.read_intervals if array.const else array.intervals)[k])}"
            colour = BLOCK_COLOURS[block % len(BLOCK_COLOURS)]
            pen.rectangle(box, fill=colour, outline=GRID_LINE)
            _centred(pen, box, text, _ink_on(colour), label_font)
        if panel.fault_index is not None:
            box = panel.cell_box(*panel.fault_cell())
            pen.rectangle(box, fill=FAULT, outline=FAULT_EDGE, width=2)
            _centred(pen, box, f"[{panel.fault_index}]", BACKGROUND, label_font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


def _centred(pen, box, text: str, colour, font) -> None:
    left, top, right, bottom = box
    pen.text(((left + right) / 2, (top + bottom) / 2), text, fill=colour, font=font, anchor="mm")
