"""The cards a notebook shows: a kata's card before an attempt, and the verdict after one.

A card is a list of rows (a label and a text) with a header; it renders twice, as
HTML for Jupyter and Colab and as plain text (80 columns) wherever HTML is not
shown: a terminal's ``jupyter console``, a notebook converted to text, a test.
Everything a row holds may come from the learner (their message, what their code
printed), so the HTML escapes every character of it: text stays text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..harness.report import bar, indent
from ..states import ERROR, FAILING, NOT_STARTED, PASSED, SKIPPED

WIDTH = 80
LABEL = 11  # "  mistake  ": the label column of the text card

#: Colours of a state's badge (foreground, background): readable in Jupyter's light and dark themes.
BADGE = {
    PASSED: ("#0b5d1e", "#d9f2df"),
    SKIPPED: ("#0b4f5d", "#d9eef2"),
    NOT_STARTED: ("#6b4e00", "#fff1c2"),
    FAILING: ("#8a1020", "#fbdde1"),
    ERROR: ("#8a1020", "#fbdde1"),
}


@dataclass
class Row:
    label: str
    text: str
    code: bool = False  # shown as a block of code or output (monospace, kept as it is)
    tone: str = ""  # "bad", "hint", "good" or ""


@dataclass
class Card:
    title: str
    state: str = ""
    detail: str = ""  # next to the state, e.g. "(2 of 5 checks pass)"
    rows: list[Row] = field(default_factory=list)
    footer: str = ""

    def add(self, label: str, text: str, code: bool = False, tone: str = "") -> None:
        if text:
            self.rows.append(Row(label, text, code, tone))

    # ---------------------------------------------------------------- text

    def text(self) -> str:
        head = self.title + (f"   {self.state}" if self.state else "") + (f" {self.detail}" if self.detail else "")
        lines = [head]
        for row in self.rows:
            lines.extend(_text_row(row))
        if self.footer:
            lines += ["", "  " + indent(self.footer, "  ", WIDTH - 2)]
        return "\n".join(lines)

    # ---------------------------------------------------------------- html

    def html(self) -> str:
        esc = html.escape
        state = ""
        if self.state:
            colour, background = BADGE.get(self.state, ("#333", "#eee"))
            state = (
                f' <span style="color:{colour};background:{background};padding:1px 6px;'
                f'border-radius:4px;font-weight:600">{esc(self.state)}</span>'
            )
        detail = f" <span>{esc(self.detail)}</span>" if self.detail else ""
        rows = "".join(_html_row(row) for row in self.rows)
        footer = f'<p style="margin:6px 0 0 0;opacity:.8">{esc(self.footer)}</p>' if self.footer else ""
        return (
            '<div class="neural-katas-card" style="border:1px solid #8884;border-radius:6px;'
            'padding:8px 12px;max-width:60em;line-height:1.4">'
            f'<div style="font-weight:700;font-size:1.05em">{esc(self.title)}{state}{detail}</div>'
            f'<table style="border-collapse:collapse;margin-top:4px">{rows}</table>{footer}</div>'
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.text(), "text/html": self.html()}

    def __repr__(self) -> str:
        return self.text()


def _text_row(row: Row) -> list[str]:
    prefix = "  " + row.label.ljust(LABEL - 2)
    if row.code:
        return [prefix.rstrip(), "    " + indent(row.text.rstrip("\n"), "    ", WIDTH - 4)]
    return [prefix + indent(row.text, " " * LABEL, WIDTH - LABEL)]


TONES = {"bad": "color:#b3261e", "hint": "color:#0b6b7d", "good": "color:#1e7b34"}


def _html_row(row: Row) -> str:
    esc = html.escape
    style = TONES.get(row.tone, "")
    if row.code:
        body = (
            f'<pre style="margin:2px 0;padding:6px;background:#8881;border-radius:4px;'
            f'white-space:pre-wrap;{style}">{esc(row.text.rstrip())}</pre>'
        )
    else:
        body = f'<span style="white-space:pre-wrap;{style}">{esc(row.text)}</span>'
    return (
        f'<tr><td style="vertical-align:top;padding:2px 10px 2px 0;opacity:.7;text-align:left">{esc(row.label)}</td>'
        f'<td style="text-align:left;padding:2px 0">{body}</td></tr>'
    )


def progress_text(done: int, total: int) -> str:
    return f"{bar(done, total, 20)}  {done}/{total} katas done"
