"""The facilitator's progress board: several pairs' exports, one table and one picture.

Each pair runs ``kata progress --export --name "Ana & Ben"``, which writes
``progress-ana-ben.json`` (and a Markdown copy to read). The facilitator
collects the JSON files (a shared folder, a USB stick, a chat) and runs
``kata board progress-*.json``: a table in the terminal and a PNG of
stacked bars, one bar per pair, one colour per track.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table


class BoardError(Exception):
    pass


def read_exports(paths: list[Path]) -> list[dict]:
    """Load exports, skipping nothing silently: a bad file is an error naming it."""
    exports = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise BoardError(f"{path}: not a progress export ({error})") from None
        if not isinstance(data, dict) or "tracks" not in data or "name" not in data:
            raise BoardError(f"{path}: not a progress export (make one with `kata progress --export`)")
        exports.append(data)
    return sorted(exports, key=lambda e: (-e.get("done", 0), e["name"]))


def table(exports: list[dict]) -> Table:
    tracks = exports[0]["tracks"] if exports else []
    # Tracks are headed by number alone, named in the caption, so that a room
    # of pairs fits an ordinary terminal without wrapping the pair names.
    board = Table(title="Neural Katas: the room", show_lines=False,
                  caption="tracks: " + " · ".join(f"{t['number']} {t['name']}" for t in tracks))
    board.add_column("pair", style="bold", no_wrap=True)
    board.add_column("done", justify="right", no_wrap=True)
    for track in tracks:
        board.add_column(str(track["number"]), justify="right", no_wrap=True)
    board.add_column("next kata", no_wrap=True, overflow="ellipsis")
    board.add_column("exported", style="dim")
    for export in exports:
        by_number = {t["number"]: t for t in export["tracks"]}
        cells = []
        for track in tracks:
            mine = by_number.get(track["number"], {"done": 0, "total": track["total"]})
            style = "green" if mine["done"] == mine["total"] and mine["total"] else ""
            text = f"{mine['done']}/{mine['total']}"
            cells.append(f"[{style}]{text}[/]" if style else text)
        nxt = export.get("next")
        board.add_row(escape(str(export["name"])), f"{export['done']}/{export['total']}", *cells,
                      escape(f"{nxt['number']} {nxt['title']}") if nxt else "[green]all done[/]",
                      str(export.get("exported", ""))[11:16])
    return board


def draw(exports: list[dict], path: Path) -> Path:
    """A horizontal stacked bar per pair: katas done in each track."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; the facilitator opens the PNG
    import matplotlib.pyplot as plt

    tracks = exports[0]["tracks"] if exports else []
    names = [e["name"] for e in exports][::-1]
    total = max((e["total"] for e in exports), default=1)
    figure, axes = plt.subplots(figsize=(10, 1.2 + 0.5 * len(exports)))
    left = [0] * len(exports)
    colours = plt.get_cmap("tab10")
    for index, track in enumerate(tracks):
        widths = []
        for export in exports[::-1]:
            mine = {t["number"]: t for t in export["tracks"]}.get(track["number"], {"done": 0})
            widths.append(mine["done"])
        axes.barh(names, widths, left=left, color=colours(index % 10), label=f"{track['number']} {track['name']}")
        left = [a + b for a, b in zip(left, widths)]
    axes.set_xlim(0, total)
    axes.set_xlabel(f"katas done (of {total})")
    axes.set_title("Neural Katas: the room's progress")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(exports) < 4 else -0.12),
                ncol=min(5, max(1, len(tracks))), fontsize="small", frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return Path(path)


def show(paths: list[Path], png: Path | None, console: Console) -> int:
    exports = read_exports(paths)
    if not exports:
        raise BoardError("no exports given")
    console.print(table(exports))
    if png is not None:
        console.print(f"board drawn to [bold]{draw(exports, png)}[/]")
    return 0
