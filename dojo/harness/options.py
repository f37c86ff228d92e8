"""The harness's command-line options: ``--impl``, ``--all``, ``--kata``, ``--track``, limits, ``--recheck``.

:mod:`dojo.harness.plugin` adds them from its ``pytest_addoption``. This is a
plain module, not a plugin of its own: the plugin imports it, and pytest warns
about a plugin module that was imported before it was registered.
"""

from __future__ import annotations

import pytest

DEFAULT_TIMEOUT = 30.0
DEFAULT_MEMORY_GIB = 8.0


def _positive_seconds(text: str) -> float:
    """``--kata-timeout``: a finite number of seconds above zero (a limit cannot be switched off)."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"the time limit must be a finite number of seconds above 0, got {text!r}")
    return value


def _positive_gib(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GiB, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"the memory cap must be a number of GiB above 0, got {text!r}")
    return value


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("katas", "Neural Katas")
    group.addoption(
        "--impl", default=None, metavar="PATH", help="implementation folder to test (default: $KATAS_IMPL or katas/)"
    )
    group.addoption(
        "--all",
        action="store_true",
        dest="katas_all",
        help="run every kata without stopping and print a table by track",
    )
    group.addoption(
        "--kata",
        action="append",
        default=[],
        dest="katas_only",
        metavar="ID",
        help="run only this kata (id like neuron.weighted_sum, or number like 1.1)",
    )
    group.addoption(
        "--track",
        action="append",
        default=[],
        dest="katas_tracks",
        metavar="N",
        help="run only this track (number or module name)",
    )
    group.addoption(
        "--kata-timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"wall-clock limit for each kata, all its checks together (default {DEFAULT_TIMEOUT:g} s, "
        f"or the kata's own limit from the curriculum)",
    )
    group.addoption(
        "--recheck",
        action="store_true",
        dest="katas_recheck",
        help="rerun katas that passed before even when their code did not change",
    )
    group.addoption(
        "--kata-memory",
        type=_positive_gib,
        default=DEFAULT_MEMORY_GIB,
        metavar="GIB",
        help=f"memory cap for each kata's process (default {DEFAULT_MEMORY_GIB:g} GiB)",
    )
    parser.addini("katas_curriculum", "folder of the curriculum manifest", default="curriculum")
