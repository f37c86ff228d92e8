"""Learner code cannot hang, crash or fool the run: each case, and the exact words the learner reads.

Each test writes a tiny course (as test_harness.py does), puts one hostile or
accidental piece of code into the learner's file, runs pytest in a separate
process with a hard outer timeout, and checks the report and the exit status.
(The time limit's own validation runs no learner code: it runs pytest in this process.)
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from toy_course import write_course

SQUARE = "def square(x):\n    return x * x\n"
#: Far above any limit these tests set, far below "hangs for ever" (a pytest run takes seconds; with
#: every core busy, tens of seconds).
OUTER_TIMEOUT = 600
#: The kata's limit where the report must name the learner's looping line: the child has to reach that
#: line before the limit, which takes milliseconds on a quiet machine and well under a second on a busy one.
LOOP_LIMIT = "5"


@pytest.fixture
def course(pytester):
    write_course(pytester.path, ("double", "square"), ("double", "double_zero", "square"), installed_plugins=False)
    (pytester.path / "katas").mkdir()

    def write(double: str, square: str = SQUARE, preamble: str = "") -> None:
        (pytester.path / "katas" / "toy.py").write_text(
            "import numpy as np\n" + preamble + "\n\n" + double + "\n\n" + square
        )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "tests", "--color=no", *args],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            timeout=OUTER_TIMEOUT,
        )

    pytester.write_impl = write
    pytester.run = run
    return pytester


def flat(result) -> str:
    """The report with its line wrapping undone, so that a message can be found whatever the width."""
    return " ".join((result.stdout if hasattr(result, "stdout") else result).split())


def loop_double(body: str) -> str:
    return "def double(x):\n" + "\n".join("    " + line for line in body.splitlines()) + "\n    return 2 * x\n"


def first_is_quick(values, ids):
    """Parameters where only the first case is in the quick tier (``-m "not slow"``); the others are slow."""
    return [
        pytest.param(*(v if isinstance(v, tuple) else (v,)), id=i, marks=() if n == 0 else pytest.mark.slow)
        for n, (v, i) in enumerate(zip(values, ids))
    ]


# ------------------------------------------------------------------- hangs


@pytest.mark.parametrize(
    "body",
    first_is_quick(
        [
            "sum(range(10**18))",  # a loop inside C, busy: no Python handler can run in it
            # The other three defeat what could stop a loop from inside (an exception raised into it, the
            # alarm) and then wait for ever rather than burn a core until the limit: the harness ends the
            # kata from outside either way, and a busy Python loop is test_harness.py's
            # test_infinite_loop_is_stopped_by_the_time_limit.
            "import time\nwhile True:\n    try:\n        while True: time.sleep(0.05)\n    except BaseException: pass",
            "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: time.sleep(0.05)",
            "import signal, time\nsignal.setitimer(signal.ITIMER_REAL, 0)\nwhile True: time.sleep(0.05)",
        ],
        ["C loop", "catches BaseException", "SIGALRM ignored", "itimer off"],
    ),
)
def test_a_loop_that_never_ends_is_stopped_once_for_the_whole_kata(course, body):
    course.write_impl(loop_double(body))
    result = course.run("--kata-timeout", LOOP_LIMIT)
    assert result.returncode == 1
    out = flat(result)
    assert "kata 1.1 Double it error (0 of 2 checks pass)" in out, out
    assert f"stopped after {LOOP_LIMIT} s. Is there a loop that never ends" in out, out
    assert "it was running katas/toy.py, line" in out and "in double" in out, out
    assert out.count(f"stopped after {LOOP_LIMIT} s") == 1, out  # once for the kata, not once per check


@pytest.mark.slow
def test_a_thread_left_running_does_not_keep_the_run_alive(course):
    course.write_impl(
        "import threading, time\n\ndef double(x):\n"
        "    threading.Thread(target=time.sleep, args=(10**6,)).start()\n    return 2 * x\n"
    )
    result = course.run()
    assert result.returncode == 0, result.stdout
    assert "katas pass. Nothing left to do" in flat(result), result.stdout


@pytest.mark.slow
def test_deep_recursion_after_raising_the_limit_is_reported(course):
    course.write_impl(
        "import sys\n\ndef double(x, depth=0):\n    sys.setrecursionlimit(10**6)\n    return double(x, depth + 1)\n"
    )
    result = course.run("--kata-timeout", "5")
    assert result.returncode == 1
    assert "kata 1.1 Double it error" in flat(result), result.stdout
    assert "crashed Python" in flat(result) or "RecursionError" in flat(result) or "stopped after" in flat(result)


def test_a_runaway_recursions_traceback_is_cut_before_pytest_reads_it():
    """pytest formats every entry of a failure's traceback: a million of them took longer than any limit."""
    import traceback

    from dojo.harness import recursion

    def down(depth):
        return down(depth + 1)

    with pytest.raises(RecursionError) as whole:
        down(0)
    with pytest.raises(RecursionError) as caught, recursion.short_tracebacks():
        down(0)
    entries = traceback.extract_tb(caught.value.__traceback__)
    assert len(entries) <= recursion.KEPT_FRAMES < len(traceback.extract_tb(whole.value.__traceback__)) / 2
    assert entries[-1].name == "down" and entries[-1].line == "return down(depth + 1)"  # the learner's line
    with pytest.raises(TypeError) as other, recursion.short_tracebacks():
        down("not a number")  # any other error keeps its whole traceback
    assert traceback.extract_tb(other.value.__traceback__)[-1].name == "down"


@pytest.mark.parametrize("value", first_is_quick(["0", "-1", "inf", "nan", "soon"], ["0", "-1", "inf", "nan", "soon"]))
def test_the_time_limit_accepts_only_finite_positive_seconds(course, value):
    # In this process: pytest refuses the option before any learner code runs, so nothing here can hang or crash.
    course.write_impl("def double(x):\n    return 2 * x\n")
    result = course.runpytest("tests", "--color=no", "--kata-timeout", value)
    stderr = result.stderr.str()
    assert result.ret == 4, result.stdout.str() + stderr  # a usage error
    assert "--kata-timeout" in stderr and ("above 0" in stderr or "number of seconds" in stderr)


# ------------------------------------------------------- exits and crashes


@pytest.mark.parametrize(
    "double, line",
    first_is_quick(
        [
            ("import os\n\ndef double(x):\n    os._exit(0)\n", 7),
            ("import sys\n\ndef double(x):\n    sys.stdout.flush()\n    import os; os._exit(0)\n", 8),
        ],
        ["in the function", "after a flush"],
    ),
)
def test_os_exit_zero_is_reported_and_the_run_fails(course, double, line):
    course.write_impl(double)
    result = course.run()
    assert result.returncode == 1, result.stdout
    assert "your code ended the Python process (exit status 0): a kata must return its result, not exit" in flat(
        result
    ), result.stdout
    assert f"at katas/toy.py, line {line}, in double" in flat(result), result.stdout


@pytest.mark.slow
def test_os_exit_at_module_level_is_reported(course):
    course.write_impl("def double(x):\n    return 2 * x\n", preamble="import os\nos._exit(0)\n")
    result = course.run()
    assert result.returncode == 1, result.stdout
    assert "your code ended the Python process (exit status 0)" in flat(result), result.stdout
    assert "katas/toy.py, line 3" in flat(result), result.stdout  # the line of os._exit(0) in the module


@pytest.mark.slow
def test_an_atexit_exit_cannot_turn_a_failure_into_success(course):
    course.write_impl("import atexit, os\natexit.register(os._exit, 0)\n\ndef double(x):\n    return 3 * x\n")
    result = course.run()
    assert result.returncode == 1, result.stdout
    assert "kata 1.1 Double it failing" in flat(result)


@pytest.mark.parametrize(
    "double, words",
    first_is_quick(
        [
            ("import ctypes\n\ndef double(x):\n    return ctypes.string_at(0)\n", "segmentation fault"),
            ("import os\n\ndef double(x):\n    os.abort()\n", "abort"),
        ],
        ["segfault", "abort"],
    ),
)
def test_a_crash_of_python_is_named_with_the_learners_line(course, double, words):
    course.write_impl(double)
    result = course.run()
    assert result.returncode == 1, result.stdout
    assert f"your code crashed Python ({words}); the kata's other checks did not run." in flat(result), result.stdout
    assert "at katas/toy.py, line 7, in double" in flat(result), result.stdout
    assert "Fatal Python error" not in flat(result) + result.stderr


@pytest.mark.slow
def test_closing_stdout_is_named(course):
    course.write_impl("import sys\n\ndef double(x):\n    sys.stdout.close()\n    return 2 * x\n")
    result = course.run()
    assert result.returncode == 1, result.stdout
    assert "your code closed sys.stdout" in flat(result), result.stdout


@pytest.mark.slow
def test_a_failure_in_one_kata_leaves_the_next_katas_verdicts_alone(course):
    course.write_impl("import sys\n\ndef double(x):\n    sys.exit('bye')\n")
    result = course.run("--all")
    assert result.returncode == 1
    assert "your code raised SystemExit at katas/toy.py:7 (in double): bye" in flat(result), result.stdout
    assert "1 passed" in flat(result) and "1 error" in flat(result), result.stdout  # square still passes


@pytest.mark.slow
def test_ctrl_c_names_the_kata_that_was_running(course):
    # The loop tells the test it is running (an event, not a guess at how long pytest takes to get there),
    # through a file in .katas/plots: the one folder of the checkout that the sandbox lets a kata write.
    started = course.path / ".katas" / "plots" / "kata-started"
    started.parent.mkdir(parents=True, exist_ok=True)
    course.write_impl(loop_double(f"import pathlib\npathlib.Path({str(started)!r}).touch()\nwhile True: pass"))
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "tests", "--color=no", "--kata-timeout", "60"],
        cwd=course.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A terminal's pytest can be interrupted; one started by a background job inherits an ignored
        # SIGINT, which Python then never turns into KeyboardInterrupt (a suite run with `... &`). Reset it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + OUTER_TIMEOUT
    while not started.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the kata never started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
    out, _ = process.communicate(timeout=OUTER_TIMEOUT)
    assert process.returncode not in (0, None)
    assert "kata 1.1 Double it interrupted (Ctrl-C) while its checks were running" in flat(out), out


# --------------------------------------------------------------- fooled


def test_the_numpy_fingerprint_covers_numpy_random_even_before_it_is_loaded():
    """numpy.random is lazy in NumPy 2, and a kata's process may start without it: the fingerprint must
    load it, or a replaced default_rng (feeding the checks inputs that any code passes) would go unseen."""
    script = (
        "import sys, numpy as np\n"
        "assert 'numpy.random' not in sys.modules, 'this test needs a process without numpy.random'\n"
        "from dojo.harness.guards import NumpyFingerprint\n"
        "fingerprint = NumpyFingerprint()\n"
        "import numpy.random\n"
        "numpy.random.default_rng = lambda *a, **k: None\n"
        "print(fingerprint.replaced())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=OUTER_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "numpy.random.default_rng" in result.stdout, result.stdout


def test_the_numpy_fingerprint_compares_by_identity_not_by_what_a_replacement_says(monkeypatch):
    """The check after every test compares NumPy's namespaces with their copies by identity: a replacement
    whose ``__eq__`` always says True, or a whole submodule swapped, is still named; NumPy as it was is not."""
    import types

    import numpy as np

    from dojo.harness.guards import NumpyFingerprint

    class EqualToAnything:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

        def __call__(self, *args, **kwargs):
            return True

    fingerprint = NumpyFingerprint()
    assert fingerprint.replaced() == []
    monkeypatch.setattr(np, "allclose", EqualToAnything())
    assert fingerprint.replaced() == ["numpy.allclose"]
    monkeypatch.undo()
    assert fingerprint.replaced() == []
    monkeypatch.setattr(np, "linalg", types.ModuleType("linalg"))
    assert "numpy.linalg.solve" in fingerprint.replaced()
    monkeypatch.undo()
    monkeypatch.delattr(np, "isclose")
    assert fingerprint.replaced() == ["numpy.isclose"]


def test_the_numpy_fingerprint_is_not_fooled_by_rebound_builtins(monkeypatch):
    """A kata that rebinds the builtins the check uses (``all`` always True, ``sorted`` always empty, ...)
    beside a replaced NumPy function still has the replacement named."""
    import builtins

    import numpy as np

    from dojo.harness.guards import NumpyFingerprint

    fingerprint = NumpyFingerprint()
    with monkeypatch.context() as patched:
        patched.setattr(np, "allclose", lambda *args, **kwargs: True)
        patched.setattr(builtins, "all", lambda *args: True)
        patched.setattr(builtins, "map", lambda *args: iter(()))
        patched.setattr(builtins, "sorted", lambda *args, **kwargs: [])
        patched.setattr(builtins, "callable", lambda *args: False)
        named = fingerprint.replaced()
    assert named == ["numpy.allclose"]


@pytest.mark.slow
def test_replacing_a_numpy_function_the_checks_use_is_caught(course):
    course.write_impl(
        "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n\ndef double(x):\n    return 3 * x\n"
    )
    result = course.run()
    assert result.returncode == 1, result.stdout
    assert "your code replaced numpy.allclose, numpy.isclose: the checks rely on NumPy as it ships" in flat(result)


@pytest.mark.parametrize(
    "module", first_is_quick(*[["tensorflow", "keras", "torch", "jax", "solutions", "reference"]] * 2)
)
def test_importing_a_library_that_does_the_kata_is_refused(course, module):
    course.write_impl(f"def double(x):\n    import {module}\n    return 2 * x\n")
    result = course.run()
    assert result.returncode == 1, result.stdout
    assert f"`import {module}` is not allowed in a kata: the kata is to build it yourself" in flat(result), (
        result.stdout
    )


@pytest.mark.slow
def test_a_global_change_does_not_leak_into_the_next_kata(course):
    course.write_impl(
        "import sys, os\n\ndef double(x):\n    sys.setrecursionlimit(50)\n    os.chdir('/')\n"
        "    np.seterr(all='raise')\n    return 2 * x\n"
    )
    result = course.run("--all")
    # double's own checks ran under a recursion limit of 50 and may fail; square ran with the harness's settings.
    assert "1.2 Square it passed" in flat(result), result.stdout


@pytest.mark.slow
def test_print_output_is_shown_on_the_card(course):
    course.write_impl("def double(x):\n    for i in range(12):\n        print('step', i)\n    return 3 * x\n")
    result = course.run()
    assert "print (first 5 of 12 lines; all of them: pytest -s --kata toy.double)" in flat(result), result.stdout
    assert "step 0" in flat(result) and "step 11" not in flat(result)


@pytest.mark.slow
def test_each_warning_is_counted_once_however_many_katas_follow(course):
    """A child is forked with the warnings the parent holds so far; it must send back only its own."""
    course.write_impl(
        "import warnings\n\ndef double(x):\n    warnings.warn('double warns')\n    return 2 * x\n",
        square="import warnings\n\ndef square(x):\n    warnings.warn('square warns')\n    return x * x\n",
    )
    result = course.run("--all")
    assert result.returncode == 0, result.stdout
    # double has two checks and square one: three warnings, each said once.
    assert re.search(r"\b3 warnings\b", result.stdout), result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("status", [0, 1])
def test_os_exit_without_a_child_is_a_report_not_the_end_of_pytest(course, monkeypatch, status):
    """The in-process fallback (Windows, KATAS_IN_PROCESS=1): no child to end, so os._exit must not end pytest."""
    monkeypatch.setenv("KATAS_IN_PROCESS", "1")
    course.write_impl(f"import os\n\ndef double(x):\n    os._exit({status})\n")
    result = course.run()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"your code called os._exit({status})" in flat(result), result.stdout
    assert "katas/toy.py, line" in flat(result), result.stdout
