"""How big the race is: about a minute on a laptop by default, the realistic sizes with ``--full``.

A benchmark module picks each size with :func:`pick`::

    BATCH = sizes.pick(laptop=16, full=64)

``pytest --bench`` (and ``kata bench``) sets the choice in
:func:`dojo.bench.options.pytest_configure`, before any benchmark module is
imported, so module-level constants see it. The laptop sizes keep every
operation's shape (the same layers, kernels and steps) and shrink the batch
or the count: the ratios against TensorFlow stay meaningful, the absolute
times are smaller. ``--full`` is the size the tables were designed for (the
seed CNN's first layer at batch 64, and so on) and takes several minutes.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

_full = False

#: pytest-benchmark's time budget per benchmark in the laptop race (its own default, 1 s, is --full's).
LAPTOP_MAX_TIME = 0.15
#: ... and its fewest rounds (its default, 5, is --full's).
LAPTOP_MIN_ROUNDS = 3


def set_full(full: bool) -> None:
    """Called once per ``--bench`` session (a nested session resets it too)."""
    global _full
    _full = bool(full)


def full() -> bool:
    return _full


def pick(laptop: T, full: T) -> T:
    """The size for this race: ``full`` under ``--full``, else ``laptop``."""
    return full if _full else laptop
