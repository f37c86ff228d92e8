"""Hostile learner code meets the sandbox and the subreaper: each case, what it leaves and the exact report.

As in test_isolation.py, each test writes a tiny course, puts the hostile code
into the learner's file, runs pytest in a separate process (with a hard outer
timeout far above any limit these runs need) and checks the report, the exit
status, the files the code went for, and that no process it started is left.
Every process of a run carries a marker in its environment, so that one left
behind is found whatever it renamed itself to.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from toy_course import write_course

from dojo.harness import reaper, sandbox
from dojo.refcache import daemon_client

OUTER_TIMEOUT = 240
MARK = "KATAS_SELFTEST_RUN"
SQUARE = "def square(x):\n    return x * x\n"
needs_landlock = pytest.mark.skipif(sandbox.abi() == 0, reason="this kernel has no Landlock")
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="no /proc here")


def left_behind(mark: str) -> list[int]:
    """Processes still alive (not zombies) whose environment carries this run's marker."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for process in reaper.processes().values():
        try:
            environment = Path(f"/proc/{process.pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environment.split(b"\0") and process.state != "Z":
            found.append(process.pid)
    return found


@pytest.fixture
def course(pytester):
    write_course(pytester.path, ("double", "square"), ("double", "double_zero", "square"), installed_plugins=False)
    (pytester.path / "katas").mkdir()
    mark = uuid.uuid4().hex

    def write(double: str, preamble: str = "") -> None:
        (pytester.path / "katas" / "toy.py").write_text(
            "import os\nimport numpy as np\n" + preamble + "\n\n" + double + "\n\n" + SQUARE
        )

    def run(*args: str, keep_daemon: bool = False, **environment: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "tests", "--color=no", *args],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            timeout=OUTER_TIMEOUT,
            env={**os.environ, MARK: mark, "COLUMNS": "200", **environment},
        )
        # The reference daemon outlives a run on purpose (the next run reuses it): `kata stop` ends it,
        # and whatever is still running after that was left behind.
        result.daemon = daemon_client.status(pytester.path) if keep_daemon else daemon_client.stop(pytester.path)
        result.left_behind = [] if keep_daemon else left_behind(mark)
        for pid in result.left_behind:  # never leave them to the next test, whatever this one says
            os.kill(pid, signal.SIGKILL)
        return result

    pytester.write_impl = write
    pytester.run = run
    return pytester


def flat(result) -> str:
    """The report with its line wrapping undone (and what went to stderr), whatever the width."""
    return " ".join((result.stdout + result.stderr).split())


def body(lines: str) -> str:
    """A ``double`` that runs ``lines`` and then returns the right answer."""
    return "def double(x):\n" + "".join(f"    {line}\n" for line in lines.splitlines()) + "    return 2 * x\n"


# ------------------------------------------------------------- the sandbox


@pytest.mark.slow
@needs_landlock
def test_erasing_the_kata_file_from_the_kata_is_refused_and_named(course):
    course.write_impl(body("open(__file__, 'w').write('')"))
    before = (course.path / "katas" / "toy.py").read_text()
    result = course.run()
    assert result.returncode == 1
    assert (course.path / "katas" / "toy.py").read_text() == before
    out = flat(result)
    assert "kata 1.1 Double it error" in out, out
    assert "your code raised PermissionError at katas/toy.py:6 (in double): [Errno 13] Permission denied:" in out, out
    assert (
        "(a kata's code may write only into tempfile.gettempdir(): "
        "katas/, .katas/ and the tests are read-only to it. Remove the write.)"
    ) in out, out


@needs_landlock
def test_learner_code_cannot_change_the_cache_progress_curriculum_or_tests(course):
    """Every write is tried (and its refusal swallowed): the kata passes, and not one file changed."""
    entry = course.path / ".katas" / "reference-cache" / "entries" / "ab" / "abcd.json"
    entry.parent.mkdir(parents=True)
    entry.write_text('{"value": 1.0}')
    progress = course.path / ".katas" / "progress.json"
    progress.write_text("{}")
    targets = [entry, progress, course.path / "curriculum" / "toy.toml"]
    targets.append(course.path / "tests" / "test_toy.py")
    before = {path: path.read_bytes() for path in targets}
    attempts = "\n".join(
        f"for attempt in (lambda: open({str(p)!r}, 'w').write('0'), lambda: os.remove({str(p)!r}), "
        f"lambda: os.rename({str(p)!r}, {str(p) + '.x'!r}), lambda: os.truncate({str(p)!r}, 0)):\n"
        f"    try:\n        attempt()\n    except OSError:\n        pass"
        for p in targets
    )
    course.write_impl(
        body(attempts + "\nopen(os.path.join(__import__('tempfile').gettempdir(), 'mine'), 'w').write('ok')")
    )
    result = course.run()
    assert result.returncode == 0, result.stdout
    del before[progress]  # the harness records the pass in it: not the learner's '0'
    assert {path: path.read_bytes() for path in before} == before
    assert json.loads(progress.read_text())["katas"]["toy.double"]["state"] == "passed"
    assert not (course.path / ".katas" / "reference-cache" / "entries" / "ab" / "abcd.json.x").exists()


@needs_landlock
@pytest.mark.skipif(importlib.util.find_spec("joblib") is None, reason="joblib is not installed")
def test_joblib_imported_inside_the_sandbox_puts_no_warning_on_the_card(course):
    """TensorFlow imports scikit-learn and so joblib inside a kata's check; joblib's semaphore test in
    /dev/shm is refused by the sandbox. Its "serial mode" warning is not the learner's: no card shows it."""
    (course.path / "tests" / "test_toy.py").write_text(
        "import pytest\n\n"
        '@pytest.mark.kata("toy.double")\ndef test_double(kata):\n'
        "    import joblib  # as TensorFlow's import of scikit-learn does, inside the check\n"
        "    assert kata(2) == 5\n\n"
        '@pytest.mark.kata("toy.square")\ndef test_square(kata):\n    assert kata(3) == 9\n'
    )
    course.write_impl(body("pass"))
    result = course.run("-rw")
    assert result.returncode == 1, result.stdout
    assert "serial mode" not in result.stdout + result.stderr, result.stdout
    assert "warnings summary" not in result.stdout and " warning" not in result.stdout.split("collected")[-1], (
        result.stdout
    )


def test_permissions_a_kata_changes_are_set_back_and_named(course):
    """Landlock does not cover chmod: a kata's code can make its own file, its folder or a test file
    unreadable. The harness sets the mode bits back after the kata and the card says what happened."""
    course.write_impl(
        body(
            "os.chmod(__file__, 0)\nos.chmod(os.path.dirname(__file__), 0o500)\n"
            "os.chmod(os.path.join(os.path.dirname(__file__), '..', 'tests', 'test_toy.py'), 0o200)"
        )
    )
    watched = [course.path / "katas" / "toy.py", course.path / "katas", course.path / "tests" / "test_toy.py"]
    before = {path: path.stat().st_mode & 0o7777 for path in watched}
    result = course.run()
    assert {path: path.stat().st_mode & 0o7777 for path in watched} == before
    out = flat(result)
    for path, found in (("katas/toy.py", "000"), ("katas", "500"), ("tests/test_toy.py", "200")):
        assert (
            f"kata 1.1's code changed the permissions of {path} (to {found}, with os.chmod): the harness set "
            f"them back to {before[course.path / path]:03o}. A kata's code may not change the course's files; "
            f"remove the chmod."
        ) in out, out
    again = course.run("--recheck")  # the next run reads every file as before
    assert again.returncode == 0 and "3 passed" in flat(again) and "Permission" not in flat(again), flat(again)


@pytest.mark.slow
@needs_landlock
def test_a_path_the_checks_hand_over_is_writable(course):
    """save_weights and checkpoints get a path from pytest's tmp_path: it lies inside the sandbox's folder."""
    (course.path / "tests" / "test_toy.py").write_text(
        "import numpy as np\nimport pytest\n\n"
        '@pytest.mark.kata("toy.double")\ndef test_double(kata, tmp_path):\n'
        "    path = tmp_path / 'weights.npz'\n    kata(np.ones(2), str(path))\n"
        "    assert np.load(path)['w'].tolist() == [2.0, 2.0]\n\n"
        '@pytest.mark.kata("toy.square")\ndef test_square(kata):\n    assert kata(3) == 9\n'
    )
    course.write_impl("def double(x, path=None):\n    np.savez(path, w=2 * x)\n    return 2 * x\n")
    result = course.run()
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
@needs_landlock
def test_learner_code_cannot_signal_the_harness(course):
    course.write_impl(body("import signal\nos.kill(os.getppid(), signal.SIGKILL)"))
    result = course.run()
    assert result.returncode == 1
    out = flat(result)
    assert "your code raised PermissionError at katas/toy.py:7 (in double): [Errno 1] Operation not permitted" in out, (
        out
    )
    assert "(a kata's code may not signal processes outside it. Remove the os.kill.)" in out, out


@pytest.mark.slow
@needs_landlock
def test_learner_code_cannot_write_to_or_kill_a_server_outside(course, tmp_path):
    """A stand-in for the reference server: a process the harness did not start inside the sandbox.

    The code tries to write a request into its stdin through /proc/<pid>/fd/0, then to kill it.
    """
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.write(repr(sys.stdin.read()))"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        course.write_impl(
            body(
                f"try:\n    open('/proc/{server.pid}/fd/0', 'w').write('an extra request')\nexcept OSError:\n    pass\n"
                f"import signal\nos.kill({server.pid}, signal.SIGKILL)"
            )
        )
        result = course.run()
        assert result.returncode == 1
        assert "[Errno 1] Operation not permitted" in flat(result), result.stdout
        assert server.poll() is None, "the learner's code killed the server"
        out, _ = server.communicate("", timeout=300)
        assert out == "''", f"the learner's code wrote into the server's stdin: {out}"
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_where_the_sandbox_is_off_the_run_says_so_once_and_works_as_before(course):
    course.write_impl(body("open(os.path.join(os.path.dirname(__file__), 'scratch.txt'), 'w').write('x')"))
    result = course.run(KATAS_NO_SANDBOX="1")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("note: the sandbox is off (KATAS_NO_SANDBOX): your code can write anywhere you can") == 1
    assert (course.path / "katas" / "scratch.txt").read_text() == "x"


def test_without_landlock_the_line_says_so(monkeypatch):
    monkeypatch.delenv("KATAS_NO_SANDBOX", raising=False)
    monkeypatch.setattr(sandbox, "abi", lambda: 0)
    assert sandbox.missing_line() == (
        "note: no sandbox here (it needs Linux 5.13+ with Landlock): your code runs with your own rights, "
        "so keep it from writing outside its kata"
    )
    assert sandbox.confine(["/"]) == 0  # and nothing is done


@needs_landlock
def test_every_write_right_of_the_kernels_abi_is_handled():
    rights = sandbox.handled_rights(sandbox.abi())
    assert rights & sandbox.WRITE_FILE and rights & sandbox.REMOVE_FILE and rights & sandbox.MAKE_REG
    if sandbox.abi() >= 3:
        assert rights & sandbox.TRUNCATE
    assert not rights & 0b101  # reading and running programs stay allowed


# --------------------------------------------------------- nothing outlives


@pytest.mark.slow
@needs_proc
def test_forked_children_new_sessions_and_daemons_do_not_outlive_a_correct_kata(course):
    """50 sleeping forks hold the verdict's pipe: the verdict comes when the kata's process exits.

    The limit is far above the outer timeout: a run that waited for the children would time out.
    """
    course.write_impl(
        body(
            "import subprocess, time\n"
            "for _ in range(50):\n    if os.fork() == 0:\n        time.sleep(10**6)\n"
            "subprocess.Popen(['sleep', '1000000'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(10**6)\n"
            "    os._exit(0)"
        )
    )
    result = course.run("--kata-timeout", "3600")
    assert result.returncode == 0, result.stdout
    assert "✓ kata 1.1 Double it passes now." in flat(result), result.stdout
    assert result.left_behind == []


@pytest.mark.slow
@needs_proc
def test_a_fork_that_carries_on_with_the_checks_does_not_garble_the_verdict(course):
    course.write_impl(body("os.fork()"))
    result = course.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cannot read" not in result.stdout
    assert result.left_behind == []


@pytest.mark.slow
@needs_proc
def test_a_crash_with_children_holding_the_pipe_is_reported_at_once(course):
    course.write_impl(
        body("import time\nfor _ in range(5):\n    if os.fork() == 0:\n        time.sleep(10**6)\nos.abort()")
    )
    result = course.run("--kata-timeout", "3600")
    assert result.returncode == 1
    assert "your code crashed Python (abort); the kata's other checks did not run." in flat(result), result.stdout
    assert result.left_behind == []


@needs_proc
def test_children_of_a_kata_that_ran_out_of_time_are_ended_too(course):
    # The kata waits for ever rather than burn a core until the limit: what is tested is its child,
    # ended with it (a busy loop's stop is test_isolation.py's and test_harness.py's).
    course.write_impl(
        body(
            "import subprocess, time\nsubprocess.Popen(['sleep', '1000000'], start_new_session=True)\n"
            "while True: time.sleep(0.05)"
        )
    )
    result = course.run("--kata-timeout", "2")
    assert result.returncode == 1
    assert "stopped after 2 s. Is there a loop that never ends" in flat(result), result.stdout
    assert result.left_behind == []


@pytest.mark.slow
@needs_proc
def test_a_compiler_still_running_at_the_limit_is_reported_as_compiling(course, tmp_path):
    """A stand-in g++ that never finishes (as a big kernel on a busy machine): the card says compiling."""
    compiler = tmp_path / "g++"
    compiler.write_text("#!/bin/sh\nwhile :; do sleep 1; done\n")
    compiler.chmod(0o755)
    course.write_impl(body(f"import subprocess\nsubprocess.run([{str(compiler)!r}, '-c', 'kernel.cpp'])"))
    result = course.run("--kata-timeout", "2")
    assert result.returncode == 1
    out = flat(result)
    assert (
        "stopped after 2 s while your kernel was still compiling (g++ was running), so none of its checks ran: "
        "a first compile is slow on a busy machine. Give it more time (--kata-timeout SECONDS); a kernel that "
        "compiled once is kept and not compiled again."
    ) in out, out
    assert "a loop that never ends" not in out
    assert result.left_behind == []


# ------------------------------------------------------------ the curriculum


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda root: (root / "curriculum" / "toy.toml").unlink(), "no curriculum files (*.toml) in"),
        (lambda root: (root / "curriculum" / "toy.toml").write_text("[track\n"), "toy.toml: "),
    ],
    ids=["deleted", "damaged"],
)
def test_a_missing_or_damaged_curriculum_is_one_line_with_the_fix(course, damage, words):
    course.write_impl(body("pass"))
    damage(course.path)
    result = course.run()
    assert result.returncode == 4
    assert "INTERNALERROR" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ERROR: the course's curriculum is damaged (") and words in lines[0], lines[0]
    assert lines[0].endswith("): restore it with `git checkout curriculum/`"), lines[0]


REFERENCE = """
import numpy as np

from dojo.refcache.store import cache_public_functions


def twice(x):
    return np.asarray(x, dtype=np.float64) * 2


cache_public_functions(globals())
"""

CHECKS_WITH_THE_SERVER = """
import numpy as np
import pytest

from reference import toyref


@pytest.mark.kata("toy.double")
def test_double(kata):
    assert toyref.twice(np.array([1.0])).tolist() == [2.0]  # a miss: the harness starts its reference server
    got = kata(np.array([2.0, 3.0]))
    assert np.allclose(got, toyref.twice(np.array([2.0, 3.0]))), got  # another miss: the server must answer it


@pytest.mark.kata("toy.square")
def test_square(kata):
    assert kata(3.0) == 9.0
"""

#: Finds the checkout's reference daemon (which the check's first call started), asks it for a value
#: through its socket, then kills it. It returns the right answer only if both attacks were refused.
ATTACK_THE_DAEMON = """
import json
import signal
import socket
from pathlib import Path

from dojo import wire
from dojo.refcache import daemon


def double(x):
    root = Path(__file__).resolve().parents[1]
    folder = daemon.folder(root)
    if not (folder / daemon.SOCKET_NAME).exists():
        return 0 * x  # nothing found: the attack proves nothing
    request = {"type": "ref", "module": "reference.toyref", "function": "twice",
               "args": wire.encode([[x], {}]), "identity": daemon.identity(root)}
    try:
        with socket.socket(socket.AF_UNIX) as connection:
            with daemon.address(folder / daemon.SOCKET_NAME) as where:
                connection.connect(where)
            connection.sendall(wire.dumps(request))
            connection.shutdown(socket.SHUT_WR)
            reply = wire.read(connection.makefile("rb"), 1 << 20) or {}
        if "value" in reply or "stale" in reply:
            return 0 * x  # it answered (or ended on our word)
    except OSError:
        pass
    try:
        os.kill(json.loads((folder / daemon.LOCK_NAME).read_text())["pid"], signal.SIGKILL)
        return 0 * x
    except OSError:
        pass
    return 2 * x
"""


@pytest.fixture
def course_with_a_server(course, tmp_path):
    (course.path / "reference").mkdir()
    (course.path / "reference" / "__init__.py").write_text("")
    (course.path / "reference" / "toyref.py").write_text(REFERENCE)
    (course.path / "tests" / "test_toy.py").write_text(CHECKS_WITH_THE_SERVER)
    course.write_impl(ATTACK_THE_DAEMON)
    course.cache = str(tmp_path / "reference-cache")
    return course


@pytest.mark.slow
@needs_landlock
def test_learner_code_cannot_ask_or_kill_the_reference_daemon(course_with_a_server):
    result = course_with_a_server.run(KATAS_REFERENCE_CACHE=course_with_a_server.cache)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ kata 1.1 Double it passes now." in flat(result), result.stdout
    assert result.daemon is not None and result.daemon["served"] >= 2, result.daemon  # alive, and it served the checks
    assert result.left_behind == []


@pytest.mark.slow
def test_a_later_runs_miss_is_answered_by_the_daemon_the_first_run_started(course_with_a_server, tmp_path):
    """Two runs, each with an empty cache of its own (every value a miss): the second finds the daemon up."""
    course_with_a_server.write_impl("def double(x):\n    return 2 * x\n")
    # The daemon's idle time is the self-tests' 30 s unless given: on a loaded machine the second run's
    # start could take that long, and a daemon that idled out would fail the pid check for no fault.
    # The last run below stops it, so the longer idle time leaves nothing behind.
    first = course_with_a_server.run(
        keep_daemon=True, KATAS_REFERENCE_CACHE=str(tmp_path / "first"), KATAS_REFERENCE_IDLE="600"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    second = course_with_a_server.run(
        "--recheck", keep_daemon=True, KATAS_REFERENCE_CACHE=str(tmp_path / "second")
    )  # --recheck: the katas that passed run again
    assert second.returncode == 0, second.stdout + second.stderr
    assert any((tmp_path / "second").rglob("*.json")), "the second run's values were not computed for it"
    assert second.daemon["pid"] == first.daemon["pid"], (first.daemon, second.daemon)
    assert second.daemon["served"] > first.daemon["served"]
    stopped = course_with_a_server.run("--co")  # a run that needs nothing, then the daemon is stopped
    assert stopped.daemon["pid"] == first.daemon["pid"] and stopped.left_behind == []


@pytest.mark.slow
def test_without_the_sandbox_the_same_attack_reaches_the_daemon(course_with_a_server):
    """The control: the attack above is real (it finds the daemon and gets an answer), so its pass means refused."""
    result = course_with_a_server.run(KATAS_REFERENCE_CACHE=course_with_a_server.cache, KATAS_NO_SANDBOX="1")
    assert result.returncode == 1, result.stdout
    assert "kata 1.1 Double it" in flat(result) and "passes now" not in flat(result), result.stdout


@pytest.mark.slow
@needs_proc
def test_a_real_gpu_kata_whose_compile_outlasts_the_limit_says_compiling(tmp_path):
    """The GPU track's own build (dojo/gpu/runtime.py) with a compiler that never finishes, in a fresh cache."""
    compiler = tmp_path / "g++"
    compiler.write_text("#!/bin/sh\nwhile :; do sleep 1; done\n")
    compiler.chmod(0o755)
    mark = uuid.uuid4().hex
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--impl", "solutions", "--kata", "gpu.relu", "--kata-timeout", "3"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=OUTER_TIMEOUT,
        env={**os.environ, MARK: mark, "CXX": str(compiler), "KATAS_GPU_CACHE": str(tmp_path / "gpu-cache")},
    )
    leftovers = left_behind(mark)
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    out = flat(result)
    assert result.returncode == 1, out
    assert "stopped after 3 s while your kernel was still compiling (g++ was running)" in out, out
    assert "a loop that never ends" not in out
    assert leftovers == []


def test_a_0_byte_npy_in_the_cache_is_recomputed_not_blamed_on_the_learner(course_with_a_server):
    """A full disk while copying a checkout leaves 0-byte .npy files: correct code still passes, and they are rewritten."""
    course_with_a_server.write_impl("def double(x):\n    return 2 * x\n")
    first = course_with_a_server.run(KATAS_REFERENCE_CACHE=course_with_a_server.cache)
    assert first.returncode == 0, first.stdout
    arrays = sorted(Path(course_with_a_server.cache).glob("arrays/*/*.npy"))
    assert arrays, "the first run cached nothing"
    for array in arrays:
        array.write_bytes(b"")
    again = course_with_a_server.run("--recheck", KATAS_REFERENCE_CACHE=course_with_a_server.cache)
    assert again.returncode == 0, again.stdout
    assert "EOFError" not in again.stdout
    assert again.stdout.strip().splitlines()[-1].strip("= ").startswith("2 passed"), again.stdout
    assert all(array.stat().st_size > 0 for array in arrays)
