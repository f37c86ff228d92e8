"""Every capstone's picture reads at a glance: its title whole, its legend clear of the curves.

Each case is one capstone's call of ``plot_history`` (dojo/testkit/plots.py),
with its title and labels as the capstone writes them (figures filled in with
plausible values, the longest the capstone can print) and histories of its
length. The figure is rendered and measured: the title's and the legend's
boxes lie inside the figure, and the legend overlaps no panel (so it covers no
curve); each panel with its title, axis label and tick labels lies inside the
figure, clear of the next panel; the val_loss panel rings each run's best epoch.
The PNG is written too (to tmp), as the capstone writes it.
"""

import numpy as np
import pytest

from dojo.testkit.plots import draw_history, plot_history

# left out of the quick tier: pictures drawn with Matplotlib
pytestmark = pytest.mark.slow


def _history(epochs, seed, keys=("loss", "val_loss", "accuracy", "val_accuracy")):
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(epochs) / 5)
    return {key: list((decay if "loss" in key else 1 - 0.5 * decay) + 0.02 * rng.random(epochs)) for key in keys}


CAPSTONES = {
    "mlp": dict(title="The seed's MLP on the digits: test accuracy 98.3%", labels=("your fit", "keras fit")),
    "cnn": dict(title="The seed's CNN on the digits: test accuracy 99.2%", labels=("your fit", "keras fit")),
    "overfitting": dict(
        title="150 digits to learn from, 450 to validate on. Plain: best val_loss 0.832 at epoch 17, 1.212 at "
        "epoch 60 (103.7 s)\nregularised: best 0.714 at epoch 16, early stopping stopped after 26 of 60 epochs "
        "(112.2 s); val_loss is the cross-entropy, penalty left out",
        labels=("the seed's MLP", "+ L2(0.00390625), Dropout(0.1), EarlyStopping"),
    ),
    "transformer_vs_lstm": dict(
        title="Negation (6-word reviews), test accuracy (training time): Transformer 1.000 (121.7s), bag of words "
        "0.494 (10.6s), LSTM 1.000 (140.3s)",
        labels=("your Transformer", "bag of words (your Dense)", "your LSTM"),
        keys=("loss", "accuracy"),
    ),
}

#: The pieces of each title that must stay on one line: a name with its figure.
WHOLE = {
    "overfitting": ("best val_loss 0.832 at epoch 17", "stopped after 26 of 60 epochs"),
    "transformer_vs_lstm": ("Transformer 1.000 (121.7s)", "bag of words 0.494 (10.6s)", "LSTM 1.000 (140.3s)"),
}


def _inside(box, outer, slack=0.5) -> bool:
    return (
        box.x0 >= outer.x0 - slack
        and box.y0 >= outer.y0 - slack
        and box.x1 <= outer.x1 + slack
        and (box.y1 <= outer.y1 + slack)
    )


@pytest.mark.parametrize("name", sorted(CAPSTONES))
def test_the_title_and_legend_are_inside_the_figure_and_clear_of_the_curves(name, tmp_path):
    from matplotlib import pyplot as plt

    case = dict(CAPSTONES[name])
    keys = case.pop("keys", ("loss", "val_loss", "accuracy", "val_accuracy"))
    labels = case.pop("labels")
    yours, theirs = _history(40, 1, keys), _history(23, 2, keys)
    case.update(labels=labels[:2], others=[(label, _history(15, 3 + i, keys)) for i, label in enumerate(labels[2:])])
    figure = draw_history(yours, theirs, **case)
    try:
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        frame = figure.bbox
        title = figure._suptitle.get_window_extent(renderer)
        assert _inside(title, frame), f"{name}: the title {title} is clipped by the figure {frame}"
        words = " ".join(case["title"].split())
        assert " ".join(figure._suptitle.get_text().split()) == words, "the title lost words when wrapped"
        lines = figure._suptitle.get_text().splitlines()
        for piece in WHOLE.get(name, ()):
            assert any(piece in line for line in lines), f"{name}: {piece!r} is split across the title's lines {lines}"
        (legend,) = figure.legends
        box = legend.get_window_extent(renderer)
        assert _inside(box, frame), f"{name}: the legend {box} is clipped by the figure {frame}"
        assert [text.get_text() for text in legend.get_texts()] == list(labels), "a run is missing from the legend"
        for axis in figure.axes:
            panel = axis.get_window_extent(renderer)
            assert not box.overlaps(panel), f"{name}: the legend covers the {axis.get_title()} panel"
            assert not title.overlaps(panel), f"{name}: the title runs into the {axis.get_title()} panel"
        # each panel with its own title, axis label and tick labels: whole, and clear of its neighbours
        panels = [(axis.get_title(), axis.get_tightbbox(renderer)) for axis in figure.axes]
        for (label, whole), (next_label, next_whole) in zip(panels, panels[1:]):
            assert not whole.overlaps(next_whole), f"{name}: the {label} panel's labels run into the {next_label} panel"
        for label, whole in panels:
            assert _inside(whole, frame), f"{name}: the {label} panel's labels {whole} are clipped by {frame}"
        if "val_loss" in keys:  # a ring on each run's lowest val_loss: where it turned, what EarlyStopping keeps
            (panel,) = [axis for axis in figure.axes if axis.get_title().startswith("val_loss")]
            rings = [line for line in panel.lines if line.get_fillstyle() == "none"]
            lowest = [(int(np.argmin(run["val_loss"])) + 1, min(run["val_loss"])) for run in (yours, theirs)]
            assert sorted((float(r.get_xdata()[0]), float(r.get_ydata()[0])) for r in rings) == sorted(lowest)
    finally:
        plt.close(figure)
    assert plot_history(yours, theirs, tmp_path / f"{name}.png", **case).stat().st_size > 0
