"""The learner's progress file (dojo.course.progress): streaks, hint levels, upgrades, exports."""

import json

from dojo.course.curriculum import Kata, Track
from dojo.course.progress import RUNS_PER_HINT, Progress

TRACK = Track(1, "Neurons", "neuron")
KATA = Kata(id="neuron.weighted_sum", number="1.1", track=TRACK, module="neuron", name="weighted_sum",
            target="weighted_sum", title="The weighted sum", goal="", hints=("a", "b", "c"))


def test_failing_runs_raise_the_hint_level_and_a_pass_resets_the_streak(tmp_path):
    progress = Progress.load(tmp_path)
    levels = []
    for _ in range(3 * RUNS_PER_HINT):
        progress.record(KATA, "failing", 1, 5, "t")
        levels.append(progress.hint_level(KATA))
    assert levels == [0, 0, 1, 1, 1, 2, 2, 2, 2]  # one step every 3 failing runs, capped at the last hint
    assert progress.record(KATA, "passed", 5, 5, "t2") is True
    assert progress.entry(KATA.id)["streak"] == 0 and progress.entry(KATA.id)["passed_at"] == "t2"
    assert progress.record(KATA, "passed", 5, 5, "t3") is False  # not newly passed the second time


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


def test_a_damaged_file_reads_as_no_progress(tmp_path):
    (tmp_path / ".katas").mkdir()
    (tmp_path / ".katas" / "progress.json").write_text("{ not json")
    assert Progress.load(tmp_path).katas == {}
    (tmp_path / ".katas" / "progress.json").write_text(json.dumps({"katas": {"x.y": 3, KATA.id: {"state": "passed"}}}))
    assert Progress.load(tmp_path).katas == {KATA.id: {"state": "passed"}}
