"""How wide the learner's card may be, and wrapping that measures what a terminal shows.

The card is read in a terminal, often an 80-column one beside the editor, so
every line fits the terminal's width and never more than 80 columns, whatever
the terminal: a wider card is harder to read, and a projector's font is large.
Width is measured as a terminal draws it (a wide CJK character takes two
columns, a combining accent none), not as ``len``. Wrapping keeps a code span
(`` `pytest --recheck` ``) and a path on one line where it fits: a command
broken over two lines is one a learner copies wrong.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import unicodedata

CARD_COLUMNS = 80  # the widest card, whatever the terminal
NARROWEST = 40  # below this, wrapping makes it worse: let the terminal wrap
_GLUE = "\0"  # joins a code span's words while wrapping: textwrap splits on ASCII whitespace only
_CODE_SPAN = re.compile(r"`[^`\n]+`")


def card_width() -> int:
    """The terminal's width (``COLUMNS`` first, as pytest does; 80 when not a terminal), at most 80."""
    columns = shutil.get_terminal_size((CARD_COLUMNS, 24)).columns
    return max(NARROWEST, min(CARD_COLUMNS, columns))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide and full-width characters 2, combining marks 0."""
    if text.isascii():  # one column each: most of a card, and measured for every line of every run
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def wrap(line: str, width: int, subsequent: str = "") -> list[str]:
    """``line`` wrapped to ``width`` display columns; later lines start with ``subsequent``.

    Words are never split unless one alone is wider than the line (a path longer than the terminal):
    then, and only then, it is cut, so that no line is ever wider than ``width``.
    """
    if display_width(line) <= width:
        return [line]
    glued = _CODE_SPAN.sub(lambda span: span.group().replace(" ", _GLUE), line)
    wrapper = textwrap.TextWrapper(
        width=width, subsequent_indent=subsequent, break_long_words=False, break_on_hyphens=False
    )
    plain = textwrap.TextWrapper(
        width=width, subsequent_indent=subsequent, break_long_words=False, break_on_hyphens=False
    )
    lines: list[str] = []
    for part in wrapper.wrap(glued) or [""]:
        part = part.replace(_GLUE, " ")
        if display_width(part) <= width:
            lines.append(part)
            continue
        for piece in plain.wrap(part):  # a code span wider than the line: wrapped at its spaces after all
            lines.extend([piece] if display_width(piece) <= width else _cut(piece, width, subsequent))
    return lines


def _cut(part: str, width: int, subsequent: str) -> list[str]:
    """A line with one word wider than the line: cut it by display columns (the only place words break)."""
    lines, current = [], ""
    for char in part:
        if display_width(current + char) > width:
            lines.append(current.rstrip())
            current = subsequent
        current += char
    return [*lines, current] if current.strip() else lines
