"""``kata watch`` reruns pytest in a forked copy of itself (dojo.tools.rerun)."""

import os
import signal
import sys
import textwrap

import pytest

from dojo.tools.rerun import WarmPytest

pytestmark = [
    pytest.mark.slow,  # left out of the quick tier: forked and fresh pytest reruns of a checkout
    pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here: every run is a fresh process"),
]

ARGS = ("-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:benchmark", "test_saved.py")


def _save(folder, body):
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_saved.py").write_text(textwrap.dedent(body))


def test_each_rerun_reads_the_files_as_saved_and_gives_pytests_status(tmp_path):
    runner = WarmPytest(tmp_path)
    _save(tmp_path, "def test_it():\n    assert 1 + 1 == 2\n")
    assert runner.run(*ARGS) == 0
    _save(tmp_path, "def test_it():\n    assert 1 + 1 == 3\n")
    assert runner.run(*ARGS) == 1
    assert "test_saved" not in sys.modules, "the watcher itself imported the tests: a rerun would see old code"


def test_a_run_that_dies_is_a_status_not_the_end_of_the_watcher(tmp_path):
    _save(tmp_path, "import os, signal\n\ndef test_it():\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    assert WarmPytest(tmp_path).run(*ARGS) == -signal.SIGKILL


def test_without_fork_each_run_is_a_fresh_pytest(tmp_path):
    runner = WarmPytest(tmp_path)
    runner.forks = False  # as on Windows
    _save(tmp_path, "def test_it():\n    assert False\n")
    assert runner.run(*ARGS) == 1
