"""The card's text: multi-line arrays keep the card's indentation, and each artifact is named once."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dojo.harness.columns import display_width, wrap
from dojo.harness.report import Writer, indent
from dojo.testkit.checks import show

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "         "  # the card's column after "  why    "


def test_a_two_d_array_starts_its_own_line_and_its_rows_line_up():
    message = (
        f"dense_forward(x=[[1, 2]], kernel (2, 3), bias (3,)) returned {show(np.arange(6.0).reshape(2, 3))}, "
        f"expected {show(np.arange(6.0).reshape(2, 3) + 1)}: the bias is missing: add it to every row"
    )
    card = ("  why    " + indent(message, PREFIX)).splitlines()
    assert card[0] == "  why    dense_forward(x=[[1, 2]], kernel (2, 3), bias (3,)) returned"
    assert card[1:5] == [
        PREFIX + "[[0., 1., 2.],",
        PREFIX + " [3., 4., 5.]], expected",
        PREFIX + "[[1., 2., 3.],",
        PREFIX + " [4., 5., 6.]]: the bias is missing: add it to every row",
    ]
    assert all(line.startswith(PREFIX) for line in card[1:])


class _Terminal:
    """What pytest's terminal writer shows: ``write`` continues the current line, ``write_line`` ends it."""

    def __init__(self):
        self.lines = []
        self.pending = ""

    def write(self, text, **markup):
        self.pending += text

    def write_line(self, text="", **markup):
        self.lines.append(self.pending + text)
        self.pending = ""


def test_an_artifact_recorded_twice_is_named_once():
    terminal = _Terminal()
    writer = Writer(terminal, impl_name="katas")
    writer.artifacts = {"a.one": [".katas/plots/x.png", ".katas/plots/x.png"], "a.two": [".katas/plots/x.png"]}
    writer.passed_news()
    assert [line for line in terminal.lines if "artifact:" in line] == ["  artifact: .katas/plots/x.png"]


# ------------------------------------------------------------------ every card line fits 80 columns


def _too_wide(text: str, columns: int = 80) -> list[str]:
    return [line for line in text.splitlines() if display_width(line) > columns]


def test_display_width_counts_what_a_terminal_draws():
    assert display_width("kata 1.1") == 8
    assert display_width("进度") == 4  # wide characters take two columns
    assert display_width("e\u0301") == 1  # a combining accent takes none
    assert display_width("█░✓") == 3


def test_wrapping_keeps_code_spans_and_paths_whole_where_they_fit():
    text = (
        "the gradient is wrong here: run `pytest --recheck --kata regularization.Dense` again after you "
        "edit katas/regularization/dense_layer_with_a_long_name.py and see tests/katas/test_regularization.py"
    )
    lines = wrap(text, 56)
    assert all(display_width(line) <= 56 for line in lines)
    assert any("`pytest --recheck --kata regularization.Dense`" in line for line in lines)
    assert any("katas/regularization/dense_layer_with_a_long_name.py" in line for line in lines)
    assert " ".join(lines) == text
    # a path wider than the line is the one thing that is cut
    assert all(display_width(line) <= 20 for line in wrap("see " + "a/" * 30 + "b.py now", 20))


def test_a_card_with_long_fields_fits_80_columns(monkeypatch):
    """The card's every part, fed the longest texts the course has, in an 80-column terminal."""
    from dojo.course.curriculum import load
    from dojo.harness.report import KataSummary

    monkeypatch.setenv("COLUMNS", "80")
    curriculum = load(ROOT / "curriculum")
    kata = max(curriculum.katas, key=lambda k: len(k.title) + len(k.goal or "") + sum(map(len, k.hints)))
    message = (
        f"Dense(3, activation='relu', kernel_regularizer=L2(0.015625)).backward(dout) gave dkernel = "
        f"{show(np.linspace(-3, 3, 12).reshape(4, 3) * 1.000001)}, expected {show(np.linspace(-3, 3, 12).reshape(4, 3))}"
        f"  (rtol=1e-05)\n  where: the data's part (x.T @ dz) matches Keras; the penalty's part, dkernel - x.T @ dz, "
        f"is 4 * l2 * kernel (added twice? backward calls backward_from_logits: add it in one of them)"
    )
    terminal = _Terminal()
    writer = Writer(terminal, impl_name="katas")
    writer.newly_passed = [curriculum.katas[0]]
    writer.artifacts = {curriculum.katas[0].id: [".katas/plots/" + "a_long_artifact_name_" * 4 + ".png"]}
    writer.streaks = {kata.id: 1}
    summary = KataSummary(kata, "failing", message, "test_" + "x" * 60 + "[3-5-4-6-True]", 1, 5, "p" * 120)
    writer.passed_news()
    writer.progress(curriculum, {k.id for k in curriculum.katas[:40]})
    writer.kata_card(summary)
    card = "\n".join(terminal.lines)
    assert "(2 of 5)" not in card and "why" in card and "hint" in card
    assert not _too_wide(card), "\n".join(_too_wide(card))


# The real thing: a learner's copy of the course with a mistake in a kata, plain `pytest` in an 80-column
# terminal. Each case is a mistake whose message is long: a where-note, a multi-line array, a long title.
REAL_CARDS = [
    pytest.param("regularization.Dense", "DensePenalisingInBothWaysBack", id="dense-arrays"),
    pytest.param("rnn.LSTM", "LSTMLayerTanhDerivativeAtTheCell", id="lstm-where", marks=pytest.mark.slow),
    pytest.param(
        "attention.TransformerBlock",
        "TransformerBlockWithoutSecondResidualGradient",
        id="block",
        marks=pytest.mark.slow,
    ),
]


@pytest.mark.parametrize("kata_id, mutant_name", REAL_CARDS)
def test_real_failing_cards_fit_an_80_column_terminal(tmp_path, kata_id, mutant_name):
    import subprocess
    import sys

    import mutants  # noqa: F401 - fills the registry
    from mutation import REGISTRY, build_implementation
    from notebook_support import course_copy

    from dojo.course.curriculum import load

    variant = next(v for v in REGISTRY if v.kata_id == kata_id and v.obj.__name__ == mutant_name)
    kata = load(ROOT / "curriculum").by_id[kata_id]
    checkout = course_copy(tmp_path / "course")
    shutil.rmtree(checkout / "katas")
    build_implementation(variant, variant.module or kata.module, variant.target or kata.target, checkout / "katas")
    runs = {}
    # Bytecode written and read, as a learner's Python does: the second run reuses what the first compiled.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    for mode in ((), ("--all",)):
        runs[mode] = subprocess.run(
            [sys.executable, "-m", "pytest", "--kata", kata_id, "--color=no", "-p", "no:cacheprovider", *mode],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=600,
            env={**env, "COLUMNS": "80"},
        )
    card, table = runs[()].stdout, runs[("--all",)].stdout
    assert runs[()].returncode == 1 and f"kata {kata.number}" in card and "why" in card, card + runs[()].stderr
    assert not _too_wide(card), "\n".join(_too_wide(card))
    assert not [line for line in card.splitlines() if line.strip() in (",", "]", "],")], card  # rows stay whole
    assert not _too_wide(table), "\n".join(_too_wide(table))
