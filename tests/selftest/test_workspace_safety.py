"""The workspace and the progress file are safe under anything (issue 12, item 3): each case as a learner meets it.

Every test runs `kata` / `pytest` in a fresh copy of the repository (the fixtures of
test_cli.py) and asserts the exact line the learner sees, within the subprocess
timeout of test_cli's helpers. No case may end in a traceback.
"""
# ruff: noqa: F811 - `repo` and `template` are test_cli's fixtures, named as arguments

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import (  # noqa: F401 - template and repo are fixtures
    EXTRA,
    STUB_1_1,
    STUB_EXTRA,
    N,
    _env,
    kata,
    progress,
    replace,
    repo,
    run_pytest,
    template,
)

pytestmark = pytest.mark.slow  # left out of the quick tier: `kata` and `pytest` processes on copies of the checkout

STUB_1_2 = '    # TODO: kata neuron.neuron\n    raise NotImplementedError("kata neuron.neuron")'
STUB_1_3 = '    # TODO: kata neuron.dense_forward\n    raise NotImplementedError("kata neuron.dense_forward")'
NOT_UTF8 = (
    "is not UTF-8 text (byte 0xe9 on line {line}): save it as UTF-8 in your editor (Python reads source "
    "files as UTF-8), then try again"
)


def _append_latin1(path: Path) -> int:
    """A comment with a Latin-1 "é", as an old editor saves it; returns its line."""
    data = path.read_bytes()
    path.write_bytes(data + b"# caf\xe9\n")
    return data.count(b"\n") + 1


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# ----------------------------------------------------------------- not UTF-8


def test_a_file_that_is_not_utf8_is_one_line_in_reset_catch_up_and_solution(repo):
    neuron = repo / "katas" / "neuron.py"
    line = _append_latin1(neuron)
    before = neuron.read_bytes()
    reset = kata(repo, "reset", "1.1")
    assert (reset.returncode, reset.stdout) == (2, f"kata: katas/neuron.py {NOT_UTF8.format(line=line)}\n")
    catch_up = kata(repo, "catch-up", "1.3")
    assert (catch_up.returncode, catch_up.stdout) == (
        2,
        (
            f"kata: katas/neuron.py {NOT_UTF8.format(line=line)} "
            f"(catch-up checks every file before writing any: nothing "
            f"was changed)\n"
        ),
    )
    assert neuron.read_bytes() == before and not (repo / ".katas" / "backups").exists()
    answer_line = _append_latin1(repo / "solutions" / "extra.py")
    solution = kata(repo, "solution", EXTRA, "--force")
    assert (solution.returncode, solution.stdout) == (
        2,
        (f"kata: solutions/extra.py {NOT_UTF8.format(line=answer_line)}\n"),
    )
    for result in (reset, catch_up, solution):
        _no_traceback(result)


def test_a_file_that_is_not_utf8_is_one_line_on_every_run(repo):
    line = _append_latin1(repo / "katas" / "neuron.py")
    for _ in range(2):
        result = run_pytest(repo, "--kata", "neuron.weighted_sum")
        _no_traceback(result)
        assert result.returncode == 1
        assert (
            f"katas/neuron.py, line {line}: this file is not UTF-8 text (byte 0xe9): save it as UTF-8"
            in " ".join(result.stdout.split())  # the card wraps to 80 columns
        ), result.stdout


# ------------------------------------------------------------ progress.json


def test_a_damaged_progress_file_is_kept_aside_and_said_once_by_the_next_verb_and_run(repo):
    (repo / ".katas").mkdir()
    (repo / ".katas" / "progress.json").write_text("{ half a file")
    status = kata(repo, "status")
    _no_traceback(status)
    aside = sorted((repo / ".katas").glob("progress.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{ half a file"
    assert status.returncode == 0 and status.stdout.splitlines()[0] == (
        "kata: .katas/progress.json was damaged: it is not valid JSON (Expecting property name enclosed in double "
        f"quotes, line 1 column 3); the original is kept as .katas/{aside[0].name}; starting from no progress"
    )
    assert "was damaged" not in kata(repo, "status").stdout  # said once
    (repo / ".katas" / "progress.json").write_text(
        json.dumps({"katas": {"extra.double": {"state": "passed", "streak": "two"}}})
    )
    time.sleep(1.1)  # a new stamp
    run = run_pytest(repo, "--track", "extra")
    _no_traceback(run)
    assert re.search(
        r"^kata: \.katas/progress\.json was damaged: extra\.double: streak 'two' is not a count; the "
        r"original is kept as \.katas/progress\.json\.corrupt-[0-9-]+; kept the 1 kata that reads fine$",
        run.stderr,
        re.MULTILINE,
    ), run.stderr
    assert len(list((repo / ".katas").glob("progress.json.corrupt-*"))) == 2


def test_a_hint_taken_during_a_running_pytest_survives_the_runs_save(repo):
    started, hinted = repo / "kata-started", repo / "hint-taken"
    # The kata holds the run until the hint is taken: events both ways, whatever the machine's speed.
    replace(
        repo,
        "extra",
        STUB_EXTRA,
        f"    import pathlib, time\n    pathlib.Path({str(started)!r}).touch()\n"
        f"    deadline = time.monotonic() + 600\n"
        f"    while not pathlib.Path({str(hinted)!r}).exists() and time.monotonic() < deadline:\n"
        f"        time.sleep(0.05)\n    return 0",
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--track", "extra", "--kata-timeout", "600"],
        cwd=repo,
        env={**_env(repo), "KATAS_NO_SANDBOX": "1"},  # the kata touches a file outside its sandbox: "started"
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not started.exists():
            assert run.poll() is None and time.monotonic() < deadline, "the kata never started"
            time.sleep(0.05)
        hint = kata(repo, "hint", "extra.double")
        hinted.touch()
        assert hint.returncode == 0 and "hint 2 of 3" in hint.stdout
        assert run.wait(timeout=600) == 1
    finally:
        if run.poll() is None:
            run.kill()
    entry = progress(repo)["katas"]["extra.double"]
    assert (entry["hints_seen"], entry["state"], entry["runs"]) == (2, "failing", 1)


def test_a_hint_on_a_read_only_katas_folder_is_one_line(repo, monkeypatch, capsys):
    from dojo.tools import cli

    real = os.open

    def read_only(path, flags, *args, **kwargs):  # root ignores chmod, so the folder is read-only this way
        if ".katas" in str(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.chdir(repo)
    monkeypatch.setattr(os, "open", read_only)
    assert cli.main(["hint"]) == 2
    assert capsys.readouterr().out == (
        "kata: the hint is not saved: cannot save your progress: .katas/ cannot be "
        "written (Permission denied); make .katas/ writable (or work in a copy you "
        "own) and try again\n"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_hint_on_a_read_only_katas_folder_is_one_line_for_real(repo):
    (repo / ".katas").mkdir()
    (repo / ".katas").chmod(0o555)
    try:
        result = kata(repo, "hint")
    finally:
        (repo / ".katas").chmod(0o755)
    assert result.returncode == 2 and result.stdout.startswith(
        "kata: the hint is not saved: cannot save your progress: .katas/ cannot be written"
    )


# ------------------------------------------------------------ reset, catch-up


def test_reset_refuses_a_file_that_defines_the_function_twice(repo):
    neuron = repo / "katas" / "neuron.py"
    replace(repo, "neuron", STUB_1_1, "    return 42.0")
    neuron.write_text(neuron.read_text() + "\n\ndef weighted_sum(inputs, weights):\n    return 1.0\n")
    first, second = [
        i for i, line in enumerate(neuron.read_text().splitlines(), 1) if line.startswith("def weighted_sum(")
    ]
    before = neuron.read_bytes()
    result = kata(repo, "reset", "1.1")
    assert (result.returncode, result.stdout) == (
        2,
        (
            f"kata: katas/neuron.py defines weighted_sum 2 times (lines {first} and {second}); Python uses the last "
            f"one. Delete the copies you do not want, then try again (nothing was changed)\n"
        ),
    )
    assert neuron.read_bytes() == before and not (repo / ".katas" / "backups").exists()


def test_reset_says_truthfully_when_the_file_still_does_not_compile_elsewhere(repo):
    neuron = repo / "katas" / "neuron.py"
    replace(repo, "neuron", STUB_1_1, "    return 42.0")
    replace(repo, "neuron", STUB_1_2, "    return (inputs *")
    result = kata(repo, "reset", "1.1")
    broken = _line_of(neuron, "return (inputs *")  # where it is now, after the stub came back
    _no_traceback(result)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"kata {N['neuron.weighted_sum']} The weighted sum: weighted_sum in katas/neuron.py is back to its stub, but "
        f"katas/neuron.py still does not compile: line {broken} (in neuron): '(' was never closed; fix that line (or "
        f"`kata reset` the kata it is in) before running pytest"
    )
    assert "is the original stub again" not in result.stdout
    assert result.stdout.splitlines()[2] == f"  changed in {repo}: katas/neuron.py"
    assert STUB_1_1 in neuron.read_text() and "return (inputs *" in neuron.read_text()


def test_reset_prints_the_folder_it_changed(repo):
    replace(repo, "neuron", STUB_1_1, "    return 42.0")
    result = kata(repo, "reset", "1.1")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"kata {N['neuron.weighted_sum']} The weighted sum: weighted_sum in katas/neuron.py is the original stub again."
    )
    assert lines[2] == f"  changed in {repo}: katas/neuron.py"


def test_catch_up_checks_every_file_before_writing_any(repo):
    neuron, activations = repo / "katas" / "neuron.py", repo / "katas" / "activations.py"
    replace(repo, "neuron", STUB_1_1, "    return 0.0  # my try")
    first = next(k for k in _katas() if k.module == "activations")
    text = activations.read_text()
    stub = f'raise NotImplementedError("kata {first.id}")'
    activations.write_text(text.replace(stub, "return (x *", 1))
    broken = _line_of(activations, "return (x *")
    before = {path: path.read_bytes() for path in (neuron, activations)}
    result = kata(repo, "catch-up", "losses")
    _no_traceback(result)
    assert (result.returncode, result.stdout) == (
        2,
        (
            f"kata: katas/activations.py has a syntax error at line {broken} (in {first.target}): fix it, or `kata "
            f"reset` the kata it is in, then catch up (catch-up checks every file before writing any: nothing was "
            f"changed)\n"
        ),
    )
    assert {path: path.read_bytes() for path in before} == before  # neuron.py, the earlier file, untouched too
    assert not (repo / ".katas" / "backups").exists()


def test_catch_up_prints_the_folder_it_changed(repo):
    result = kata(repo, "catch-up", "1.3")
    assert result.returncode == 0
    assert f"  changed in {repo}: katas/neuron.py" in result.stdout.splitlines()


def test_a_verb_run_outside_any_checkout_refuses_and_changes_nothing(repo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    replace(repo, "neuron", STUB_1_1, "    return 42.0")
    before = (repo / "katas" / "neuron.py").read_bytes()
    for verb in (["reset", "1.1"], ["catch-up", "1.3"], ["hint"]):  # dojo importable from repo, as if installed
        result = subprocess.run(
            [sys.executable, "-m", "dojo", *verb],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            env=_env(repo),
            timeout=300,
            check=False,
        )
        assert (result.returncode, result.stdout) == (
            2,
            (
                f"kata: not inside a Neural Katas folder (no curriculum/ and katas/ in {elsewhere} or above): "
                f"cd into your copy first\n"
            ),
        )
    assert (repo / "katas" / "neuron.py").read_bytes() == before and not (repo / ".katas").exists()


def test_concurrent_resets_back_up_exactly_the_file_each_one_replaced(repo):
    for stub, mine in ((STUB_1_1, "    return 1.0"), (STUB_1_2, "    return 2.0"), (STUB_1_3, "    return 3.0")):
        replace(repo, "neuron", stub, mine)
    edited = (repo / "katas" / "neuron.py").read_bytes()
    resets = [
        subprocess.Popen(
            [sys.executable, "-m", "dojo", "reset", key],
            cwd=repo,
            env=_env(repo),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for key in ("1.1", "1.2", "1.3")
    ]
    assert [r.wait(timeout=300) for r in resets] == [0, 0, 0]
    copies = sorted(
        (p.read_bytes() for p in (repo / ".katas" / "backups").glob("neuron-*.py")),
        key=lambda data: data.count(b"NotImplementedError"),
    )
    assert [c.count(b"NotImplementedError") - edited.count(b"NotImplementedError") for c in copies] == [0, 1, 2]
    assert copies[0] == edited  # each backup is the file as the reset before it left it
    final = (repo / "katas" / "neuron.py").read_text()
    assert all(stub in final for stub in (STUB_1_1, STUB_1_2, STUB_1_3))


# ------------------------------------------------------------ board, export, errors


def _export(repo: Path, folder: Path, name: str) -> Path:
    result = kata(repo, "progress", "--export", "--name", name, "--out", str(folder))
    assert result.returncode == 0, result.stdout
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return folder / f"progress-{slug}.json"


def test_the_board_rejects_an_unknown_shape_and_shows_every_track_of_every_export(repo, tmp_path):
    ana = _export(repo, tmp_path, "Ana")
    newer = json.loads(ana.read_text())
    newer.update(
        name="Ben",
        tracks=newer["tracks"][1:] + [{"number": 99, "name": "Bonus", "module": "bonus", "total": 2, "done": 1}],
    )
    ben = tmp_path / "progress-ben.json"
    ben.write_text(json.dumps(newer))
    board = kata(repo, "board", str(ana), str(ben), "--no-png")
    _no_traceback(board)
    assert board.returncode == 0
    assert "1 Neurons" in board.stdout and "99 Bonus" in board.stdout  # the tracks of both exports
    row = next(line for line in board.stdout.splitlines() if "Ben" in line)
    assert "-" in row.split("│")[3] and "1/2" in row  # Ben's export has no Neurons track, but a Bonus one
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"name": "Odd", "done": 1, "total": 2, "tracks": [{"name": "a"}]}))
    rejected = kata(repo, "board", str(ana), str(odd), "--no-png")
    assert (rejected.returncode, rejected.stdout) == (
        2,
        (
            f"kata: {odd}: not a progress export of a known shape (track 'a' has no counts done/total); make one with "
            f"`kata progress --export`\n"
        ),
    )


def test_an_export_to_a_bad_path_is_one_line(repo):
    result = kata(repo, "progress", "--export", "--name", "Ana", "--out", "README.md")
    assert (result.returncode, result.stdout) == (
        2,
        (f"kata: cannot write the export to {repo}/README.md: File exists; give --out a folder you can write to\n"),
    )


def test_an_unexpected_error_is_one_line_and_kata_debug_shows_the_traceback(repo, monkeypatch, capsys):
    from dojo.tools import cli

    def broken(ctx, args):
        raise RuntimeError("boom")

    monkeypatch.chdir(repo)
    monkeypatch.setattr(cli, "cmd_list", broken)
    monkeypatch.delenv("KATA_DEBUG", raising=False)
    assert cli.main(["list"]) == 3
    out, err = capsys.readouterr()
    line = _line_of(Path(__file__), 'raise RuntimeError("boom")')
    assert out == (
        f"kata: `kata list` stopped on an unexpected error: RuntimeError: boom (at "
        f"test_workspace_safety.py, line {line}); please report it (the command and this line) to your "
        f"facilitator or the Neural Katas maintainers. KATA_DEBUG=1 shows the traceback.\n"
    )
    assert err == ""
    monkeypatch.setenv("KATA_DEBUG", "1")
    assert cli.main(["list"]) == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def _katas():
    from test_cli import COURSE

    return COURSE.katas
