"""The `kata` command and the plugin's progress, run as a learner would: in a copy of the repository.

Each test gets its own copy of a template: the repository's files (tracked and
untracked-but-not-ignored, no `.katas/`) committed in a fresh git repository
(the pristine stubs `kata reset` restores come from git), built once per module
and copied whole, `.git` included, into `tmp_path`. This file's tests keep two
tracks of the course (SHORT_TRACKS: nothing they check needs more, and each run
collects less); the whole-course template serves the other files that import
these fixtures. The tests run `python -m dojo` and `python -m pytest` there in
subprocesses that write bytecode, as a learner's Python does: the template's
own modules are compiled once, and a test's later runs reuse what its first
run compiled (the kata files never are: the harness imports them with bytecode
off). A tiny extra track, "Extra" with one kata that needs no TensorFlow, keeps
most runs fast and gives the tests a track that can run alone after the real
ones.
"""

from __future__ import annotations

import compileall
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dojo.course.curriculum import load

# left out of the quick tier: dozens of `kata` and `pytest` processes on copies of the checkout
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
COURSE = load(ROOT / "curriculum")
TOTAL = len(COURSE.katas)  # katas of the real course, before the extra track
# Numbers are derived from the manifest order, so the tests derive them too.
EXTRA = f"{len(COURSE.tracks) + 1}.1"  # the extra track is appended last
N = {kata.id: kata.number for kata in COURSE.katas}  # the first track's are the same in the short course
#: The tracks this file's own tests keep (`checkout`): the first, and the GPU track for `kata gpu-picture`.
#: A run collects the kata tests of these alone: about half a second less per run than the whole course,
#: and nothing these tests check needs the other tracks (test_catch_up.py and others run the whole course).
SHORT_TRACKS = ("neuron", "gpu")
SHORT_TOTAL = sum(len(COURSE.in_track(COURSE.track(name))) for name in SHORT_TRACKS)
SHORT_EXTRA = f"{len(SHORT_TRACKS) + 1}.1"

EXTRA_TRACK = """
[track]
name = "Extra"
module = "extra"

[[kata]]
name = "double"
title = "Double it"
goal = "Return 2 * x."
hints = ["What is x + x?", "Multiply x[0] by two? No: all of x.", "`return 2 * x`"]
"""

EXTRA_STUB = '''"""A kata for the tool's own tests."""


def double(x):
    """Return ``2 * x``."""
    # TODO: kata extra.double
    raise NotImplementedError("kata extra.double")
'''

EXTRA_TEST = """import pytest

from dojo.testkit.checks import check


@pytest.mark.kata("extra.double")
def test_double(kata, request):
    got = kata(3)
    check(got == 6, f"double(3) returned {got!r}, expected 6")
    picture = request.config.rootpath / ".katas" / "plots" / "double.txt"  # a folder the sandbox lets checks write
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.write_text("a picture of the result")
    request.node.user_properties.append(("artifact", str(picture)))
"""

WEIGHTED_SUM = '''def weighted_sum(inputs, weights):
    """My answer."""
    return float(np.dot(inputs, weights))
'''


def _files() -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [name for name in listed if (ROOT / name).is_file()]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Learner", "-c", "user.email=learner@example.com", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _build(folder: Path, tracks: tuple[str, ...] | None = None) -> Path:
    """The repository as shipped, plus the extra track, committed; with only ``tracks`` of the course if given."""
    repo = folder / "neural-katas"
    for name in _files():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    if tracks is not None:
        _keep_only(repo, tracks)
    (repo / "curriculum" / "extra.toml").write_text(EXTRA_TRACK)
    course = repo / "curriculum" / "course.toml"
    course.write_text(course.read_text().replace("\n]", '\n    "extra",\n]'))
    (repo / "katas" / "extra.py").write_text(EXTRA_STUB)
    (repo / "solutions" / "extra.py").write_text(
        EXTRA_STUB.replace(
            '    # TODO: kata extra.double\n    raise NotImplementedError("kata extra.double")', "    return 2 * x"
        )
    )
    (repo / "tests" / "katas" / "test_extra.py").write_text(EXTRA_TEST)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "Neural Katas as shipped")
    _git(repo, "gc", "-q")  # one pack, not hundreds of loose objects: each test copies .git
    # The tool's own modules compiled once for every copy (copies keep the files' times, so the bytecode stays
    # valid there). Not katas/ or solutions/ (a run imports them with bytecode off), nor the kata tests (pytest
    # rewrites them into bytecode that names the file it came from: each copy's first run compiles its own).
    for part in ("dojo", "reference", "kernels", "conftest.py"):
        path = repo / part
        compiled = compileall.compile_dir(path, quiet=1) if path.is_dir() else compileall.compile_file(path, quiet=1)
        assert compiled, f"{part} did not compile"
    return repo


def _keep_only(repo: Path, tracks: tuple[str, ...]) -> None:
    """A shorter course, as if it had shipped with these tracks alone (in this order)."""
    for track in COURSE.tracks:
        if track.module not in tracks:
            for part in (f"curriculum/{track.module}.toml", f"katas/{track.module}.py", f"solutions/{track.module}.py"):
                (repo / part).unlink()
            for part in (f"tests/katas/test_{track.module}.py", f"notebooks/{track.module}.ipynb"):
                (repo / part).unlink(missing_ok=True)
    listed = "".join(f'    "{name}",\n' for name in tracks)
    course = repo / "curriculum" / "course.toml"
    course.write_text(re.sub(r"(?ms)^tracks = \[.*?^\]", f"tracks = [\n{listed}]", course.read_text()))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The whole course (for the tests of other files that import these fixtures)."""
    return _build(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def short_template(tmp_path_factory) -> Path:
    """The course cut to SHORT_TRACKS: what this file's tests need."""
    return _build(tmp_path_factory.mktemp("short-template"), SHORT_TRACKS)


def _copy(source: Path, folder: Path) -> Path:
    copy = folder / "neural-katas"
    shutil.copytree(source, copy, symlinks=True, ignore=_not_copied)  # copy2: the files' times, so bytecode stays valid
    return copy


def _not_copied(folder: str, names: list[str]) -> list[str]:
    """What a copy of a checkout that has run leaves behind: pytest's rewritten kata tests (they name the file
    they were compiled from: a traceback in the copy would point at the source) and the reference daemon's
    socket and lock (that daemon serves the source checkout; the copy starts its own if it needs one)."""
    here = Path(folder)
    if here.name == "katas" and here.parent.name == "tests":
        return ["__pycache__"]
    return ["reference-daemon"] if here.name == ".katas" else []


@pytest.fixture
def repo(template, tmp_path) -> Path:
    return _copy(template, tmp_path)


@pytest.fixture
def checkout(short_template, tmp_path) -> Path:
    """A copy of the short course, for this file's tests."""
    return _copy(short_template, tmp_path)


@pytest.fixture(scope="module")
def stubs_run(short_template, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A learner's first plain `pytest`, on the stubs as shipped: run once for the tests that start there.
    Read it only; a test that goes on from there takes its own copy (`after_stubs_run`)."""
    checkout = _copy(short_template, tmp_path_factory.mktemp("stubs-run"))
    return checkout, run_pytest(checkout)


@pytest.fixture
def after_stubs_run(stubs_run, tmp_path) -> Path:
    """A copy of the checkout that the stubs' plain `pytest` ran in: its progress and state as that run left them."""
    return _copy(stubs_run[0], tmp_path)


def _env(repo: Path) -> dict:
    dropped = ("KATAS_IMPL", "KATAS_ROOT", "PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")  # bytecode: as a learner's
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(PYTHONPATH=str(repo), NO_COLOR="1", COLUMNS="120")
    # No background warm-up in a throwaway copy; its reference values are this checkout's (same sources, same keys).
    env.update(KATAS_NO_WARMUP="1")
    env.setdefault("KATAS_REFERENCE_CACHE", str(ROOT / ".katas" / "reference-cache"))
    return env


def kata(repo: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dojo", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=_env(repo),
        input=stdin,
        timeout=300,
    )


def run_pytest(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=repo, capture_output=True, text=True, env=_env(repo), timeout=300
    )


def progress(repo: Path) -> dict:
    return json.loads((repo / ".katas" / "progress.json").read_text())


def replace(repo: Path, module: str, old: str, new: str) -> None:
    path = repo / "katas" / f"{module}.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


STUB_1_1 = '    # TODO: kata neuron.weighted_sum\n    raise NotImplementedError("kata neuron.weighted_sum")'
STUB_EXTRA = '    # TODO: kata extra.double\n    raise NotImplementedError("kata extra.double")'


# --------------------------------------------------------------- pytest itself


def test_plain_pytest_on_the_stubs_stops_at_kata_1_1_and_records_it(stubs_run):
    checkout, result = stubs_run
    assert result.returncode == 1
    assert f"kata {N['neuron.weighted_sum']}  The weighted sum   not started" in result.stdout
    assert "hint   (1 of 3)" in result.stdout
    stored = progress(checkout)
    assert stored["current"] == "neuron.weighted_sum"
    assert stored["katas"]["neuron.weighted_sum"]["state"] == "not started"
    assert "neuron.neuron" not in stored["katas"]  # never ran: no entry, still "not started"


def test_answer_key_runs_leave_the_learners_progress_alone(checkout):
    result = run_pytest(checkout, "--impl", "solutions", "--track", "extra")
    assert result.returncode == 0
    assert not (checkout / ".katas" / "progress.json").exists()


def test_hint_level_rises_every_three_attempts_and_never_on_reruns_of_the_same_code(checkout):
    replace(checkout, "extra", STUB_EXTRA, "    return 0")  # wrong, and fails without TensorFlow: fast
    # Three runs: had a rerun counted as an attempt, the third would show hint 2 (as the third attempt does below).
    reruns = [run_pytest(checkout, "--track", "extra").stdout for _ in range(3)]
    assert all(f"kata {SHORT_EXTRA}  Double it   failing" in r for r in reruns)
    assert "double(3) returned 0, expected 6" in reruns[0]
    # The same wrong code three times is one attempt: the card stays at hint 1 and says what brings the next.
    assert all("hint   (1 of 3)" in r for r in reruns), reruns[-1]
    assert "(attempt 1: the next hint comes after 2 more attempts that change your code" in " ".join(reruns[-1].split())
    assert progress(checkout)["katas"]["extra.double"]["streak"] == 1
    replace(checkout, "extra", "    return 0", "    return 0  # a comment is no new code")
    assert "(attempt 1:" in run_pytest(checkout, "--track", "extra").stdout
    replace(checkout, "extra", "    return 0  # a comment is no new code", "    return 1")
    second = run_pytest(checkout, "--track", "extra").stdout
    assert "hint   (1 of 3)" in second and "(attempt 2: the next hint comes after 1 more attempt that" in second
    replace(checkout, "extra", "    return 1", "    return x")
    third = run_pytest(checkout, "--track", "extra").stdout
    assert "hint   (2 of 3)" in third and "(attempt 3: the next hint comes after 3 more attempts" in third
    assert progress(checkout)["katas"]["extra.double"]["streak"] == 3


def test_kata_hint_reveals_the_next_hint_and_the_report_follows(checkout):
    first = kata(checkout, "hint")
    assert first.returncode == 0
    assert "hint 2 of 3" in first.stdout and "hint 3 of 3" not in first.stdout
    assert "hint   (2 of 3)" in run_pytest(checkout).stdout
    kata(checkout, "hint")
    last = kata(checkout, "hint")
    assert "hint 3 of 3" in last.stdout and "That was the last hint" in last.stdout
    assert "hint   (3 of 3)" in run_pytest(checkout).stdout


def test_a_stub_left_untouched_stays_not_started(checkout):
    # A syntax error in weighted_sum stops the whole module importing; neuron
    # and dense_forward are still the shipped stubs, so they are "not started", not "error".
    replace(checkout, "neuron", STUB_1_1, "    return (")
    result = run_pytest(checkout, "--all", "--track", "1")
    assert result.returncode == 1
    states = {kid: e["state"] for kid, e in progress(checkout)["katas"].items()}
    assert states == {
        "neuron.weighted_sum": "error",
        "neuron.neuron": "not started",
        "neuron.dense_forward": "not started",
    }


def test_progress_survives_unknown_ids_and_a_damaged_entry(checkout):
    (checkout / ".katas").mkdir()
    (checkout / ".katas" / "progress.json").write_text(
        json.dumps(
            {
                "format": 1,
                "current": "gone.kata",
                "katas": {"gone.kata": {"state": "passed"}, "neuron.neuron": "garbage"},
            }
        )
    )
    status = kata(checkout, "status")
    assert status.returncode == 0 and f"0/{SHORT_TOTAL + 1} katas done" in status.stdout
    assert f"kata {N['neuron.weighted_sum']}" in status.stdout
    run_pytest(checkout)
    assert progress(checkout)["katas"]["gone.kata"] == {"state": "passed"}  # kept, in case it comes back


# ------------------------------------------------------------------ the verbs


def test_status_and_list_show_the_next_kata(after_stubs_run):
    checkout = after_stubs_run
    status = kata(checkout, "status")
    assert status.returncode == 0
    assert f"next  kata {N['neuron.weighted_sum']}  The weighted sum   not started" in status.stdout
    assert "edit katas/neuron.py, weighted_sum" in status.stdout
    listing = kata(checkout, "list")
    assert listing.returncode == 0
    assert (
        f"→ {N['neuron.weighted_sum']}" in listing.stdout
        and "neuron.dense_forward" in listing.stdout
        and SHORT_EXTRA in listing.stdout
    )
    only = kata(checkout, "list", "--track", "extra")
    assert SHORT_EXTRA in only.stdout and "neuron.weighted_sum" not in only.stdout


def test_hints_are_printed_as_written(checkout):
    assert "Multiply x[0] by two? No: all of x." in kata(checkout, "hint", SHORT_EXTRA).stdout  # no markup eaten


def test_no_verb_means_status_and_a_bad_kata_is_a_clear_error(checkout):
    assert "katas done" in kata(checkout).stdout
    bad = kata(checkout, "hint", "no.such_kata")
    assert bad.returncode == 2 and "no kata 'no.such_kata'" in bad.stdout


def test_track_runs_alone_with_earlier_katas_counted_done(checkout):
    stub = kata(checkout, "track", "extra")
    assert stub.returncode == 1
    assert f"{SHORT_TOTAL}/{SHORT_TOTAL + 1} katas done" in stub.stdout
    assert f"kata {SHORT_EXTRA}  Double it   not started" in stub.stdout
    assert f"kata {N['neuron.weighted_sum']}" not in stub.stdout
    replace(checkout, "extra", STUB_EXTRA, "    return x + x")
    done = run_pytest(checkout, "--track", "extra")
    assert done.returncode == 0
    assert f"{SHORT_TOTAL + 1}/{SHORT_TOTAL + 1} katas done" in done.stdout
    assert f"✓ kata {SHORT_EXTRA} Double it passes now." in done.stdout


def test_workshop_mode_prompts_a_swap_and_shows_artifacts(checkout):
    assert "workshop mode is on" in kata(checkout, "workshop", "on", "--name", "Ana & Ben").stdout
    replace(checkout, "extra", STUB_EXTRA, "    return x * 2")
    first = run_pytest(checkout, "--track", "extra")
    assert f"✓ kata {SHORT_EXTRA} Double it passes now." in first.stdout
    assert "artifact: .katas/plots/double.txt" in first.stdout
    assert "swap roles" in first.stdout
    again = run_pytest(checkout, "--track", "extra")
    assert "swap roles" not in again.stdout  # only when a kata passes for the first time
    kata(checkout, "workshop", "off")
    assert json.loads((checkout / ".katas" / "workshop.json").read_text())["pair_prompts"] is False


def test_the_all_table_lists_artifacts_under_their_kata(checkout):
    replace(checkout, "extra", STUB_EXTRA, "    return x + x")
    table = run_pytest(checkout, "--all", "--track", "extra").stdout
    assert table.count("artifact: .katas/plots/double.txt") == 1
    assert f"✓ kata {SHORT_EXTRA} Double it passes now." in table


def test_reset_restores_one_stub_keeps_the_rest_and_backs_up(checkout):
    replace(checkout, "neuron", STUB_1_1, "    return float(np.dot(inputs, weights))  # mine")
    replace(
        checkout,
        "neuron",
        '    # TODO: kata neuron.neuron\n    raise NotImplementedError("kata neuron.neuron")',
        "    return weighted_sum(inputs, weights) + bias  # mine too",
    )
    before = (checkout / "katas" / "neuron.py").read_text()
    result = kata(checkout, "reset", "1.2")
    assert result.returncode == 0, result.stdout + result.stderr
    after = (checkout / "katas" / "neuron.py").read_text()
    assert "# mine\n" in after and "# mine too" not in after
    assert 'raise NotImplementedError("kata neuron.neuron")' in after
    backups = list((checkout / ".katas" / "backups").glob("neuron-*.py"))
    assert len(backups) == 1 and backups[0].read_text() == before
    assert "nothing to do" in kata(checkout, "reset", "1.2").stdout  # a second reset changes nothing


def test_reset_repairs_a_kata_with_a_syntax_error(checkout):
    replace(checkout, "neuron", STUB_1_1, "    return (inputs *")
    result = kata(checkout, "reset", "1.1")
    assert result.returncode == 0, result.stdout
    assert STUB_1_1 in (checkout / "katas" / "neuron.py").read_text()
    assert "return (inputs *" in next((checkout / ".katas" / "backups").glob("neuron-*.py")).read_text()


def test_reset_finds_the_stub_even_after_the_learner_committed_work(checkout):
    replace(checkout, "neuron", STUB_1_1, "    return 42.0")
    _git(checkout, "commit", "-qam", "my work")
    assert kata(checkout, "reset", "neuron.weighted_sum").returncode == 0
    assert STUB_1_1 in (checkout / "katas" / "neuron.py").read_text()


def test_reset_without_git_uses_the_copy_kept_by_the_first_run(checkout):
    pristine = (checkout / "katas" / "neuron.py").read_text()
    shutil.rmtree(checkout / ".git")
    replace(checkout, "neuron", STUB_1_1, "    return 42.0")
    missing = kata(checkout, "reset", "1.1")
    assert missing.returncode == 2 and "no pristine copy" in missing.stdout
    (checkout / "katas" / "neuron.py").write_text(pristine)
    run_pytest(checkout)  # a run on untouched stubs keeps a copy in .katas/pristine/
    assert (checkout / ".katas" / "pristine" / "neuron.py").read_text() == pristine
    replace(checkout, "neuron", STUB_1_1, "    return 42.0")
    run_pytest(checkout)  # edited: the copy is not replaced
    assert kata(checkout, "reset", "1.1").returncode == 0
    assert (checkout / "katas" / "neuron.py").read_text() == pristine


def test_solution_is_shown_once_the_kata_passes_or_with_force(checkout):
    refused = kata(checkout, "solution", SHORT_EXTRA)
    assert refused.returncode == 1 and "does not pass yet" in refused.stdout and "return 2 * x" not in refused.stdout
    forced = kata(checkout, "solution", SHORT_EXTRA, "--force")
    assert forced.returncode == 0 and "return 2 * x" in forced.stdout
    replace(checkout, "extra", STUB_EXTRA, "    return x + x")
    run_pytest(checkout, "--track", "extra")
    shown = kata(checkout, "solution", SHORT_EXTRA)
    assert shown.returncode == 0 and "return 2 * x" in shown.stdout


def test_catch_up_fills_the_earlier_katas_and_keeps_a_backup(checkout):
    replace(checkout, "neuron", STUB_1_1, "    return 0.0  # my broken try")
    before = (checkout / "katas" / "neuron.py").read_text()
    result = kata(checkout, "catch-up", "1.3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"filled in kata {N['neuron.weighted_sum']}" in result.stdout
        and f"filled in kata {N['neuron.neuron']}" in result.stdout
    )
    text = (checkout / "katas" / "neuron.py").read_text()
    assert 'raise NotImplementedError("kata neuron.dense_forward")' in text
    assert "my broken try" not in text and 'NotImplementedError("kata neuron.weighted_sum' not in text
    backup = next((checkout / ".katas" / "backups").glob("neuron-*.py"))
    assert backup.read_text() == before
    after = run_pytest(checkout)
    assert after.returncode == 1 and f"kata {N['neuron.dense_forward']}  A Dense layer   not started" in after.stdout


def test_catch_up_to_a_track_keeps_katas_already_passed(checkout):
    replace(checkout, "neuron", STUB_1_1, "    return float(np.dot(inputs, weights))  # mine")
    (checkout / ".katas").mkdir()
    (checkout / ".katas" / "progress.json").write_text(
        json.dumps({"katas": {"neuron.weighted_sum": {"state": "passed"}}})
    )
    result = kata(checkout, "catch-up", "extra")
    assert result.returncode == 0
    assert (
        f"filled in kata {N['neuron.weighted_sum']}" not in result.stdout
        and f"filled in kata {N['neuron.dense_forward']}" in result.stdout
    )
    assert "# mine" in (checkout / "katas" / "neuron.py").read_text()


def test_export_and_the_room_board(after_stubs_run, tmp_path):
    checkout = after_stubs_run
    out = tmp_path / "exports"
    assert kata(checkout, "progress", "--export", "--name", "Ana & Ben", "--out", str(out)).returncode == 0
    kata(checkout, "workshop", "--name", "Chen & Dee")
    assert kata(checkout, "progress", "--export", "--out", str(out)).returncode == 0  # name from `workshop --name`
    summary = json.loads((out / "progress-ana---ben.json").read_text())
    assert summary["name"] == "Ana & Ben" and summary["total"] == SHORT_TOTAL + 1
    assert summary["next"]["id"] == "neuron.weighted_sum"
    assert "| 1 Neurons | 0/3 |" in (out / "progress-ana---ben.md").read_text()
    png = tmp_path / "board.png"
    board = kata(checkout, "board", *map(str, sorted(out.glob("*.json"))), "--png", str(png))
    assert board.returncode == 0, board.stdout + board.stderr
    assert "Ana & Ben" in board.stdout and "Chen & Dee" in board.stdout and "1.1 The weighted sum" in board.stdout
    assert png.read_bytes().startswith(b"\x89PNG")
    bad = kata(checkout, "board", str(out / "progress-ana---ben.md"))
    assert bad.returncode == 2 and "not a progress export" in bad.stdout


def test_export_needs_a_name(checkout):
    result = kata(checkout, "progress", "--export")
    assert result.returncode == 2 and "--name" in result.stdout


def test_bench_says_clearly_when_the_benchmark_tool_is_broken(checkout):
    (checkout / "dojo" / "bench" / "__init__.py").write_text("raise ImportError('a broken install')\n")
    result = kata(checkout, "bench")
    assert result.returncode == 2 and "dojo.bench" in result.stdout and "a broken install" in result.stdout


def test_bench_hands_its_arguments_to_dojo_bench(checkout):
    # A stand-in benchmark tool: the real one times everything, which is not what this test is about.
    (checkout / "dojo" / "bench" / "__init__.py").write_text(
        "def main(args):\n    print('bench got', args)\n    return 0\n"
    )
    result = kata(checkout, "bench", "--op", "conv2d")
    assert result.returncode == 0 and "bench got ['--op', 'conv2d']" in result.stdout


def test_watch_reruns_the_kata_when_a_file_is_saved(checkout, tmp_path):
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dojo",
                "watch",
                "--poll",
                "--once",
                "--interval",
                "0.2",
                "--timeout",
                "600",
                "--",
                "--track",
                "extra",
            ],
            cwd=checkout,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**_env(checkout), "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + 600
            while "watching katas/ (polling)" not in log.read_text():
                assert watcher.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "watch never started waiting:\n" + log.read_text()
                time.sleep(0.1)
            replace(checkout, "extra", STUB_EXTRA, "    return 0")
            code = watcher.wait(timeout=600)
        finally:
            if watcher.poll() is None:
                watcher.kill()
    text = log.read_text()
    assert code == 1
    assert text.count("Neural Katas") >= 2
    assert f"kata {SHORT_EXTRA}  Double it   not started" in text
    assert "changed: extra.py" in text
    assert f"kata {SHORT_EXTRA}  Double it   failing" in text


def test_watch_stops_after_its_timeout_without_a_change(checkout):
    result = kata(checkout, "watch", "--poll", "--once", "--interval", "0.1", "--timeout", "0.5")
    assert result.returncode == 2 and "no change within 0.5 s" in result.stdout


def test_the_console_script_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'kata = "dojo.tools.cli:main"' in text


def test_gpu_picture_draws_which_thread_touched_which_element(checkout):
    from PIL import Image

    result = kata(checkout, "gpu-picture", "gpu.add_bias", "--impl", "solutions")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "picture: .katas/gpu/gpu.add_bias.png" in result.stdout
    with Image.open(checkout / ".katas" / "gpu" / "gpu.add_bias.png") as image:
        assert image.format == "PNG" and image.width > 200 and image.height > 200
    refused = kata(checkout, "gpu-picture", "1.1")
    assert refused.returncode != 0 and "is not a GPU kernel kata" in refused.stdout + refused.stderr
