"""The harness's contract (the README's "What you see"), tested on tiny kata suites built with pytester.

Each test writes a two- or three-kata course (a curriculum file, an
implementation folder, kata tests), runs pytest on it, and checks the lines a
learner would read.
"""

import re
import subprocess
import sys

import pytest
from mutation import ROOT
from toy_course import SOLVED, write_course

STUB = 'def {name}(x):\n    raise NotImplementedError("kata: {name}")\n'


def flat(text) -> str:
    """The card with its line wrapping undone: it wraps to the terminal, 80 columns at most."""
    return " ".join(str(text).split())


@pytest.fixture
def course(pytester):
    """A tiny course: curriculum, tests, and a helper to write implementation folders."""
    write_course(
        pytester.path,
        ("double", "square", "cube"),
        ("cube", "square", "double", "double_zero"),
        installed_plugins=False,
    )

    def write(folder="katas", **bodies):
        path = pytester.path / folder
        path.mkdir(exist_ok=True)
        source = "import numpy as np\n\n" + "\n\n".join(
            bodies.get(name, SOLVED[name]) if name in bodies or name in SOLVED else "" for name in SOLVED
        )
        (path / "toy.py").write_text(source)
        return path

    pytester.write_impl = write
    return pytester


def stubs(*names):
    return {name: STUB.format(name=name) for name in names}


def test_untouched_stubs_stop_at_the_first_kata(course):
    course.write_impl(**stubs("double", "square", "cube"))
    result = course.runpytest("tests")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*progress*0/3 katas done*",
            "kata 1.1  Double it*not started*",
            "*edit*katas/toy.py, double*",
            "*task*Return 2 * x.*",
            "*hint*(1 of 3) What is twice x?*",
        ]
    )
    result.stdout.no_fnmatch_line("*kata 1.2*")
    result.stdout.no_fnmatch_line("*Traceback*")
    result.assert_outcomes(failed=2)  # both checks of kata 1.1 ran; nothing after it did


def test_stops_after_the_first_kata_that_does_not_pass(course):
    course.write_impl(square="def square(x):\n    return x * 2\n")
    result = course.runpytest("tests")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*progress*1/3 katas done*",
            "kata 1.2  Square it*failing (0 of 1 checks pass)*",
            "*why*square(?2, 3?) returned ?4., 6.?",
        ]
    )
    result.assert_outcomes(passed=2, failed=1)  # cube (kata 1.3) never ran


def test_runs_katas_in_curriculum_order_not_file_order(course):
    course.write_impl()
    result = course.runpytest("tests", "-v")
    assert result.ret == 0
    lines = [line for line in result.outlines if "PASSED" in line]
    assert [line.split("::")[1].split()[0] for line in lines] == [
        "test_double",
        "test_double_zero",
        "test_square",
        "test_cube",
    ]
    result.stdout.fnmatch_lines(["*All 3 katas pass. Nothing left to do*"])


def test_all_runs_everything_and_prints_a_table(course):
    course.write_impl(**stubs("square"), cube="def cube(x):\n    return x * x\n")
    result = course.runpytest("tests", "--all")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*Neural Katas: every kata*",
            "1 Toys",
            "*1.1*Double it*passed*2/2*",
            "*1.2*Square it*not started*0/1*",
            "*1.3*Cube it*failing*0/1*",
            "*cube(?2, 3?) returned*",  # under its row: beside it, an 80-column table has no room
            "1 passed  1 failing  0 error  1 not started  0 skipped",
        ]
    )


@pytest.mark.slow
def test_impl_option_and_environment_variable_choose_the_folder(course, monkeypatch):
    course.write_impl("katas", **stubs("double", "square", "cube"))
    course.write_impl("answers")
    assert course.runpytest("tests", "--impl", "answers").ret == 0
    monkeypatch.setenv("KATAS_IMPL", "answers")
    assert course.runpytest("tests").ret == 0
    monkeypatch.delenv("KATAS_IMPL")
    assert course.runpytest("tests").ret == 1


@pytest.mark.slow
def test_kata_and_track_options_select(course):
    course.write_impl(**stubs("double"))
    result = course.runpytest("tests", "--kata", "toy.square", "--kata", "1.3")
    assert result.ret == 0
    result.assert_outcomes(passed=2, deselected=2)
    assert course.runpytest("tests", "--track", "1").ret == 1
    result = course.runpytest("tests", "--kata", "nope")
    result.stderr.fnmatch_lines(["*no kata 'nope'*"])


@pytest.mark.slow
def test_syntax_error_names_file_line_and_the_blocked_kata(course):
    course.write_impl(double="def double(x)\n    return 2 * x\n")
    result = course.runpytest("tests")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "kata 1.1  Double it*error*",
            "*why*katas/toy.py, line 3: SyntaxError*",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR collecting*")
    result.stdout.no_fnmatch_line("*Traceback*")


def test_exception_in_learner_code_points_at_their_line(course):
    course.write_impl(double="def double(x):\n    return x.doubled()\n")
    result = course.runpytest("tests")
    result.stdout.fnmatch_lines(
        [
            "*why*your code raised AttributeError at katas/toy.py:4 (in double)*",
        ]
    )


@pytest.mark.slow
def test_assert_in_learner_code_is_their_error_not_the_verdict(course):
    """A learner's own `assert` (or a library's, like numpy-ml's is_stochastic) is their code raising."""
    course.write_impl(
        double="def double(x):\n    assert x.sum() > 100, 'Array should be stochastic'\n    return 2 * x\n"
    )
    result = course.runpytest("tests")
    result.stdout.fnmatch_lines(["kata 1.1  Double it*error*"])
    assert "why your code raised AssertionError at katas/toy.py:4 (in double): Array should be stochastic" in flat(
        result.stdout
    )
    result.stdout.no_fnmatch_line("*failing*")


@pytest.mark.slow
def test_shape_mismatch_in_learner_code_gets_a_next_step(course):
    course.write_impl(double="def double(x):\n    return x @ np.ones((3, 3))\n")
    result = course.runpytest("tests")
    result.stdout.fnmatch_lines(
        [
            "*why*your code raised ValueError at katas/toy.py:4 (in double): matmul*",
            "*The shapes on that line do not fit together: print each array's .shape*",
        ]
    )


@pytest.mark.slow
def test_infinite_loop_is_stopped_by_the_time_limit(course):
    course.write_impl(double="def double(x):\n    while True:\n        pass\n")
    # 5 s: the child must reach the loop before the limit for the report to name its line, which takes
    # milliseconds on a quiet machine and under a second with every core busy.
    result = course.runpytest("tests", "--kata-timeout", "5")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "kata 1.1  Double it*error*",
            "*stopped after 5 s*loop that never ends*",
            "*it was running katas/toy.py, line [45], in double*",
        ]
    )


@pytest.mark.slow
def test_time_limit_is_not_swallowed_by_a_broad_except(course):
    course.write_impl(
        double="def double(x):\n    while True:\n        try:\n            pass\n"
        "        except Exception:\n            pass\n"
    )
    result = course.runpytest("tests", "--kata-timeout", "0.3")
    result.stdout.fnmatch_lines(["*stopped after 0.3 s*"])


def test_sys_exit_in_learner_code_is_reported_not_fatal(course):
    course.write_impl(double="import sys\ndef double(x):\n    sys.exit('bye')\n")
    result = course.runpytest("tests")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*your code raised SystemExit at katas/toy.py:5 (in double): bye*"])


@pytest.mark.slow
def test_missing_function_is_named(course):
    course.write_impl(double="def twice(x):\n    return 2 * x\n")
    result = course.runpytest("tests")
    result.stdout.fnmatch_lines(["*katas/toy.py has no `double`*"])


def test_input_changed_in_place_is_named(course):
    course.write_impl(double="def double(x):\n    x *= 2\n    return x\n")
    result = course.runpytest("tests")
    result.stdout.fnmatch_lines(["*`double` changed its input `x` in place*"])


@pytest.mark.slow
def test_tests_without_kata_marker_run_as_usual(course):
    course.makepyfile(test_plain="def test_plain():\n    assert True\n")
    course.write_impl(**stubs("double", "square", "cube"))
    result = course.runpytest("test_plain.py")
    assert result.ret == 0
    result.stdout.no_fnmatch_line("*Neural Katas*")


# --------------------------------------------------------- the real project


def _pristine_stubs(tmp_path):
    """The stubs as committed (falls back to the working tree outside git)."""
    target = tmp_path / "stubs"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "katas"], capture_output=True)
    if archive.returncode == 0:
        subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
        (tmp_path / "katas").rename(target)
    else:
        import shutil

        shutil.copytree(ROOT / "katas", target)
    return target


def test_plain_pytest_on_the_shipped_stubs_shows_kata_1_1(tmp_path):
    """The README's first command: what a learner sees on a fresh clone."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", f"--impl={_pristine_stubs(tmp_path)}", "--color=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "kata 1.1  The weighted sum" in out and "not started" in out, out
    assert "weighted_sum" in out and "hint   (1 of" in out and "progress" in out, out
    assert "kata 1.2" not in out and "Traceback" not in out, out
    assert "tensorflow" not in (out + result.stderr).lower(), "a stub run should not import TensorFlow"


@pytest.mark.slow
def test_every_stub_raises_not_implemented(tmp_path):
    """rustlings's check, one direction: every kata is unsolved as shipped."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--impl={_pristine_stubs(tmp_path)}",
            "--all",
            "--color=no",
            "-p",
            "no:randomly",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    table = result.stdout
    rows = [line for line in table.splitlines() if re.match(r"^  \d+\.\d+ ", line)]
    started = [line for line in rows if "not started" not in line and "skipped" not in line]
    assert result.returncode == 1
    assert not started, "katas that do not read as 'not started' on the shipped stubs:\n" + "\n".join(started)


# ------------------------------------------------------------- report polish


@pytest.mark.slow
def test_one_kata_run_says_what_ran(course):
    course.write_impl()
    result = course.runpytest("tests", "--kata", "toy.square")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*kata 1.2 Square it passes (the only kata in this run).*"])
    result.stdout.no_fnmatch_line("*All * katas in this run pass*")


@pytest.mark.slow
def test_warnings_are_named_on_the_card_with_how_to_see_them(course):
    course.write_impl(double="def double(x):\n    np.exp(np.array([1000.0]))\n    return 2 * x\n")
    result = course.runpytest("tests", "--kata", "toy.double")
    assert result.ret == 0
    assert "warnings in this run (a warning does not fail a kata; values are checked), the first:" in flat(
        result.stdout
    )
    assert "overflow" in flat(result.stdout) and "`pytest -rw`" in flat(result.stdout)
    shown = course.runpytest("tests", "--kata", "toy.double", "-rw")
    shown.stdout.fnmatch_lines(["*warnings summary*", "*katas/toy.py:4: RuntimeWarning: overflow*"])


@pytest.mark.slow
def test_kata_list_keeps_titles_readable_below_120_columns(monkeypatch):
    import argparse
    import io

    from rich.console import Console

    from dojo.course.progress import Progress
    from dojo.tools import cli

    monkeypatch.setenv("KATAS_ROOT", str(ROOT))
    for width in (80, 100):
        out = io.StringIO()
        ctx = cli.Context(Console(file=out, width=width, no_color=True))
        monkeypatch.setattr(ctx, "progress", lambda: Progress(path=ROOT / "no-such" / "progress.json"))
        cli.cmd_list(ctx, argparse.Namespace(track=None))
        text = out.getvalue()
        words = text.split()
        assert "…" not in text, f"titles cut off at {width} columns:\n{text}"
        for kata in ctx.curriculum.katas:  # a long title may wrap, but every word of it is there
            assert all(word in words for word in kata.title.split()), (
                f"title {kata.title!r} squashed at {width} columns:\n{text}"
            )


# ------------------------------------------------------- the stability search


@pytest.mark.slow
def test_stability_search_shows_the_smallest_breaking_input_deterministically():
    import numpy as np
    from hypothesis import strategies as st

    from dojo.testkit.checks import KataFailure
    from dojo.testkit.stability import check_stable, matrices, smallest_breaking_input, vectors

    def sigmoid_unstable(x):
        e = np.exp(x)
        return e / (1.0 + e)

    def softmax_global_shift(x):
        e = np.exp(x - x.max())
        return e / e.sum(axis=-1, keepdims=True)

    first = smallest_breaking_input(sigmoid_unstable, st.tuples(vectors()))
    assert first is not None and first[0].tolist() == [710.0]  # the overflow's edge, not a random number
    again = smallest_breaking_input(sigmoid_unstable, st.tuples(vectors()))
    assert again[0].tolist() == first[0].tolist()
    rows = smallest_breaking_input(softmax_global_shift, st.tuples(matrices()))
    assert rows is not None and rows[0].shape[0] == 2  # two rows far apart: the shift is not per row
    assert smallest_breaking_input(lambda x: 1.0 / (1.0 + np.exp(-x)), st.tuples(vectors())) is None

    with pytest.raises(
        KataFailure,
        match=r"stopped at sigmoid\(\[710\.\]\): your function returned \[nan\], "
        r"Keras gives \[1\.\]",
    ):
        check_stable(sigmoid_unstable, st.tuples(vectors()), lambda x: np.ones_like(x), "sigmoid")
    with pytest.raises(NotImplementedError):  # a stub is "not started", not a passing search
        check_stable(
            lambda x: (_ for _ in ()).throw(NotImplementedError("stub")), st.tuples(vectors()), lambda x: x, "stub"
        )


# ------------------------------------------------------- only what changed is rerun


def test_a_passed_kata_whose_code_did_not_change_is_not_rerun(course):
    course.write_impl(double="def double(x):\n    return 2 * x\n", **stubs("square", "cube"))
    first = course.runpytest("tests")
    first.stdout.fnmatch_lines(["*kata 1.2  Square it*not started*"])
    course.write_impl(
        double="def double(x):\n    # a comment does not change the code\n    return 2 * x\n", **stubs("square", "cube")
    )
    again = course.runpytest("tests")
    again.stdout.fnmatch_lines(["*kata 1.2  Square it*not started*"])
    assert "(1 kata that passed before was not rerun: its code has not changed. `pytest --recheck`" in flat(
        again.stdout
    )
    again.assert_outcomes(failed=1)  # only square's check ran


@pytest.mark.slow
def test_a_passed_kata_whose_code_changed_is_rerun(course):
    course.write_impl(double="def double(x):\n    return 2 * x\n", **stubs("square", "cube"))
    course.runpytest("tests")
    course.write_impl(double="def double(x):\n    return x + x\n", **stubs("square", "cube"))
    again = course.runpytest("tests")
    again.stdout.no_fnmatch_line("*not rerun*")
    again.assert_outcomes(passed=2, failed=1)


@pytest.mark.slow
def test_a_passed_kata_is_rerun_when_a_helper_it_uses_changed(course):
    helper = "TWO = 2\n\ndef _times(x, k):\n    return k * x\n\ndef double(x):\n    return _times(x, TWO)\n"
    course.write_impl(double=helper, **stubs("square", "cube"))
    course.runpytest("tests")
    course.write_impl(double=helper.replace("return k * x", "return x * k"), **stubs("square", "cube"))
    again = course.runpytest("tests")
    again.stdout.no_fnmatch_line("*not rerun*")
    again.assert_outcomes(passed=2, failed=1)


@pytest.mark.slow
def test_a_remembered_digest_still_sees_a_changed_helper(course):
    """With every file older than the run, digests come from .katas/digests.json; an edit still reruns."""
    import os
    import time

    def date_back():
        then = time.time() - 60
        for path in (course.path / "katas" / "toy.py", course.path / "tests" / "test_toy.py"):
            os.utime(path, (then, then))

    helper = "TWO = 2\n\ndef _times(x, k):\n    return k * x\n\ndef double(x):\n    return _times(x, TWO)\n"
    course.write_impl(double=helper, **stubs("square", "cube"))
    date_back()
    course.runpytest("tests")
    assert (course.path / ".katas" / "digests.json").exists()
    course.runpytest("tests").stdout.fnmatch_lines(["*1 kata that passed before was not rerun*"])
    course.write_impl(double=helper.replace("return k * x", "return x * k"), **stubs("square", "cube"))
    date_back()  # same size, another modification time: the remembered digest no longer applies
    again = course.runpytest("tests")
    again.stdout.no_fnmatch_line("*not rerun*")
    again.assert_outcomes(passed=2, failed=1)


@pytest.mark.slow
def test_recheck_reruns_passed_katas(course):
    course.write_impl(double="def double(x):\n    return 2 * x\n", **stubs("square", "cube"))
    course.runpytest("tests")
    again = course.runpytest("tests", "--recheck")
    again.stdout.no_fnmatch_line("*not rerun*")
    again.assert_outcomes(passed=2, failed=1)
