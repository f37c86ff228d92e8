"""The learner's progress file (dojo.course.progress): streaks, hint levels, upgrades, exports."""

import json

from dojo.course.curriculum import Kata, Track
from dojo.course.progress import RUNS_PER_HINT, Progress

TRACK = Track(1, "Neurons", "neuron")
KATA = Kata(
    id="neuron.weighted_sum",
    number="1.1",
    track=TRACK,
    module="neuron",
    name="weighted_sum",
    target="weighted_sum",
    title="The weighted sum",
    goal="",
    hints=("a", "b", "c"),
)


def test_failing_runs_raise_the_hint_level_and_a_pass_resets_the_streak(tmp_path):
    progress = Progress.load(tmp_path)
    levels = []
    for attempt in range(3 * RUNS_PER_HINT):
        progress.record(KATA, "failing", 1, 5, "t", attempt=f"code {attempt}")
        levels.append(progress.hint_level(KATA))
    assert levels == [0, 0, 1, 1, 1, 2, 2, 2, 2]  # one step every 3 failing runs, capped at the last hint
    assert progress.record(KATA, "passed", 5, 5, "t2") is True
    assert progress.entry(KATA.id)["streak"] == 0 and progress.entry(KATA.id)["passed_at"] == "t2"
    assert progress.record(KATA, "passed", 5, 5, "t3") is False  # not newly passed the second time


def test_reruns_of_the_same_code_are_one_attempt(tmp_path):
    progress = Progress.load(tmp_path)
    for _ in range(6):
        progress.record(KATA, "failing", 1, 5, "t", attempt="the same wrong code")
    assert progress.entry(KATA.id)["streak"] == 1 and progress.hint_level(KATA) == 0
    progress.record(KATA, "error", 0, 5, "t", attempt="other code")
    progress.record(KATA, "failing", 1, 5, "t", attempt="the same wrong code")  # back to it: changed again
    assert progress.entry(KATA.id)["streak"] == 3 and progress.hint_level(KATA) == 1
    assert progress.reveal_hint(KATA) == 2  # `kata hint` still steps on request


def test_not_started_runs_do_not_count_as_failures(tmp_path):
    progress = Progress.load(tmp_path)
    for _ in range(5):
        progress.record(KATA, "not started", 0, 5, "t")
    assert progress.hint_level(KATA) == 0


def test_revealed_hints_are_kept_and_saved(tmp_path):
    progress = Progress.load(tmp_path)
    assert progress.reveal_hint(KATA) == 1
    progress.save()
    again = Progress.load(tmp_path)
    assert again.hint_level(KATA) == 1
    assert again.reveal_hint(KATA) == 2 and again.reveal_hint(KATA) == 2  # no hint past the last


def test_a_damaged_file_reads_as_no_progress(tmp_path):  # and is kept aside (see below)
    (tmp_path / ".katas").mkdir()
    (tmp_path / ".katas" / "progress.json").write_text("{ not json")
    assert Progress.load(tmp_path).katas == {}
    (tmp_path / ".katas" / "progress.json").write_text(json.dumps({"katas": {"x.y": 3, KATA.id: {"state": "passed"}}}))
    assert Progress.load(tmp_path).katas == {KATA.id: {"state": "passed"}}


# --------------------------------------------------- validated, locked, merged


def _write(root, data):
    (root / ".katas").mkdir(exist_ok=True)
    (root / ".katas" / "progress.json").write_text(data if isinstance(data, str) else json.dumps(data))


def test_a_file_that_is_not_json_is_set_aside_with_one_note(tmp_path):
    _write(tmp_path, "{ not json")
    said = []
    progress = Progress.load(tmp_path, say=said.append)
    aside = list((tmp_path / ".katas").glob("progress.json.corrupt-*"))
    assert progress.katas == {} and len(aside) == 1 and aside[0].read_text() == "{ not json"
    assert (
        said
        == progress.notes
        == [
            ".katas/progress.json was damaged: it is not valid JSON (Expecting property name enclosed in double quotes, "
            f"line 1 column 3); the original is kept as .katas/{aside[0].name}; starting from no progress"
        ]
    )
    assert Progress.load(tmp_path, say=said.append).notes == []  # said once: the next load finds no damage


def test_every_field_is_validated_and_the_readable_part_kept(tmp_path):
    _write(
        tmp_path,
        {
            "format": 1,
            "current": 7,
            "katas": {
                KATA.id: {
                    "state": "passed",
                    "streak": "3",
                    "runs": -1,
                    "hints_seen": True,
                    "last_run": 5,
                    "checks": [1],
                },
                "gone.kata": {"state": "failing", "runs": 2},
                "x.y": 3,
                "z.w": {"state": "great"},
            },
        },
    )
    progress = Progress.load(tmp_path, say=None)
    assert progress.katas == {KATA.id: {"state": "passed"}, "gone.kata": {"state": "failing", "runs": 2}, "z.w": {}}
    assert progress.current is None
    assert progress.notes[0].startswith(
        ".katas/progress.json was damaged: current 7 is not text; "
        f"{KATA.id}: streak '3' is not a count; {KATA.id}: runs -1 is not a count; "
        "and 5 more; the original is kept as .katas/progress.json.corrupt-"
    )
    assert progress.notes[0].endswith("; kept the 3 katas that read fine")
    on_disk = json.loads((tmp_path / ".katas" / "progress.json").read_text())
    assert on_disk["katas"] == progress.katas  # the repaired file replaces the damaged one, which is kept aside
    progress.record(KATA, "failing", 1, 5, "t")  # and every reader works on what was kept
    assert progress.hint_level(KATA) == 0


def test_a_file_of_a_newer_format_is_kept_aside_not_overwritten(tmp_path):
    _write(tmp_path, {"format": 99, "katas": {}})
    progress = Progress.load(tmp_path, say=None)
    assert "format 99 is not one this version reads" in progress.notes[0]
    assert json.loads(next((tmp_path / ".katas").glob("progress.json.corrupt-*")).read_text())["format"] == 99


def test_a_save_merges_with_what_another_process_saved_meanwhile(tmp_path):
    run = Progress.load(tmp_path)  # a long pytest run loads at its start...
    hint = Progress.load(tmp_path)  # ...a `kata hint` comes and goes meanwhile
    hint.reveal_hint(KATA)
    hint.save()
    assert run.record(KATA, "failing", 1, 5, "t") is False
    run.current = KATA.id
    run.save()  # the run saves last: the hint must survive
    entry = Progress.load(tmp_path).entry(KATA.id)
    assert entry["hints_seen"] == 2 and entry["runs"] == 1 and entry["state"] == "failing"
    assert run.entry(KATA.id)["hints_seen"] == 2  # and the run itself now sees it (its report shows hint 2)


_HAMMER = """
import sys
from dojo.course.curriculum import Kata, Track
from dojo.course.progress import Progress
kata = Kata(id="neuron.weighted_sum", number="1.1", track=Track(1, "N", "neuron"), module="neuron",
            name="weighted_sum", target="weighted_sum", title="t", goal="", hints=("a", "b", "c"))
for _ in range(25):
    progress = Progress.load(sys.argv[1])
    progress.record(kata, "failing", 0, 5, "t")
    progress.save()
"""


def test_two_processes_saving_at_once_lose_nothing(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    hammers = [subprocess.Popen([sys.executable, "-c", _HAMMER, str(tmp_path)], cwd=root) for _ in range(2)]
    assert [h.wait(timeout=120) for h in hammers] == [0, 0]
    assert Progress.load(tmp_path).entry(KATA.id)["runs"] == 50  # every read-modify-write took the lock


def test_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    import os

    from dojo.course import progress as module

    real = os.open

    def read_only(path, flags, *args, **kwargs):
        if ".katas" in str(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, flags, *args, **kwargs)

    (tmp_path / ".katas").mkdir()
    monkeypatch.setattr(module.os, "open", read_only)
    progress = Progress.load(tmp_path)
    progress.reveal_hint(KATA)
    try:
        progress.save()
    except module.ProgressError as error:
        assert isinstance(error, OSError)  # the plugin's `except OSError` keeps the report
        assert str(error) == (
            "cannot save your progress: .katas/ cannot be written (Permission denied); "
            "make .katas/ writable (or work in a copy you own) and try again"
        )
    else:
        raise AssertionError("a save into a read-only .katas/ did not fail")


def test_a_field_set_directly_on_an_entry_is_saved_and_merged_too(tmp_path):
    run = Progress.load(tmp_path)
    run.record(KATA, "passed", 5, 5, "t")
    run.katas[KATA.id]["digest"] = "abc"  # what the plugin stores beside a pass
    run.katas.setdefault("other.kata", {})["digest"] = "def"
    hint = Progress.load(tmp_path)
    hint.reveal_hint(KATA)
    hint.save()
    run.save()
    entry = Progress.load(tmp_path).entry(KATA.id)
    assert (entry["digest"], entry["hints_seen"], entry["state"]) == ("abc", 2, "passed")
    assert Progress.load(tmp_path).entry("other.kata") == {"digest": "def"}
    again = Progress.load(tmp_path)
    again.katas[KATA.id].pop("digest")
    again.save()
    assert "digest" not in Progress.load(tmp_path).entry(KATA.id)


# ------------------------------------------------------- reruns of passed katas


def test_every_kata_of_the_course_has_a_digest_so_a_pass_need_not_rerun():
    """A kata without a digest is rerun on every plain `pytest`, and so is every kata after it.

    (Found by benchmarks/feedback.py: a `logs.get("monitor", "val_loss")` in the callback tests was
    read as the learner's module `monitor`, so every kata from training.EarlyStopping on reran.)
    """
    from pathlib import Path

    from dojo.course.curriculum import load
    from dojo.course.dependencies import Dependencies, tests_dependencies

    root = Path(__file__).resolve().parents[2]
    tests = root / "tests" / "katas"
    for folder in ("katas", "solutions"):
        dependencies = Dependencies(root / folder, tests)
        missing = [
            kata.id
            for kata in load(root / "curriculum").katas
            if dependencies.digest(kata, *tests_dependencies(tests / f"test_{kata.module}.py", kata.id)) is None
        ]
        assert not missing, f"no digest in {folder}/ for {missing}"


def _old(path, seconds=10):
    """Date a file back, as if it had been written before this run started."""
    import os
    import time

    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_remembered_digest_is_reused_until_one_of_its_files_changes(tmp_path):
    from dojo.course.digest_memo import DigestMemo

    source = tmp_path / "neuron.py"
    source.write_text("def weighted_sum(x, w):\n    return x @ w\n")
    _old(source)
    calls = []

    def compute():
        calls.append(1)
        return f"digest of {source.read_text()!r}", [source]

    memo = DigestMemo(tmp_path / "digests.json")
    first = memo.digest("neuron.weighted_sum", "key", compute)
    memo.save()
    again = DigestMemo(tmp_path / "digests.json").digest("neuron.weighted_sum", "key", compute)
    assert again == first and len(calls) == 1  # read back, not computed
    # Another manifest entry or folder (the key): computed again.
    DigestMemo(tmp_path / "digests.json").digest("neuron.weighted_sum", "other key", compute)
    assert len(calls) == 2
    # The learner edits the file: computed again, and the new digest differs.
    source.write_text("def weighted_sum(x, w):\n    return float(x @ w)\n")
    changed = DigestMemo(tmp_path / "digests.json").digest("neuron.weighted_sum", "key", compute)
    assert changed != first and len(calls) == 3


def test_a_digest_of_files_written_just_now_is_not_remembered(tmp_path):
    """A file may be saved while its digest is computed: only files older than the run are trusted."""
    from dojo.course.digest_memo import DigestMemo

    source = tmp_path / "neuron.py"
    source.write_text("x = 1\n")  # written now
    memo = DigestMemo(tmp_path / "digests.json")
    memo.digest("neuron.weighted_sum", "key", lambda: ("d", [source]))
    memo.save()
    calls = []
    DigestMemo(tmp_path / "digests.json").digest(
        "neuron.weighted_sum", "key", lambda: calls.append(1) or ("d", [source])
    )
    assert calls == [1]


def test_a_damaged_memo_is_ignored(tmp_path):
    from dojo.course.digest_memo import DigestMemo

    (tmp_path / "digests.json").write_text('{"format": 1, "katas": [1, 2')
    assert DigestMemo(tmp_path / "digests.json").entries == {}
