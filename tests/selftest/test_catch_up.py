"""`kata catch-up N` lands where it says, for every track N, and fast.

The answer key it writes is recorded as passed with each kata's digest (CI
runs the answer key against every kata, so that is known, not assumed): the
next plain `pytest` does not rerun those katas and stops at N.1 "not started".
What it writes runs as written: an answer-key class comes with the answer
key's definitions it relies on (dojo/course/answer_key.py).

The structural test walks every track boundary in one copy of the course, in
process (seconds); the slow one runs the real `pytest` after catching up to
the last track, then `--recheck` on one track's filled-in katas (see its
docstring for why one track is enough).
"""

# ruff: noqa: F811 - `repo` and `template` are test_cli's fixtures, named as arguments
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from test_cli import COURSE, N, _env, repo, template  # noqa: F401 - template and repo are fixtures

from dojo.course import answer_key, definitions
from dojo.course.curriculum import load
from dojo.course.progress import Progress
from dojo.harness.reuse import PassReuse
from dojo.tools.workspace import WorkspaceError, catch_up, solution_text

REAL_TRACKS = COURSE.tracks  # the copy appends a tiny "Extra" track after these


def _plugin_digests(root) -> PassReuse:
    """What the plugin computes on a plain run to compare with the recorded digests (dojo/harness/reuse.py):
    one per run, so each kata file is parsed once however many katas it holds."""
    return PassReuse(root, root / "katas", recording=False)


@pytest.mark.slow
def test_every_track_boundary_is_reached_with_every_earlier_kata_recorded_as_passed(repo):
    curriculum = load(repo / "curriculum")
    for track in REAL_TRACKS[1:]:
        first = curriculum.in_track(track)[0]
        catch_up(repo, curriculum, first)
        progress = Progress.load(repo)
        run = _plugin_digests(repo)  # as a plain run right after this catch-up
        for kata in curriculum.katas[: first.position]:
            entry = progress.entry(kata.id)
            assert entry.get("state") == "passed", f"catch-up {track.number}: {kata.number} is {entry}"
            assert entry.get("digest") == run.digest(kata), (
                f"catch-up {track.number}: {kata.number}'s recorded digest is not what a run computes: it would rerun"
            )
        assert progress.state(first.id) == "not started"
        text = (repo / "katas" / first.path).read_text()
        assert definitions.is_stub(definitions.definition(text, first.target)), f"{first.number} was filled in"
        for path in sorted((repo / "katas").glob("*.py")):
            assert definitions.compile_error(path.read_text(), path.name) is None, path


def test_an_answer_key_class_brings_the_changed_base_member_it_relies_on(repo):
    """The answer key's SimpleRNN relying on a `_Recurrent.build` the kata file's `_Recurrent` lacks:
    catch-up writes the answer key's `_Recurrent` too (the learner's was as shipped), and `kata solution`
    shows it."""
    curriculum = load(repo / "curriculum")
    key = repo / "solutions" / "rnn.py"
    text = key.read_text()
    # The answer key as it was before this was found: the build shared in the base class.
    base = definitions.definition(text, "_Recurrent")
    text = definitions.replace_definition(
        text,
        "_Recurrent",
        base.rstrip("\n")
        + "\n\n    def build(self, input_shape, rng):\n        self.weights = _recurrent_weights("
        + "input_shape, self.units, 1, np.zeros(self.units), rng)\n        self.built = True\n",
    )
    simple = definitions.definition(text, "SimpleRNN")
    start = simple.index("    def build")
    end = simple.index("    def forward")
    text = definitions.replace_definition(text, "SimpleRNN", simple[:start] + simple[end:])
    key.write_text(text)
    simple_rnn = curriculum.by_id["rnn.SimpleRNN"]
    needed = answer_key.support((repo / "katas" / "rnn.py").read_text(), text, "SimpleRNN", {"SimpleRNN"})
    assert "_Recurrent" in needed.differing and "_recurrent_weights" in needed.missing
    assert "class _Recurrent" in solution_text(repo, simple_rnn, curriculum)
    catch_up(repo, curriculum, curriculum.by_id["rnn.LSTM"])
    written = (repo / "katas" / "rnn.py").read_text()
    assert "def build" in definitions.definition(written, "_Recurrent")
    assert "def _recurrent_weights" in written


def test_a_base_the_learner_changed_is_refused_clearly_with_nothing_written(repo):
    curriculum = load(repo / "curriculum")
    key = repo / "solutions" / "rnn.py"
    key.write_text(key.read_text().replace("self.return_sequences = bool(return_sequences)", "self.seq = 1"))
    mine = repo / "katas" / "rnn.py"
    mine.write_text(mine.read_text().replace("self.units = int(units)", "self.units = units  # mine"))
    before = {path: path.read_bytes() for path in (repo / "katas").glob("*.py")}
    with pytest.raises(WorkspaceError, match=r"relies on its own _Recurrent, and katas/rnn.py has a _Recurrent you"):
        catch_up(repo, curriculum, curriculum.by_id["rnn.LSTM"])
    assert {path: path.read_bytes() for path in (repo / "katas").glob("*.py")} == before


def _pytest(repo, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/katas", "-p", "no:xdist", *args],
        cwd=repo,
        env=_env(repo),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


#: The track whose filled-in katas `--recheck` runs again: the one whose answer key brings the most along
#: into the learner's file (helper functions shared by several katas, and the `_Recurrent` base class whose
#: member the answer key's layers rely on: the case that once broke).
RECHECKED = "rnn"


@pytest.mark.slow
def test_after_catch_up_to_the_last_track_pytest_stops_there_and_recheck_reruns_filled_katas(repo):
    """`kata catch-up` to the last track, then the learner's plain `pytest` stops at its first kata without
    rerunning the katas catch-up filled in; `pytest --recheck` reruns them, they pass, and it stops there too.

    The rerun covers one track's filled-in katas (RECHECKED), not all of them: that a kata passes with the
    answer key's code is what CI's answer-key run (`pytest tests --impl solutions --all`) proves for every
    kata, and catch-up records a kata as passed only when every definition its verdict depends on is the
    answer key's code (dojo/course/answer_key.py; the structural test above checks each recorded digest).
    What only this test proves is that the file catch-up *writes* runs as written through the real `pytest`,
    which the track with the most brought-along definitions shows. (Rerunning all 96 took 504 s of the
    suite, one worker's whole run, to prove again what the answer-key run proves.)
    """
    last = REAL_TRACKS[-1]
    first = COURSE.in_track(last)[0]
    rechecked = COURSE.track(RECHECKED)
    assert rechecked.number < last.number
    done = subprocess.run(
        [sys.executable, "-m", "dojo", "catch-up", str(last.number)],
        cwd=repo,
        env=_env(repo),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    plain = _pytest(repo, timeout=600)
    assert plain.returncode == 1, plain.stdout
    assert f"kata {N[first.id]}  {first.title}" in plain.stdout and "not started" in plain.stdout, plain.stdout
    assert f"{first.position} katas that passed before were not rerun" in plain.stdout, plain.stdout
    # --track narrows the run to the rechecked track and the last one: every rechecked kata must pass again
    # (the run stops at the first kata that does not), and then it stops at the last track's first kata.
    again = _pytest(repo, "--recheck", "--track", RECHECKED, "--track", last.module, timeout=3600)
    assert again.returncode == 1, again.stdout
    assert re.search(r"\b[1-9]\d* passed", again.stdout.strip().splitlines()[-1]), again.stdout  # checks reran
    assert f"kata {N[first.id]}  {first.title}" in again.stdout and "not started" in again.stdout, again.stdout
    assert "not rerun" not in again.stdout
