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


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def shape_problem(data) -> str | None:
    """Why ``data`` is not a progress export this board can draw, or None when it is one."""
    if not isinstance(data, dict):
        return f"it holds {type(data).__name__}, not an object"
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        return "it has no pair name"
    for key in ("done", "total"):
        if not _count(data.get(key)):
            return f"its {key!r} is {data.get(key)!r}, not a count"
    tracks = data.get("tracks")
    if not isinstance(tracks, list) or not tracks:
        return "it has no list of tracks"
    for index, track in enumerate(tracks):
        if not isinstance(track, dict) or not isinstance(track.get("name"), str):
            return f"track {index + 1} has no name"
        if not all(_count(track.get(key)) for key in ("done", "total")) or track["done"] > track["total"]:
            return f"track {track['name']!r} has no counts done/total"
        if not isinstance(track.get("number", 0), (int, str)) or isinstance(track.get("number"), bool):
            return f"track {track['name']!r} has a number of the wrong type"
    nxt = data.get("next")
    if nxt is not None and not (
        isinstance(nxt, dict)
        and all(isinstance(nxt.get(k), (str, int)) and not isinstance(nxt.get(k), bool) for k in ("number", "title"))
    ):
        return "its 'next' kata has no number and title"
    if data.get("exported") is not None and not isinstance(data["exported"], str):
        return "its 'exported' time is not text"
    return None


def read_exports(paths: list[Path]) -> list[dict]:
    """Load exports, skipping nothing silently: a bad file is an error naming it."""
    exports = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_bytes().decode("utf-8"))
        except OSError as error:
            raise BoardError(f"{path}: cannot be read ({error.strerror or error})") from None
        except ValueError as error:
            raise BoardError(
                f"{path}: not a progress export (not JSON: {error}); make one with `kata progress --export`"
            ) from None
        problem = shape_problem(data)
        if problem:
            raise BoardError(
                f"{path}: not a progress export of a known shape ({problem}); make one with `kata progress --export`"
            )
        exports.append(data)
    return sorted(exports, key=lambda e: (-e["done"], e["name"]))


def _key(track: dict) -> str:
    """A track is the same track in two exports when its module (else its name) is the same."""
    return str(track.get("module") or track["name"])


def all_tracks(exports: list[dict]) -> list[dict]:
    """Every track of every export, each once, in the order they first appear."""
    seen: dict[str, dict] = {}
    for export in exports:
        for track in export["tracks"]:
            seen.setdefault(_key(track), track)
    return list(seen.values())


def table(exports: list[dict]) -> Table:
    tracks = all_tracks(exports)
    # Tracks are headed by number alone, named in the caption, so that a room
    # of pairs fits an ordinary terminal without wrapping the pair names.
    board = Table(
        title="Neural Katas: the room",
        show_lines=False,
        caption="tracks: " + " · ".join(escape(f"{t.get('number', '')} {t['name']}".strip()) for t in tracks),
    )
    board.add_column("pair", style="bold", no_wrap=True)
    board.add_column("done", justify="right", no_wrap=True)
    for track in tracks:
        board.add_column(escape(str(track.get("number", track["name"]))), justify="right", no_wrap=True)
    board.add_column("next kata", no_wrap=True, overflow="ellipsis")
    board.add_column("exported", style="dim")
    for export in exports:
        mine_by_key = {_key(t): t for t in export["tracks"]}
        cells = []
        for track in tracks:
            mine = mine_by_key.get(_key(track))
            if mine is None:  # an export from another version of the course, without this track
                cells.append("[dim]-[/]")
                continue
            style = "green" if mine["done"] == mine["total"] and mine["total"] else ""
            text = f"{mine['done']}/{mine['total']}"
            cells.append(f"[{style}]{text}[/]" if style else text)
        nxt = export.get("next")
        board.add_row(
            escape(str(export["name"])),
            f"{export['done']}/{export['total']}",
            *cells,
            escape(f"{nxt['number']} {nxt['title']}") if nxt else "[green]all done[/]",
            str(export.get("exported") or "")[11:16],
        )
    return board


def track_colours(count: int) -> list[tuple[float, float, float]]:
    """``count`` colours that are all different: hues spread around the wheel, lightness alternating.

    A fixed palette of ten (``tab10``) gave tracks 1 and 11 the same colour.
    """
    import colorsys

    return [
        colorsys.hsv_to_rgb(index / max(count, 1), 0.7 if index % 2 else 0.55, 0.62 if index % 2 else 0.88)
        for index in range(count)
    ]


def draw(exports: list[dict], path: Path) -> Path:
    """A horizontal stacked bar per pair: katas done in each track.

    Names are drawn as plain text: Matplotlib would otherwise read ``$...$``
    in a pair's name as mathematics (and fail on it). The figure is closed on
    every path, an error included, so a server that draws often holds no figures.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display needed; the facilitator opens the PNG
    import matplotlib.pyplot as plt

    with plt.rc_context({"text.parse_math": False, "text.usetex": False}):
        figure, axes = plt.subplots(figsize=(10, 1.2 + 0.5 * len(exports)))
        try:
            _bars(axes, exports)
            figure.tight_layout()
            figure.savefig(path, dpi=120, bbox_inches="tight")
        finally:
            plt.close(figure)
    return Path(path)


def _bars(axes, exports: list[dict]) -> None:
    tracks = all_tracks(exports)
    # Two pairs may share a name: the bars are placed by position, the names are only labels.
    positions = list(range(len(exports)))
    names = [e["name"] for e in exports][::-1]
    total = max((e["total"] for e in exports), default=1) or 1
    left = [0] * len(exports)
    colours = track_colours(len(tracks))
    for index, track in enumerate(tracks):
        widths = []
        for export in exports[::-1]:
            mine = {_key(t): t for t in export["tracks"]}.get(_key(track), {"done": 0})
            widths.append(mine["done"])
        label = f"{track.get('number', '')} {track['name']}".strip()
        axes.barh(positions, widths, left=left, color=colours[index], label=label)
        left = [a + b for a, b in zip(left, widths)]
    axes.set_yticks(positions, names)
    axes.set_xlim(0, total)
    axes.set_xlabel(f"katas done (of {total})")
    axes.set_title("Neural Katas: the room's progress")
    axes.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.35 if len(exports) < 4 else -0.12),
        ncol=min(5, max(1, len(tracks))),
        fontsize="small",
        frameon=False,
    )


def show(paths: list[Path], png: Path | None, console: Console) -> int:
    exports = read_exports(paths)
    if not exports:
        raise BoardError("no exports given")
    board = table(exports)
    # Every track is a column: let the table be as wide as it needs rather than squash the pairs' names.
    from rich.measure import Measurement

    needed = Measurement.get(console, console.options.update(max_width=1000), board).maximum
    if needed > console.width:
        from rich.console import Console

        console = Console(width=needed, highlight=False, file=console.file, color_system=console.color_system)
    console.print(board)
    if png is not None:
        try:
            drawn = draw(exports, png)
        except OSError as error:
            raise BoardError(
                f"cannot draw the board to {png}: {error.strerror or error}; "
                f"give --png a path you can write (or --no-png)"
            ) from None
        console.print(f"board drawn to [bold]{drawn}[/]")
    return 0
