"""Training curves as a picture: your ``fit`` history beside Keras's.

The capstones draw one PNG per training run, so that a learner sees at a
glance whether their model learns like the Keras model does: one panel per
quantity (loss, val_loss, accuracy, val_accuracy), your curve and Keras's in
each. Matplotlib runs with the Agg backend (no window, no display needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

#: The panels, in order; a key missing from both histories is left out.
KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")


def _as_dict(history) -> Mapping[str, Sequence[float]]:
    """A History object (``.history``) or a plain dict of per-epoch lists."""
    return getattr(history, "history", history) or {}


def plot_history(yours, keras, path, title: str = "Training curves", labels=("your fit", "keras fit")) -> Path:
    """Draw ``yours`` and ``keras`` (History objects or ``history.history`` dicts) to ``path``.

    Returns the path of the PNG (its folder is created if needed).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    yours, keras = _as_dict(yours), _as_dict(keras)
    keys = [key for key in KEYS if key in yours or key in keras]
    if not keys:
        raise ValueError(f"nothing to draw: the histories have none of {KEYS}")
    figure, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.2), squeeze=False)
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
    axes[0][0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
