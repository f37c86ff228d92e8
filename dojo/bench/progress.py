"""A progress bar for the race (rich), on a terminal only.

``kata bench`` times about ninety benchmarks; without a bar a learner sees a
row of dots and no idea how long is left. On a terminal this plugin draws one
bar (benchmarks done out of all, the operation racing now, time so far) and
keeps pytest's own per-test letters off the line the bar lives on. Elsewhere
(CI logs, a pipe) it does nothing and pytest prints as usual.

The bar is redrawn from pytest's hooks (``auto_refresh=False``), never from a
thread: while a benchmark runs, pytest captures the standard streams, and a
thread's write would land in the capture instead of on the screen.
"""

from __future__ import annotations

import pytest


class RaceProgress:
    """Registered by :mod:`.options` for a ``--bench`` run whose standard error is a terminal."""

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._bar = None
        self._task = None

    @staticmethod
    def wanted(config: pytest.Config) -> bool:
        import sys

        return sys.stderr.isatty() and not config.getoption("collectonly", False)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("race"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=self.console,
            auto_refresh=False,
            transient=True,
        )
        self._task = self._bar.add_task("", total=len(session.items))
        self._bar.start()

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=_what(nodeid))
            self._bar.refresh()

    def pytest_runtest_logfinish(self, nodeid: str, location) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)
            self._bar.refresh()

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        """The outcome as pytest counts it, without the letter that would break the bar's line."""
        if self._bar is not None and report.when == "call" and report.outcome in ("passed", "skipped"):
            return report.outcome, "", report.outcome.upper()
        if self._bar is not None and report.when == "setup" and report.outcome == "skipped":
            return "skipped", "", "SKIPPED"
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self) -> None:
        """Gone before the tables are printed."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _what(nodeid: str) -> str:
    """``bench_conv.py::test_conv[conv2d-tensorflow]`` -> ``conv2d-tensorflow``: the operation and the contender."""
    name = nodeid.split("::")[-1]
    return name[name.index("[") + 1 : -1] if name.endswith("]") and "[" in name else name
