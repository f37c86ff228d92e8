"""Training curves as a picture: your ``fit`` history beside Keras's.

The capstones draw one PNG per training run, so that a learner sees at a
glance whether their model learns like the Keras model does: one panel per
quantity (loss, val_loss, accuracy, val_accuracy), your curve and Keras's in
each (a capstone that compares more runs passes them as ``others``).
Matplotlib runs with the Agg backend (no window, no display needed).
The title (which carries the capstone's figures) is wrapped, never clipped,
breaking after a comma or a semicolon where it can, so that a name stays with
its figure; the legend sits below the panels, never over a curve
(``tests/selftest/test_plots.py`` measures both on every capstone's picture).
The val_loss panel rings each run's best epoch as drawn: where overfitting starts.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The panels, in order; a key missing from every history is left out.
KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")


def _as_dict(history) -> Mapping[str, Sequence[float]]:
    """A History object (``.history``) or a plain dict of per-epoch lists."""
    return getattr(history, "history", history) or {}


#: Characters of title per inch of figure width at the title's font size (a conservative 10 pt average).
TITLE_CHARACTERS_PER_INCH = 11


#: How each run is drawn: your run, Keras's (or the second run), then any others.
STYLES = (
    dict(marker="o", markersize=3),
    dict(linestyle="--", marker="x", markersize=3),
    dict(linestyle=":", marker="s", markersize=3),
    dict(linestyle="-.", marker="^", markersize=3),
)


def wrap_title(title: str, per_line: int) -> str:
    """``title`` with each of its lines wrapped to ``per_line`` characters, breaking after ``,``, ``;``,
    ``:`` or ``.`` where it can: "bag of words 0.494 (10.6s)" stays on one line. Only a piece longer
    than a whole line is broken between words. Every word is kept."""
    wrapped = []
    for line in title.splitlines() or [""]:
        current = ""
        for piece in re.split(r"(?<=[,;:.]) +", line):
            joined = f"{current} {piece}" if current else piece
            if len(joined) <= per_line:
                current = joined
                continue
            if current:
                wrapped.append(current)
            parts = textwrap.wrap(piece, per_line) or [""]
            wrapped.extend(parts[:-1])
            current = parts[-1]
        wrapped.append(current)
    return "\n".join(wrapped)


def _ring_the_best(axis, values, color) -> None:
    """A ring around the lowest point of a val_loss curve: where it turned, and the epoch whose weights
    ``EarlyStopping(restore_best_weights=True)`` keeps when it monitors this very curve. No label, so the
    legend stays one entry a run."""
    best = min(range(len(values)), key=lambda epoch: values[epoch])
    axis.plot(
        best + 1,
        values[best],
        marker="o",
        markersize=10,
        fillstyle="none",
        color=color,
        linestyle="none",
        clip_on=False,
    )


def draw_history(yours, keras, title: str = "Training curves", labels=("your fit", "keras fit"), others: Sequence = ()):
    """The figure of ``yours`` and ``keras`` (History objects or ``history.history`` dicts), not yet saved.

    ``others``: further runs to draw beside them, as ``(label, history)`` pairs. Nothing is clipped and
    nothing covers the curves: the title is wrapped to the figure's width (each line of it kept), and
    the legend sits below the panels, outside every one of them.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    runs = [(labels[0], _as_dict(yours)), (labels[1], _as_dict(keras))]
    runs += [(label, _as_dict(history)) for label, history in others]
    keys = [key for key in KEYS if any(key in history for _, history in runs)]
    if not keys:
        raise ValueError(f"nothing to draw: the histories have none of {KEYS}")
    width = max(3.6 * len(keys), 7.2)
    figure, axes = plt.subplots(1, len(keys), figsize=(width, 3.6), squeeze=False, layout="constrained")
    for axis, key in zip(axes[0], keys):
        for index, (label, history) in enumerate(runs):
            values = history.get(key)
            if values:
                (line,) = axis.plot(range(1, len(values) + 1), values, label=label, **STYLES[index % len(STYLES)])
                if key == "val_loss":
                    _ring_the_best(axis, values, line.get_color())
        axis.set_title("val_loss (ring: best epoch)" if key == "val_loss" else key)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    drawn = {}  # one legend entry per run, from whichever panel has its curve
    for axis in axes[0]:
        for handle, name in zip(*axis.get_legend_handles_labels()):
            drawn.setdefault(name, handle)
    figure.legend(list(drawn.values()), list(drawn), loc="outside lower center", ncols=len(drawn), frameon=False)
    figure.suptitle(wrap_title(title, int(width * TITLE_CHARACTERS_PER_INCH)))
    return figure


def plot_history(
    yours, keras, path, title: str = "Training curves", labels=("your fit", "keras fit"), others: Sequence = ()
) -> Path:
    """Draw ``yours`` and ``keras`` (and ``others``) to the PNG ``path`` (:func:`draw_history`); returns the
    path (its folder is created if needed)."""
    from matplotlib import pyplot as plt

    figure = draw_history(yours, keras, title, labels, others)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
