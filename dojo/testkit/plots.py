"""Training curves as a picture: your ``fit`` history beside Keras's.

The capstones draw one PNG per training run, so that a learner sees at a
glance whether their model learns like the Keras model does: one panel per
quantity (loss, val_loss, accuracy, val_accuracy), your curve and Keras's in
each. Matplotlib runs with the Agg backend (no window, no display needed).
The title (which carries the capstone's figures) is wrapped, never clipped,
and the legend sits below the panels, never over a curve
(``tests/selftest/test_plots.py`` measures both on every capstone's picture).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

#: The panels, in order; a key missing from both histories is left out.
KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")


def _as_dict(history) -> Mapping[str, Sequence[float]]:
    """A History object (``.history``) or a plain dict of per-epoch lists."""
    return getattr(history, "history", history) or {}


#: Characters of title per inch of figure width at the title's font size (a conservative 10 pt average).
TITLE_CHARACTERS_PER_INCH = 11


def draw_history(yours, keras, title: str = "Training curves", labels=("your fit", "keras fit")):
    """The figure of ``yours`` and ``keras`` (History objects or ``history.history`` dicts), not yet saved.

    Nothing is clipped and nothing covers the curves: the title is wrapped to the figure's width (each
    line of it kept), and the legend sits below the panels, outside every one of them.
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    yours, keras = _as_dict(yours), _as_dict(keras)
    keys = [key for key in KEYS if key in yours or key in keras]
    if not keys:
        raise ValueError(f"nothing to draw: the histories have none of {KEYS}")
    width = max(3.6 * len(keys), 7.2)
    figure, axes = plt.subplots(1, len(keys), figsize=(width, 3.6), squeeze=False, layout="constrained")
    for axis, key in zip(axes[0], keys):
        for history, label, style in (
            (yours, labels[0], dict(marker="o", markersize=3)),
            (keras, labels[1], dict(linestyle="--", marker="x", markersize=3)),
        ):
            values = history.get(key)
            if values:
                axis.plot(range(1, len(values) + 1), values, label=label, **style)
        axis.set_title(key)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside lower center", ncols=len(names), frameon=False)
    per_line = int(width * TITLE_CHARACTERS_PER_INCH)
    wrapped = [part for line in title.splitlines() for part in textwrap.wrap(line, per_line) or [""]]
    figure.suptitle("\n".join(wrapped))
    return figure


def plot_history(yours, keras, path, title: str = "Training curves", labels=("your fit", "keras fit")) -> Path:
    """Draw ``yours`` and ``keras`` to the PNG ``path`` (:func:`draw_history`); returns the path (its folder
    is created if needed)."""
    from matplotlib import pyplot as plt

    figure = draw_history(yours, keras, title, labels)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
