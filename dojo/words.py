"""Counts said in words: "1 kata", "3 katas", never "1 katas".

Every sentence the project prints with a count goes through :func:`plural`,
so that the grammar is right at 1 and at 0 alike ("0 katas").
"""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless ``count`` is 1 (``many``: an irregular plural)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
