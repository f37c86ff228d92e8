"""Only the learner's warnings are the learner's (dojo/harness/learner_warnings.py).

The card counts and names the warnings the learner's code caused; pytest's own
(start-up), a plugin's, and the project's tests' never appear there, nor in
pytest's last line of a kata run. And `kata watch` causes none of its own any more.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toy_course import SOLVED, write_course

from dojo.harness.learner_warnings import is_learners


class Report:
    def __init__(self, message, nodeid="tests/test_toy.py::test_double", where=None):
        self.message, self.nodeid, self.fslocation = message, nodeid, where


def test_which_warnings_are_the_learners(tmp_path):
    root, katas = tmp_path, tmp_path / "katas"
    numpy_inside = Path(np.__file__).parent / "_core" / "_methods.py"
    assert is_learners(Report("RuntimeWarning: overflow", where=(str(katas / "toy.py"), 4)), root, katas)
    # A NumPy function the learner called, warning from inside NumPy: theirs.
    assert is_learners(Report("RuntimeWarning: Mean of empty slice", where=(str(numpy_inside), 1)), root, katas)
    # pytest at start-up (no test id), a plugin's category, the project's own test file: not theirs.
    assert not is_learners(Report("PytestAssertRewriteWarning: Module already imported", nodeid=""), root, katas)
    assert not is_learners(
        Report("x.py:1: PytestAssertRewriteWarning: Module already imported so cannot be rewritten; xdist"),
        root,
        katas,
    )
    assert not is_learners(
        Report("UserWarning: Can save best model only with val_loss available", where=("tests/katas/t.py", 513)),
        root,
        katas,
    )
    assert not is_learners(Report("UserWarning: x", where=(pytest.__file__, 1)), root, katas)


PROJECT_WARNS = """
import warnings


@pytest.mark.kata("toy.square")
def test_square_warns_itself(kata):
    warnings.warn("the check's own doing", UserWarning)
    assert_close(call(kata, np.array([2.0, 3.0])), np.array([4.0, 9.0]), call="square([2, 3])")
"""


@pytest.mark.slow
def test_the_card_counts_only_the_learners_warnings(pytester):
    write_course(pytester.path, ("double", "square"), ("double", "square"))
    with (pytester.path / "tests" / "test_toy.py").open("a") as tests:
        tests.write(PROJECT_WARNS)
    (pytester.path / "katas").mkdir()
    (pytester.path / "katas" / "toy.py").write_text(
        "import numpy as np\n\n" + SOLVED["double"] + "\n" + SOLVED["square"]
    )
    quiet = pytester.runpytest("tests")
    assert quiet.ret == 0
    report = quiet.stdout.str().split("Neural Katas")[1]
    assert "warning" not in report, report  # the check's own warning is not the learner's: not on the card
    (pytester.path / "katas" / "toy.py").write_text(
        "import numpy as np\n\n"
        + SOLVED["double"]
        + "\n"
        + SOLVED["square"].replace("    return x * x", "    np.exp(np.array([1000.0]))\n    return x * x")
    )
    loud = pytester.runpytest("tests", "--recheck")
    # Two checks call square: two overflows of the learner's; the check's own warning is not counted.
    card = " ".join(loud.stdout.str().split())  # the card wraps to 80 columns
    assert (
        "2 warnings in this run" in card and "the first: katas/toy.py" in card and "overflow encountered in exp" in card
    )
    loud.stdout.fnmatch_lines(["*2 warnings in*"])
    loud.stdout.no_fnmatch_line("*3 warnings*")
    every = pytester.runpytest("tests", "--recheck", "-rw")  # -rw still lists every warning
    every.stdout.fnmatch_lines(["*the check's own doing*"])


@pytest.mark.slow
def test_kata_watch_runs_warn_about_nothing_of_their_own(pytester):
    """The watcher preloads modules for its forked runs; none may be one pytest rewrites (that warned
    "Module already imported so cannot be rewritten" five times on every run)."""
    write_course(pytester.path, ("double",), ("double",))
    (pytester.path / "katas").mkdir()
    (pytester.path / "katas" / "toy.py").write_text("import numpy as np\n\n" + SOLVED["double"])
    code = (
        "import sys; from dojo.tools.rerun import WarmPytest; "
        "sys.exit(WarmPytest(sys.argv[1]).run('tests', '-rw', '-p', 'no:cacheprovider'))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(pytester.path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout.lower(), done.stdout
