"""The card's text: multi-line arrays keep the card's indentation, and each artifact is named once."""

import numpy as np

from dojo.harness.report import Writer, indent
from dojo.testkit.checks import show

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
    def __init__(self):
        self.lines = []

    def write_line(self, text="", **markup):
        self.lines.append(text)


def test_an_artifact_recorded_twice_is_named_once():
    terminal = _Terminal()
    writer = Writer(terminal, impl_name="katas")
    writer.artifacts = {"a.one": [".katas/plots/x.png", ".katas/plots/x.png"], "a.two": [".katas/plots/x.png"]}
    writer.passed_news()
    assert [line for line in terminal.lines if "artifact:" in line] == ["  artifact: .katas/plots/x.png"]
